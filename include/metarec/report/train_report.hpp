#pragma once
/// @file train_report.hpp
/// @brief What one training run reports: its metrics on each part of a split (rating errors,
/// classifier metrics or top-N metrics, as named values in a fixed order), its timings and
/// history, and the settings it ran with; and the JSON object the tool prints for it.

#include <metarec/core/detail/json.hpp>
#include <metarec/train/trainer.hpp>

#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace metarec::report {

/// Named metric values in the order they are reported, e.g. {mse, rmse, mae, rows}.
struct MetricValues {
  std::vector<std::pair<std::string, double>> values;

  void add(std::string name, double v) { values.emplace_back(std::move(name), v); }
  /// The value named `name` (NaN when absent).
  [[nodiscard]] double get(const std::string& name) const {
    for (const auto& [k, v] : values)
      if (k == name) return v;
    return std::nan("");
  }
  [[nodiscard]] bool empty() const noexcept { return values.empty(); }
  /// `{"mse":0.81,...}`; a value named "rows" or "users" is written as a whole number.
  [[nodiscard]] std::string json() const {
    std::string s = "{";
    for (std::size_t k = 0; k < values.size(); ++k) {
      const auto& [name, v] = values[k];
      if (k) s += ',';
      s += detail::json_string(name);
      s += ':';
      s += (name == "rows" || name == "users") && std::isfinite(v)
               ? std::to_string(static_cast<long long>(v))
               : detail::json_number(v);
    }
    return s + "}";
  }
};

/// Test error after one epoch (a measurement for benchmarks: it chooses nothing).
struct EpochTestPoint {
  int epoch = 0;
  double train_cpu_seconds = 0;  ///< this thread's CPU s in training up to the end of this epoch
  double test_metric = 0;        ///< test MSE (rating models)
};

/// One training run: metrics per split part ("train", "valid", "test"), timings, history.
struct TrainReport {
  std::string model;
  std::string protocol;
  Eigen::Index parameters = 0;
  int epochs_run = 0;
  int best_epoch = -1;
  double seconds = 0;      ///< training wall time
  double cpu_seconds = 0;  ///< training CPU time of this process (evaluations excluded)
  std::vector<std::pair<std::string, MetricValues>> parts;  ///< in report order
  std::vector<EpochInfo> history;
  std::vector<EpochTestPoint> test_trace;
  double trace_cpu_seconds = 0;

  /// The metrics of a part (empty when absent).
  [[nodiscard]] const MetricValues& part(const std::string& name) const {
    static const MetricValues none;
    for (const auto& [k, v] : parts)
      if (k == name) return v;
    return none;
  }
  /// `{"train":{...},"valid":{...},"test":{...}}`.
  [[nodiscard]] std::string metrics_json() const {
    std::string s = "{";
    for (std::size_t k = 0; k < parts.size(); ++k) {
      if (k) s += ',';
      s += detail::json_string(parts[k].first);
      s += ':';
      s += parts[k].second.json();
    }
    return s + "}";
  }
};

}  // namespace metarec::report
