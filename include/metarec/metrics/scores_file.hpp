#pragma once
/// @file scores_file.hpp
/// @brief Reader for score files written by any tool (TSV `user item score truth`) and
/// `evaluate_scores`, which computes every requested metric from them by name.
///
/// File format: UTF-8 text, one row per line, four TAB-separated fields
/// `user<TAB>item<TAB>score<TAB>truth`; user and item are integer ids (64-bit), score and truth
/// are finite decimal numbers (truth is a rating or a 0/1 label). Lines starting with `#` and
/// empty lines are ignored; the first other line may be the header `user	item	score	truth`.
/// CRLF line ends and spaces around fields are accepted.

#include <metarec/core/error.hpp>
#include <metarec/metrics/detail/metrics_common.hpp>
#include <metarec/metrics/classification.hpp>
#include <metarec/metrics/full_ranking.hpp>
#include <metarec/metrics/ranking.hpp>
#include <metarec/metrics/regression.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <istream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace metarec::metrics {

/// One row of a score file.
struct ScoreRow {
  std::int64_t user = 0;  ///< user id as written in the file
  std::int64_t item = 0;  ///< item id as written in the file
  double score = 0.0;     ///< predicted score (rating, probability or any ranking score)
  double truth = 0.0;     ///< true rating or 0/1 label
  std::size_t line = 0;   ///< 1-based line number in the file (0 when built in code)
};

}  // namespace metarec::metrics

namespace metarec::detail {

inline std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ')) s.remove_suffix(1);
  return s;
}

