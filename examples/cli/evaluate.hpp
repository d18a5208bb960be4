#pragma once
// `metarec evaluate`: metrics of a score file written by any tool (TSV `user item score truth`),
// computed by `metarec::metrics::evaluate_scores`. See docs/cli.md and docs/metrics.md.

#include "args.hpp"

#include <metarec/metrics/scores_file.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace metarec::cli {

namespace evaluate_detail {

inline constexpr const char* default_metrics = "rmse,mae,auc,gauc,precision,recall,ndcg,map,mrr,hit";

inline std::string usage() {
  return std::string(
             "usage: metarec evaluate --scores FILE [--metrics LIST] [--k LIST] [--threshold T]\n"
             "                        [--json] [--help]\n"
             "\n"
             "Reads a score file (one row per line: user<TAB>item<TAB>score<TAB>truth; '#' lines,\n"
             "empty lines and a 'user item score truth' header are skipped) and prints each\n"
             "requested metric on its own line as 'name value'.\n"
             "\n"
             "  --scores FILE    the score file (required)\n"
             "  --metrics LIST   comma-separated metric names (default: ") +
         default_metrics +
         ")\n"
         "                   known: " +
         std::string(metrics::scores_metric_names) +
         "\n"
         "                   ranking metrics take an optional @K (ndcg@20); without it they are\n"
         "                   reported at every K of --k\n"
         "  --k LIST         comma-separated cut-offs for ranking metrics (default: 5,10)\n"
         "  --threshold T    a row is positive when truth > T (default: truth as-is when every\n"
         "                   truth is 0 or 1, else truth > 3)\n"
         "  --json           also print all values as one JSON object on the last line of stdout\n"
         "  --help           print this help and exit\n"
         "\n"
         "exit codes: 0 success, 1 unreadable or malformed file (path:line:column: message),\n"
         "            2 usage error (unknown flag or metric, bad value)\n";
}

inline std::vector<std::string> split_commas(std::string_view text) {
  std::vector<std::string> out;
  while (true) {
    const auto comma = text.find(',');
    out.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) return out;
    text.remove_prefix(comma + 1);
  }
}

/// Shortest round-trip decimal text; "null" when not finite (JSON has no NaN).
inline std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  std::array<char, 32> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  return std::string(buf.data(), r.ptr);
}

/// Text for the report: integers as integers (counts), other values with 6 decimals, "nan".
inline std::string value_text(double v) {
  if (std::isnan(v)) return "nan";
  std::array<char, 64> buf{};
  if (std::isfinite(v) && v == std::floor(v) && std::abs(v) < 1e15)
    std::snprintf(buf.data(), buf.size(), "%.0f", v);
  else
    std::snprintf(buf.data(), buf.size(), "%.6f", v);
  return buf.data();
}

/// Checks metric names before the file is read, so a typo is a usage error (exit 2) whatever
/// the file holds. The library still validates what only it knows (e.g. @K on a non-ranking name).
inline void check_metric_names(const std::vector<std::string>& names) {
  std::vector<std::string_view> known;
  std::string_view all = metrics::scores_metric_names;
  while (!all.empty()) {
    const auto space = all.find(' ');
    known.push_back(all.substr(0, space));
    if (space == std::string_view::npos) break;
    all.remove_prefix(space + 1);
  }
  for (const std::string& name : names) {
    const std::string_view full(name);
    const auto at = full.find('@');
    const std::string_view base = full.substr(0, at);
    if (base.empty())
      throw UsageError("flag --metrics: empty metric name in '" + name +
                       "'; write e.g. rmse,ndcg@10");
    if (std::find(known.begin(), known.end(), base) == known.end())
      throw UsageError("flag --metrics: unknown metric '" + std::string(base) +
                       "'; known: " + std::string(metrics::scores_metric_names));
    if (at != std::string_view::npos) {
      std::size_t k = 0;
      const std::string_view kt = full.substr(at + 1);
      const auto [ptr, ec] = std::from_chars(kt.data(), kt.data() + kt.size(), k);
      if (ec != std::errc() || ptr != kt.data() + kt.size() || kt.empty() || k == 0)
        throw UsageError("flag --metrics: bad cut-off in '" + name +
                         "'; expected a positive integer, e.g. ndcg@10");
    }
  }
}

}  // namespace evaluate_detail

/// `metarec evaluate --scores FILE [--metrics LIST] [--k LIST] [--threshold T] [--json]`.
inline int run_evaluate(const std::vector<std::string>& argv) {
  using namespace evaluate_detail;
  const Args args(argv, {"--scores", "--metrics", "--k", "--threshold"}, {});
  if (args.has("--help")) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  const std::string path = args.require("--scores");
  const std::vector<std::string> requested = args.words("--metrics", split_commas(default_metrics));
  check_metric_names(requested);
  const std::vector<std::size_t> ks = args.list<std::size_t>("--k", {5, 10});
  for (const std::size_t k : ks)
    if (k == 0) throw UsageError("flag --k: cut-offs must be positive integers, got 0");
  metrics::ScoresEvalOptions options;
  if (args.get("--threshold")) {
    const double t = args.number<double>("--threshold", 0.0);
    if (!std::isfinite(t)) throw UsageError("flag --threshold: expected a finite number");
    options.positive_threshold = t;
  }

  const std::vector<metrics::ScoreRow> rows = metrics::read_scores_tsv(path);
  const std::vector<metrics::NamedValue> values =
      metrics::evaluate_scores(rows, requested, ks, options);

  std::size_t width = 0;
  for (const auto& v : values) width = std::max(width, v.name.size());
  for (const auto& v : values)
    std::printf("%-*s %s\n", static_cast<int>(width), v.name.c_str(), value_text(v.value).c_str());

  if (args.has("--json")) {
    std::vector<std::int64_t> users, items;
    for (const auto& r : rows) {
      users.push_back(r.user);
      items.push_back(r.item);
    }
    for (auto* v : {&users, &items}) {
      std::sort(v->begin(), v->end());
      v->erase(std::unique(v->begin(), v->end()), v->end());
    }
    std::string j = "{";
    j += "\"scores\":\"" + json_escape(path) + "\"";
    j += ",\"rows\":" + std::to_string(rows.size());
    j += ",\"users\":" + std::to_string(users.size());
    j += ",\"items\":" + std::to_string(items.size());
    j += ",\"threshold\":" +
         (options.positive_threshold ? json_number(*options.positive_threshold) : "null");
    for (const auto& v : values) j += ",\"" + json_escape(v.name) + "\":" + json_number(v.value);
    j += "}";
    std::printf("%s\n", j.c_str());
  }
  return 0;
}

}  // namespace metarec::cli
