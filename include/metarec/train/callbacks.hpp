#pragma once
/// @file callbacks.hpp
/// @brief Ready-made callbacks for `fit`: a progress display and a JSON-lines log.
///
/// The library itself never prints; these callbacks write only where the caller points them.

#include <metarec/core/detail/json.hpp>
#include <metarec/train/trainer.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <system_error>

#if __has_include(<unistd.h>)
#include <unistd.h>
#define METAREC_HAS_ISATTY 1
#endif

namespace metarec {

namespace detail {
inline std::string clock_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  return buf;
}
}  // namespace detail

/// Progress display. When `out` is a terminal: a bar over all batches of all epochs with the
/// current loss and an ETA, redrawn at most ten times a second, and one summary line per epoch.
/// Otherwise (a pipe, a log file): only the summary line per epoch.
/// @code
/// metarec::fit(model, theta, opt, ds, rows, options, metarec::NoValidation{}, metarec::ProgressBar{});
/// @endcode
class ProgressBar {
 public:
  /// @param out where to write (stderr by default); @param force_bar draw the bar even when `out`
  /// is not a terminal (for tests).
  explicit ProgressBar(std::FILE* out = stderr, int width = 30, bool force_bar = false)
      : out_(out), width_(width), force_bar_(force_bar) {}

  void on_train_begin(const TrainBegin& b) {
    start_ = clock::now();
    last_draw_ = start_ - std::chrono::seconds(1);
    total_ = static_cast<double>(b.batches_per_epoch) * b.epochs;
    bar_ = force_bar_;
#ifdef METAREC_HAS_ISATTY
    if (!bar_) bar_ = ::isatty(::fileno(out_)) != 0;
#endif
  }

  void on_batch_end(const BatchInfo& b) {
    if (!bar_) return;
    const auto now = clock::now();
    const bool last = b.batch + 1 == b.batches;
    if (!last && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const double done = static_cast<double>(b.epoch) * static_cast<double>(b.batches) +
                        static_cast<double>(b.batch + 1);
    const double frac = total_ > 0 ? done / total_ : 1.0;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double eta = frac > 0 ? elapsed / frac * (1.0 - frac) : 0.0;
    const int filled = static_cast<int>(frac * width_);
    std::string bar(static_cast<std::size_t>(width_), ' ');
    for (int k = 0; k < filled && k < width_; ++k) bar[static_cast<std::size_t>(k)] = '=';
    if (filled < width_) bar[static_cast<std::size_t>(filled)] = '>';
    std::fprintf(out_, "\r[%s] %3d%% epoch %d batch %zu/%zu loss %.4f ETA %s ", bar.c_str(),
                 static_cast<int>(frac * 100.0), b.epoch + 1, b.batch + 1, b.batches, b.loss,
                 detail::clock_text(eta).c_str());
    std::fflush(out_);
  }

  void on_epoch_end(const EpochInfo& e) {
    if (bar_) std::fprintf(out_, "\r\033[K");
    std::fprintf(out_, "epoch %d/%d  train_loss %.6f", e.epoch + 1, e.epochs, e.train_loss);
    if (!std::isnan(e.valid_metric))
      std::fprintf(out_, "  valid %.6f  (best %.6f at epoch %d)", e.valid_metric, e.best_metric,
                   e.best_epoch + 1);
    std::fprintf(out_, "  %.2f s\n", e.seconds);
    std::fflush(out_);
  }

 private:
  using clock = std::chrono::steady_clock;
  std::FILE* out_;
  int width_;
  bool force_bar_;
  bool bar_ = false;
  double total_ = 0;
  clock::time_point start_{}, last_draw_{};
};

/// Writes one JSON object per epoch (and one final `"event":"end"` object) to a stream or a file:
/// `{"event":"epoch","epoch":0,"train_loss":0.93,"valid_metric":0.97,"best_metric":0.97,"best_epoch":0,"seconds":1.2}`.
/// NaN (no validation) is written as `null`.
/// @code
/// metarec::JsonLinesLog log("train.jsonl");
/// metarec::fit(model, theta, opt, ds, rows, options, validate, log);
/// @endcode
class JsonLinesLog {
 public:
  /// Logs to a stream the caller keeps alive.
  explicit JsonLinesLog(std::ostream& out) : out_(&out) {}
  /// Logs to a file (truncated).
  /// @throws std::runtime_error naming the path when it cannot be opened.
  explicit JsonLinesLog(const std::filesystem::path& path)
      : file_(std::make_shared<std::ofstream>(path, std::ios::trunc)), out_(file_.get()) {
    if (!*file_)
      throw std::runtime_error("JsonLinesLog: cannot open '" + path.string() + "' for writing");
  }

  void on_epoch_end(const EpochInfo& e) {
    *out_ << "{\"event\":\"epoch\",\"epoch\":" << e.epoch
          << ",\"train_loss\":" << detail::json_number(e.train_loss)
          << ",\"valid_metric\":" << detail::json_number(e.valid_metric)
          << ",\"best_metric\":" << detail::json_number(e.best_metric)
          << ",\"best_epoch\":" << e.best_epoch << ",\"seconds\":" << detail::json_number(e.seconds)
          << "}\n";
    out_->flush();
  }

  void on_train_end(const TrainResult& r) {
    *out_ << "{\"event\":\"end\",\"epochs_run\":" << r.epochs_run << ",\"best_epoch\":" << r.best_epoch
          << ",\"best_metric\":" << detail::json_number(r.best_metric)
          << ",\"stopped_early\":" << (r.stopped_early ? "true" : "false")
          << ",\"restored_best\":" << (r.restored_best ? "true" : "false")
          << ",\"seconds\":" << detail::json_number(r.seconds) << "}\n";
    out_->flush();
  }

 private:
  std::shared_ptr<std::ofstream> file_;
  std::ostream* out_;
};

}  // namespace metarec
