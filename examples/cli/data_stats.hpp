#pragma once
// `metarec data-stats`: what a MovieLens-format directory holds, as text and (with --json) as one
// JSON object on the last line of stdout. See docs/cli.md.

#include "args.hpp"

#include <metarec/data/dataset.hpp>
#include <metarec/data/movielens.hpp>
#include <metarec/data/split.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace metarec::cli {

namespace stats_detail {

inline constexpr const char* usage =
    "usage: metarec data-stats [--data DIR] [--format F] [--json] [--help]\n"
    "\n"
    "Loads a MovieLens-format directory and prints its size, density, rating histogram, mean\n"
    "rating, time range, per-user and per-item rating counts, side-feature fields, load time and\n"
    "data fingerprint.\n"
    "\n"
    "  --data DIR    data directory (default: $METAREC_DATA, else the shipped data/sample)\n"
    "  --format F    ml100k, ml1m, ml10m or csv (default: detected from the files present)\n"
    "  --json        also print every statistic as one JSON object on the last line of stdout\n"
    "  --help        print this help and exit\n"
    "\n"
    "exit codes: 0 success, 1 data error (path:line:column: message), 2 usage error\n";

/// Shortest round-trip decimal text of a number; "null" when it is not finite (JSON has no NaN).
inline std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  std::array<char, 32> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  return std::string(buf.data(), r.ptr);
}

/// Fixed-point text for the human-readable report.
inline std::string fixed(double v, int digits) {
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), "%.*f", digits, v);
  return buf.data();
}

/// UTC calendar date "YYYY-MM-DD" of a Unix time (proleptic Gregorian; H. Hinnant's
/// civil_from_days, valid for negative times too).
inline std::string iso_date(std::int64_t unix_seconds) {
  std::int64_t days = unix_seconds / 86400;
  if (unix_seconds % 86400 < 0) --days;
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), "%04lld-%02lld-%02lld", static_cast<long long>(y),
                static_cast<long long>(m), static_cast<long long>(d));
  return buf.data();
}

/// Min / median / max of the per-entity row counts of an index (median of an even number of
/// entities: the mean of the two middle counts).
struct CountSummary {
  std::uint32_t min = 0;
  double median = 0.0;
  std::uint32_t max = 0;
};

inline CountSummary summarize_counts(const CompressedIndex& index) {
  std::vector<std::uint32_t> c(index.num_keys());
  for (std::uint32_t e = 0; e < index.num_keys(); ++e) c[e] = index.count(e);
  CountSummary s;
  if (c.empty()) return s;
  std::sort(c.begin(), c.end());
  s.min = c.front();
  s.max = c.back();
  const std::size_t n = c.size();
  s.median = n % 2 == 1 ? c[n / 2] : 0.5 * (static_cast<double>(c[n / 2 - 1]) + c[n / 2]);
  return s;
}

inline std::string_view format_key(MovieLensFormat f) {
  switch (f) {
    case MovieLensFormat::ml100k: return "ml100k";
    case MovieLensFormat::ml1m: return "ml1m";
    case MovieLensFormat::ml10m: return "ml10m";
    case MovieLensFormat::csv: return "csv";
  }
  return "unknown";
}

inline MovieLensFormat parse_format(const std::string& text) {
  for (const auto f : {MovieLensFormat::ml100k, MovieLensFormat::ml1m, MovieLensFormat::ml10m,
                       MovieLensFormat::csv})
    if (text == format_key(f)) return f;
  throw UsageError("flag --format: expected ml100k, ml1m, ml10m or csv, got '" + text + "'");
}

/// The rating histogram: one bin per value of the scale, in increasing value.
struct Histogram {
  std::vector<std::string> value;  ///< shortest decimal text of each scale value ("1", "0.5")
  std::vector<std::size_t> count;
};

inline Histogram rating_histogram(const Dataset& ds) {
  const RatingScale& s = ds.scale();
  const auto bins = static_cast<std::size_t>(std::llround((s.max - s.min) / s.step)) + 1;
  Histogram h;
  h.count.assign(bins, 0);
  for (std::size_t b = 0; b < bins; ++b)
    h.value.push_back(json_number(static_cast<double>(s.min) + static_cast<double>(b) * s.step));
  for (const float v : ds.ratings()) {
    // The loader only accepts values on the scale, so the nearest bin is the value's bin.
    const auto b = std::llround((static_cast<double>(v) - s.min) / s.step);
    h.count[static_cast<std::size_t>(std::clamp<long long>(b, 0, static_cast<long long>(bins) - 1))]++;
  }
  return h;
}

inline void append_fields(std::string& json, const FeatureTable& table) {
  json += '{';
  for (std::size_t k = 0; k < table.fields.size(); ++k) {
    if (k > 0) json += ',';
    json += '"' + json_escape(table.fields[k].name) + "\":" +
            std::to_string(table.fields[k].cardinality());
  }
  json += '}';
}

inline std::string fields_text(const FeatureTable& table) {
  if (table.empty()) return "(none)";
  std::string out;
  for (const auto& f : table.fields)
    out += (out.empty() ? "" : ", ") + f.name + " (" + std::to_string(f.cardinality()) + ")";
  return out;
}

}  // namespace stats_detail