template <class T>
bool parse_whole(std::string_view s, T& out) {
  s = trim_spaces(s);
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace metarec::detail

namespace metarec::metrics {

/// Parses a score file from a stream (see the file comment for the format).
/// @param in    the text
/// @param path  name used in error messages
/// @return the rows in file order
/// @throws metarec::data_error with `path:line:column` (1-based, column of the offending field) and
///         the offending text when a line has other than 4 fields, an id is not an integer or a
///         score/truth is not a finite number; with line 0 when there are no data rows
/// @code
/// std::istringstream text("user\titem\tscore\ttruth\n1\t10\t0.9\t1\n");
/// auto rows = metarec::metrics::parse_scores_tsv(text, "<memory>");
/// @endcode
[[nodiscard]] inline std::vector<ScoreRow> parse_scores_tsv(std::istream& in,
                                                           const std::string& path) {
  std::vector<ScoreRow> rows;
  std::string text;
  std::size_t line_no = 0;
  bool header_allowed = true;
  constexpr std::string_view header = "user\titem\tscore\ttruth";
  while (std::getline(in, text)) {
    ++line_no;
    std::string_view line(text);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (header_allowed) {
      header_allowed = false;
      if (detail::trim_spaces(line) == header) continue;
    }
    std::string_view fields[4];
    std::size_t columns[4] = {0, 0, 0, 0};
    std::size_t count = 0, start = 0;
    while (true) {
      const std::size_t tab = line.find('\t', start);
      const std::size_t end = tab == std::string_view::npos ? line.size() : tab;
      if (count == 4)
        throw data_error(path, line_no, start + 1,
                         "too many fields: expected 4 tab-separated fields (user, item, score, "
                         "truth) in '" + std::string(line) + "'");
      fields[count] = line.substr(start, end - start);
      columns[count] = start + 1;
      ++count;
      if (tab == std::string_view::npos) break;
      start = tab + 1;
    }
    if (count < 4)
      throw data_error(path, line_no, line.size() + 1,
                       "too few fields: expected 4 tab-separated fields (user, item, score, "
                       "truth), found " + std::to_string(count) + " in '" + std::string(line) +
                           "'");
    ScoreRow row;
    row.line = line_no;
    const char* names[4] = {"user id", "item id", "score", "truth"};
    for (std::size_t f = 0; f < 4; ++f) {
      bool ok = false;
      if (f == 0) ok = detail::parse_whole(fields[f], row.user);
      if (f == 1) ok = detail::parse_whole(fields[f], row.item);
      if (f == 2) ok = detail::parse_whole(fields[f], row.score) && std::isfinite(row.score);
      if (f == 3) ok = detail::parse_whole(fields[f], row.truth) && std::isfinite(row.truth);
      if (!ok)
        throw data_error(path, line_no, columns[f],
                         std::string(names[f]) + " is not " +
                             (f < 2 ? "an integer" : "a finite number") + ": '" +
                             std::string(fields[f]) + "'");
    }
    rows.push_back(row);
  }
  if (rows.empty())
    throw data_error(path, 0, 0,
                     "no data rows (empty file, or only comments and the header); expected lines "
                     "'user<TAB>item<TAB>score<TAB>truth'");
  return rows;
}

/// Reads a score file (see `parse_scores_tsv`).
/// @throws metarec::data_error when the file cannot be opened (line 0) or is malformed
/// @code
/// auto rows = metarec::metrics::read_scores_tsv("predictions.tsv");
/// @endcode
[[nodiscard]] inline std::vector<ScoreRow> read_scores_tsv(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw data_error(path.string(), 0, 0, "cannot open the score file");
  return parse_scores_tsv(in, path.string());
}

/// Options of `evaluate_scores`.
struct ScoresEvalOptions {
  /// A row is positive when truth > positive_threshold. When unset: if every truth is 0 or 1 the
  /// truth is the label as-is, otherwise truth > 3 (ratings 4 and 5 positive on a 1-5 scale, the
  /// labelling of the original study).
  std::optional<double> positive_threshold;
  /// Clipping bound of `log_loss`.
  double log_loss_eps = 1e-15;
};

/// One named metric value.
struct NamedValue {
  std::string name;  ///< e.g. "rmse", "gauc", "ndcg@10"
  double value = 0.0;
};

/// Names `evaluate_scores` understands (ranking names also take "@K").
inline constexpr std::string_view scores_metric_names =
    "rmse mae mse auc gauc gauc_unweighted gauc_groups_used gauc_groups_skipped log_loss "
    "precision recall recall_capped ndcg graded_ndcg map mrr hit query_ndcg coverage "
    "ranking_users ranking_users_skipped";

}  // namespace metarec::metrics

namespace metarec::metrics {

/// Computes every requested metric over score rows, in the order requested (a ranking metric
/// without "@K" expands to one entry per K in `ks`, in the order of `ks`).
///
/// - rmse, mae, mse: truth vs score over all rows.
/// - auc, log_loss: over all rows with the positive rule of `options` (log_loss needs scores in
///   [0, 1]); gauc / gauc_unweighted: grouped by user (rows weighting), with
///   gauc_groups_used / gauc_groups_skipped reporting the group counts.
/// - precision, recall, recall_capped, ndcg, map, mrr, hit (@K): each user's rows ranked by score
///   (ties: lower item id first), relevant = positive rows; users without a positive row are
///   skipped (ranking_users / ranking_users_skipped report the counts). graded_ndcg uses the truth
///   of the positive rows as grade; query_ndcg is MeLU's NDCG over ALL of a user's rows with gain
///   2^truth - 1 (users whose truths are all 0 are left out of its mean); coverage@K is the share
///   of the file's distinct items in some user's top K.
/// @param rows     score rows (e.g. from `read_scores_tsv`)
/// @param metrics  metric names, see `scores_metric_names`, optionally with "@K"
/// @param ks       cut-offs used by ranking names without "@K"
/// @param options  positive rule and log-loss clipping
/// @return one {name, value} per requested metric (and K), in request order
/// @throws std::invalid_argument for an unknown name, a bad "@K", a ranking name without "@K" when
///         `ks` is empty, a repeated (user, item) pair, a negative truth for query_ndcg, or any
///         error of the metric functions
/// @code
/// auto rows = metarec::metrics::read_scores_tsv("scores.tsv");
/// std::vector<std::string> names{"rmse", "auc", "gauc", "ndcg"};
/// std::vector<std::size_t> ks{5, 10};
/// for (const auto& [name, value] : metarec::metrics::evaluate_scores(rows, names, ks))
///   std::printf("%s\t%.6f\n", name.c_str(), value);
/// @endcode
[[nodiscard]] inline std::vector<NamedValue> evaluate_scores(std::span<const ScoreRow> rows,
                                                             std::span<const std::string> metrics,
                                                             std::span<const std::size_t> ks,
                                                             const ScoresEvalOptions& options = {}) {
  constexpr const char* fn = "metrics::evaluate_scores";
  const std::size_t n = rows.size();
  detail::require_u32_rows(fn, n);
  // Labels.
  bool binary_truth = true;
  for (const ScoreRow& r : rows) binary_truth = binary_truth && (r.truth == 0.0 || r.truth == 1.0);
  std::vector<std::uint8_t> labels(n);
  std::vector<double> truth(n), score(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double t = rows[i].truth;
    labels[i] = options.positive_threshold ? (t > *options.positive_threshold ? 1 : 0)
                : binary_truth             ? (t == 1.0 ? 1 : 0)
                                           : (t > 3.0 ? 1 : 0);
    truth[i] = t;
    score[i] = rows[i].score;
  }
  // Dense users and items; order by (user, score desc, item asc).
  std::vector<std::int64_t> user_ids(n), item_ids(n);
  for (std::size_t i = 0; i < n; ++i) {
    user_ids[i] = rows[i].user;
    item_ids[i] = rows[i].item;
  }
  std::sort(user_ids.begin(), user_ids.end());
  user_ids.erase(std::unique(user_ids.begin(), user_ids.end()), user_ids.end());
  std::sort(item_ids.begin(), item_ids.end());
  item_ids.erase(std::unique(item_ids.begin(), item_ids.end()), item_ids.end());
  std::vector<std::uint32_t> group(n);
  for (std::size_t i = 0; i < n; ++i)
    group[i] = static_cast<std::uint32_t>(
        std::lower_bound(user_ids.begin(), user_ids.end(), rows[i].user) - user_ids.begin());

  // Lazily computed groups of results.
  std::optional<GaucResult> g;
  auto gauc_result = [&]() -> const GaucResult& {
    if (!g) g = gauc(group, labels, score);
    return *g;
  };
  struct Ranking {
    std::vector<std::uint32_t> order;
    std::vector<std::size_t> begin;  // per evaluated-or-not user, plus end
  };
  std::optional<Ranking> rk;
  auto ranking = [&]() -> const Ranking& {
    if (rk) return *rk;
    Ranking r;
    r.order.resize(n);
    for (std::uint32_t i = 0; i < n; ++i) r.order[i] = i;
    std::sort(r.order.begin(), r.order.end(), [&](std::uint32_t a, std::uint32_t b) {
      if (group[a] != group[b]) return group[a] < group[b];
      if (score[a] != score[b]) return score[a] > score[b];
      return rows[a].item < rows[b].item;
    });
    for (std::size_t i = 0; i < n; ++i) {
      if (i == 0 || group[r.order[i]] != group[r.order[i - 1]]) r.begin.push_back(i);
    }
    r.begin.push_back(n);
    // Repeated (user, item) pairs would make a list recommend one item twice.
    std::vector<std::uint32_t> by_pair(r.order);
    std::sort(by_pair.begin(), by_pair.end(), [&](std::uint32_t a, std::uint32_t b) {
      return group[a] != group[b] ? group[a] < group[b] : rows[a].item < rows[b].item;
    });
    for (std::size_t i = 1; i < n; ++i) {
      const ScoreRow& a = rows[by_pair[i - 1]];
      const ScoreRow& b = rows[by_pair[i]];
      if (a.user == b.user && a.item == b.item)
        detail::throw_invalid(fn, "a (user, item) pair is repeated",
                              "user " + std::to_string(a.user) + ", item " +
                                  std::to_string(a.item) + ", lines " + std::to_string(a.line) +
                                  " and " + std::to_string(b.line),
                              "keep one score per pair");
    }
    rk = std::move(r);
    return *rk;
  };
  // Mean of one ranking metric at k over users with a positive row; also the counts.
  std::size_t users_with_pos = 0, users_without_pos = 0;
  bool counted = false;
  std::vector<float> ideal;
  std::vector<std::uint32_t> qwork;
  std::vector<double> qideal, qtruth, qpred;
  auto ranking_mean = [&](std::string_view metric, std::size_t k) {
    const Ranking& r = ranking();
    double sum = 0.0;
    std::size_t count = 0, with_pos = 0, without_pos = 0;
    std::vector<std::uint8_t> seen;
    std::size_t distinct = 0;
    if (metric == "coverage") seen.assign(item_ids.size(), 0);
    for (std::size_t u = 0; u + 1 < r.begin.size(); ++u) {
      const std::span<const std::uint32_t> list(r.order.data() + r.begin[u],
                                                r.begin[u + 1] - r.begin[u]);
      std::size_t positives = 0;
      for (const std::uint32_t i : list) positives += labels[i];
      (positives > 0 ? with_pos : without_pos) += 1;
      if (metric == "query_ndcg") {
        qtruth.clear();
        qpred.clear();
        for (const std::uint32_t i : list) {
          if (truth[i] < 0)
            detail::throw_invalid(fn, "query_ndcg needs truth >= 0",
                                  "line " + std::to_string(rows[i].line) + ": truth " +
                                      std::to_string(truth[i]),
                                  "gains are 2^truth - 1");
          qtruth.push_back(truth[i]);
          qpred.push_back(score[i]);
        }
        // `list` is already in score order with item ties resolved, so ties keep that order.
        const double v = detail::query_ndcg_core<double>(qtruth, qpred, k, qwork, qideal);
        if (!std::isnan(v)) {
          sum += v;
          ++count;
        }
        continue;
      }
      if (metric == "coverage") {
        if (positives == 0) continue;
        for (std::size_t p = 0; p < std::min(k, list.size()); ++p) {
          const auto d = static_cast<std::size_t>(
              std::lower_bound(item_ids.begin(), item_ids.end(), rows[list[p]].item) -
              item_ids.begin());
          distinct += seen[d] ? 0 : 1;
          seen[d] = 1;
        }
        continue;
      }
      if (positives == 0) continue;
      const RankingMetric m = *parse_ranking_metric(metric);
      ideal.clear();
      for (const std::uint32_t i : list)
        if (labels[i]) ideal.push_back(static_cast<float>(truth[i]));
      const std::size_t cap = std::min(k, ideal.size());
      std::partial_sort(ideal.begin(), ideal.begin() + static_cast<std::ptrdiff_t>(cap),
                        ideal.end(), std::greater<>());
      const auto grade_at = [&](std::size_t p) {
        const std::uint32_t i = list[p];
        return labels[i] ? static_cast<float>(truth[i]) : -1.0f;
      };
      const auto ideal_at = [&](std::size_t p) { return ideal[p]; };
      const double v = detail::ranking_value(m, list.size(), grade_at, positives, ideal_at, k);
      if (!std::isnan(v)) {
        sum += v;
        ++count;
      }
    }
    if (!counted) {
      users_with_pos = with_pos;
      users_without_pos = without_pos;
      counted = true;
    }
    if (metric == "coverage")
      return item_ids.empty() ? detail::metric_nan
                              : static_cast<double>(distinct) /
                                    static_cast<double>(item_ids.size());
    return count > 0 ? sum / static_cast<double>(count) : detail::metric_nan;
  };

  auto is_ranking = [](std::string_view s) {
    return parse_ranking_metric(s).has_value() || s == "query_ndcg" || s == "coverage";
  };
  std::vector<NamedValue> out;
  for (const std::string& requested : metrics) {
    const std::string_view full(requested);
    const std::size_t at = full.find('@');
    const std::string_view base = full.substr(0, at);
    if (at != std::string_view::npos) {
      std::size_t k = 0;
      const std::string_view ktext = full.substr(at + 1);
      if (!is_ranking(base))
        detail::throw_invalid(fn, "only ranking metrics take @K", "'" + requested + "'",
                              "drop the @K");
      if (!detail::parse_whole(ktext, k) || k == 0)
        detail::throw_invalid(fn, "bad cut-off", "'" + requested + "'", "write e.g. ndcg@10");
      out.push_back({requested, ranking_mean(base, k)});
      continue;
    }
    if (is_ranking(base)) {
      if (ks.empty())
        detail::throw_invalid(fn, "ranking metric without cut-off", "'" + requested + "', ks empty",
                              "pass ks or write e.g. " + requested + "@10");
      for (const std::size_t k : ks) {
        detail::require_positive_k(fn, k);
        out.push_back({requested + "@" + std::to_string(k), ranking_mean(base, k)});
      }
    } else if (base == "rmse") {
      out.push_back({requested, rmse(truth, score)});
    } else if (base == "mae") {
      out.push_back({requested, mae(truth, score)});
    } else if (base == "mse") {
      out.push_back({requested, mse(truth, score)});
    } else if (base == "auc") {
      out.push_back({requested, auc(labels, score)});
    } else if (base == "log_loss") {
      out.push_back({requested, log_loss(labels, score, options.log_loss_eps)});
    } else if (base == "gauc") {
      out.push_back({requested, gauc_result().value_weighted});
    } else if (base == "gauc_unweighted") {
      out.push_back({requested, gauc_result().value_unweighted});
    } else if (base == "gauc_groups_used") {
      out.push_back({requested, static_cast<double>(gauc_result().groups_used)});
    } else if (base == "gauc_groups_skipped") {
      out.push_back({requested, static_cast<double>(gauc_result().groups_skipped)});
    } else if (base == "ranking_users" || base == "ranking_users_skipped") {
      if (!counted) (void)ranking_mean("hit", 1);
      out.push_back({requested, static_cast<double>(base == "ranking_users" ? users_with_pos
                                                                            : users_without_pos)});
    } else {
      detail::throw_invalid(fn, "unknown metric", "'" + requested + "'",
                            "known: " + std::string(scores_metric_names));
    }
  }
  return out;
}

}  // namespace metarec::metrics