/// `metarec data-stats [--data DIR] [--format F] [--json]`.
inline int run_data_stats(const std::vector<std::string>& argv) {
  using namespace stats_detail;
  const Args args(argv, {"--data", "--format"}, {});
  if (args.has("--help")) {
    std::fputs(usage, stdout);
    return 0;
  }
  const std::string dir = default_data_dir(args);
  LoadOptions options;
  if (const auto f = args.get("--format")) options.format = parse_format(*f);

  const auto t0 = std::chrono::steady_clock::now();
  const MovieLensFormat format = options.format ? *options.format : detect_movielens_format(dir);
  options.format = format;
  const Dataset ds = load_movielens(dir, options);
  const double load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const Histogram hist = rating_histogram(ds);
  const CountSummary per_user = summarize_counts(ds.by_user());
  const CountSummary per_item = summarize_counts(ds.by_item());
  std::optional<std::pair<std::int64_t, std::int64_t>> time_range;
  if (ds.has_times()) {
    const auto [lo, hi] = std::minmax_element(ds.times().begin(), ds.times().end());
    time_range = std::pair{*lo, *hi};
  }
  const DataFingerprint fp = data_fingerprint(ds);
  const std::string fingerprint = metarec::detail::hex64(fp.hash);
  const RatingScale& scale = ds.scale();

  // Human-readable report.
  std::printf("%-16s %s\n", "data", dir.c_str());
  std::printf("%-16s %s (%s)\n", "format", std::string(format_key(format)).c_str(),
              ds.name().c_str());
  std::printf("%-16s %u\n", "users", ds.num_users());
  std::printf("%-16s %u\n", "items", ds.num_items());
  std::printf("%-16s %zu\n", "ratings", ds.num_ratings());
  std::printf("%-16s %.6g (%s%%)\n", "density", ds.density(), fixed(100.0 * ds.density(), 4).c_str());
  std::printf("%-16s %s to %s, step %s\n", "scale", json_number(scale.min).c_str(),
              json_number(scale.max).c_str(), json_number(scale.step).c_str());
  std::printf("%-16s %s\n", "mean rating", fixed(ds.mean_rating(), 6).c_str());
  std::printf("histogram\n");
  for (std::size_t b = 0; b < hist.count.size(); ++b) {
    const double share = ds.num_ratings() > 0 ? 100.0 * static_cast<double>(hist.count[b]) /
                                                    static_cast<double>(ds.num_ratings())
                                              : 0.0;
    std::printf("  %-14s %zu (%s%%)\n", hist.value[b].c_str(), hist.count[b],
                fixed(share, 2).c_str());
  }
  if (time_range) {
    std::printf("%-16s yes, %s to %s (Unix %lld to %lld)\n", "times",
                iso_date(time_range->first).c_str(), iso_date(time_range->second).c_str(),
                static_cast<long long>(time_range->first),
                static_cast<long long>(time_range->second));
  } else {
    std::printf("%-16s no\n", "times");
  }
  std::printf("%-16s min %u, median %s, max %u\n", "ratings/user", per_user.min,
              json_number(per_user.median).c_str(), per_user.max);
  std::printf("%-16s min %u, median %s, max %u\n", "ratings/item", per_item.min,
              json_number(per_item.median).c_str(), per_item.max);
  std::printf("%-16s %s\n", "user fields", fields_text(ds.user_features()).c_str());
  std::printf("%-16s %s\n", "item fields", fields_text(ds.item_features()).c_str());
  std::printf("%-16s %s\n", "titles", ds.item_titles().empty() ? "no" : "yes");
  std::printf("%-16s %s s\n", "load time", fixed(load_seconds, 3).c_str());
  std::printf("%-16s %s (ratings %zu)\n", "fingerprint", fingerprint.c_str(), fp.ratings);

  if (args.has("--json")) {
    std::string j = "{";
    j += "\"data\":\"" + json_escape(dir) + "\"";
    j += ",\"format\":\"" + std::string(format_key(format)) + "\"";
    j += ",\"name\":\"" + json_escape(ds.name()) + "\"";
    j += ",\"users\":" + std::to_string(ds.num_users());
    j += ",\"items\":" + std::to_string(ds.num_items());
    j += ",\"ratings\":" + std::to_string(ds.num_ratings());
    j += ",\"density\":" + json_number(ds.density());
    j += ",\"scale\":{\"min\":" + json_number(scale.min) + ",\"max\":" + json_number(scale.max) +
         ",\"step\":" + json_number(scale.step) + "}";
    j += ",\"mean_rating\":" + json_number(ds.mean_rating());
    j += ",\"histogram\":{";
    for (std::size_t b = 0; b < hist.count.size(); ++b)
      j += (b ? ",\"" : "\"") + hist.value[b] + "\":" + std::to_string(hist.count[b]);
    j += "}";
    j += std::string(",\"has_times\":") + (time_range ? "true" : "false");
    if (time_range) {
      j += ",\"time_min\":" + std::to_string(time_range->first);
      j += ",\"time_max\":" + std::to_string(time_range->second);
      j += ",\"date_min\":\"" + iso_date(time_range->first) + "\"";
      j += ",\"date_max\":\"" + iso_date(time_range->second) + "\"";
    } else {
      j += ",\"time_min\":null,\"time_max\":null,\"date_min\":null,\"date_max\":null";
    }
    j += ",\"ratings_per_user\":{\"min\":" + std::to_string(per_user.min) +
         ",\"median\":" + json_number(per_user.median) + ",\"max\":" + std::to_string(per_user.max) +
         "}";
    j += ",\"ratings_per_item\":{\"min\":" + std::to_string(per_item.min) +
         ",\"median\":" + json_number(per_item.median) + ",\"max\":" + std::to_string(per_item.max) +
         "}";
    j += ",\"user_fields\":";
    append_fields(j, ds.user_features());
    j += ",\"item_fields\":";
    append_fields(j, ds.item_features());
    j += std::string(",\"has_titles\":") + (ds.item_titles().empty() ? "false" : "true");
    j += ",\"load_seconds\":" + json_number(load_seconds);
    j += ",\"fingerprint\":\"" + fingerprint + "\"";
    j += "}";
    std::printf("%s\n", j.c_str());
  }
  return 0;
}

}  // namespace metarec::cli
