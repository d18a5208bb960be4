#pragma once
/// @file ranking.hpp
/// @brief Per-user top-K ranking metrics: precision, two recalls, binary and graded NDCG, MAP,
/// MRR, hit rate, plus item coverage over users.
///
/// Inputs of one user: `ranked`, the recommended item ids in rank order (best first; it may be
/// shorter than K, missing positions count as misses), and `relevant`, the ids of the relevant
/// items, sorted strictly ascending (checked; sort and deduplicate first). Graded NDCG also takes
/// one grade per relevant item. `ranked` must not repeat an item (not checked).
///
/// Users without relevant items: every per-user metric returns NaN (undefined: recall divides
/// by |R| = 0). Aggregators (evaluation.hpp, scores_file.hpp) skip such users and count them.
///
/// Definitions (hits(K) = relevant items among the first K ranked; rank i is 1-based):
/// | metric          | value for one user                                                    |
/// |-----------------|-----------------------------------------------------------------------|
/// | precision@K     | hits(K) / K   (K even when the list is shorter)                       |
/// | recall@K        | hits(K) / abs(R)               (RecBole `Recall`)                      |
/// | recall_capped@K | hits(K) / min(K, abs(R))       (BEIR `recall_cap`, "R_cap@k")         |
/// | ndcg@K          | sum_{i<=K, hit} 1/log2(i+1)  /  sum_{i<=min(K,abs(R))} 1/log2(i+1)    |
/// | graded_ndcg@K   | sum_{i<=K} (2^g_i - 1)/log2(i+1) / IDCG@K, IDCG from ALL relevant grades sorted descending, truncated at K |
/// | map@K (AP@K)    | sum_{i<=K, hit} (hits(i)/i)  /  min(K, abs(R))  (RecBole `MAP` code)   |
/// | mrr@K           | 1 / (rank of the first hit), 0 when no hit in the first K             |
/// | hit@K           | 1 when hits(K) > 0, else 0                                            |
/// See docs/metrics.md for sources.

#include <metarec/metrics/detail/metrics_common.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace metarec::metrics {

/// The per-user ranking metrics, in the order evaluators report them.
enum class RankingMetric : std::uint8_t {
  precision,      ///< hits / K
  recall,         ///< hits / |R|
  recall_capped,  ///< hits / min(K, |R|)
  ndcg,           ///< binary NDCG
  graded_ndcg,    ///< NDCG with gain 2^grade - 1
  map,            ///< average precision, denominator min(K, |R|)
  mrr,            ///< reciprocal rank of the first hit
  hit,            ///< 1 when any hit
};

/// Every ranking metric, in declaration order.
inline constexpr std::array<RankingMetric, 8> all_ranking_metrics{
    RankingMetric::precision, RankingMetric::recall, RankingMetric::recall_capped,
    RankingMetric::ndcg,      RankingMetric::graded_ndcg, RankingMetric::map,
    RankingMetric::mrr,       RankingMetric::hit};

/// Lower-case name of a metric as printed and parsed ("precision", "recall_capped", "map", ...).
[[nodiscard]] constexpr std::string_view name(RankingMetric m) noexcept {
  constexpr std::array<std::string_view, 8> names{"precision", "recall", "recall_capped", "ndcg",
                                                  "graded_ndcg", "map", "mrr", "hit"};
  return names[static_cast<std::size_t>(m)];
}

/// The metric called `s` (see `name`), or nothing.
[[nodiscard]] constexpr std::optional<RankingMetric> parse_ranking_metric(std::string_view s) noexcept {
  for (const RankingMetric m : all_ranking_metrics)
    if (name(m) == s) return m;
  return std::nullopt;
}

}  // namespace metarec::metrics

namespace metarec::detail {

/// One user's value of metric `m` at cut-off `k`.
/// `grade_at(i)` (i < n_ranked) is the grade of the item at rank i+1, negative when it is not
/// relevant; `ideal_at(i)` (i < min(k, num_relevant)) is the (i+1)-th largest relevant grade and is
/// called for graded NDCG only. Returns NaN when `num_relevant == 0`, and for graded NDCG when
/// every relevant grade is 0 (ideal DCG 0). No allocation.
template <class GradeAt, class IdealAt>
double ranking_value(metrics::RankingMetric m, std::size_t n_ranked, const GradeAt& grade_at,
                     std::size_t num_relevant, const IdealAt& ideal_at, std::size_t k) {
  using metrics::RankingMetric;
  if (num_relevant == 0) return metric_nan;
  const std::size_t n = std::min(k, n_ranked);
  const std::size_t cap = std::min(k, num_relevant);
  auto discount = [](std::size_t i) { return 1.0 / std::log2(static_cast<double>(i) + 2.0); };
  std::size_t hits = 0;
  double sum = 0.0;
  switch (m) {
    case RankingMetric::precision:
    case RankingMetric::recall:
    case RankingMetric::recall_capped:
    case RankingMetric::hit:
      for (std::size_t i = 0; i < n; ++i) hits += grade_at(i) >= 0 ? 1 : 0;
      if (m == RankingMetric::precision) return static_cast<double>(hits) / static_cast<double>(k);
      if (m == RankingMetric::recall)
        return static_cast<double>(hits) / static_cast<double>(num_relevant);
      if (m == RankingMetric::recall_capped)
        return static_cast<double>(hits) / static_cast<double>(cap);
      return hits > 0 ? 1.0 : 0.0;
    case RankingMetric::ndcg: {
      double ideal = 0.0;
      for (std::size_t i = 0; i < n; ++i)
        if (grade_at(i) >= 0) sum += discount(i);
      for (std::size_t i = 0; i < cap; ++i) ideal += discount(i);
      return sum / ideal;
    }
    case RankingMetric::graded_ndcg: {
      double ideal = 0.0;
      for (std::size_t i = 0; i < n; ++i) {
        const double g = static_cast<double>(grade_at(i));
        if (g > 0) sum += (std::exp2(g) - 1.0) * discount(i);
      }
      for (std::size_t i = 0; i < cap; ++i)
        ideal += (std::exp2(static_cast<double>(ideal_at(i))) - 1.0) * discount(i);
      return ideal > 0.0 ? sum / ideal : metric_nan;
    }
    case RankingMetric::map:
      for (std::size_t i = 0; i < n; ++i)
        if (grade_at(i) >= 0) {
          ++hits;
          sum += static_cast<double>(hits) / static_cast<double>(i + 1);
        }
      return sum / static_cast<double>(cap);
    case RankingMetric::mrr:
      for (std::size_t i = 0; i < n; ++i)
        if (grade_at(i) >= 0) return 1.0 / static_cast<double>(i + 1);
      return 0.0;
  }
  return metric_nan;
}

/// Boundary checks shared by the per-user functions.
inline void check_ranking_args(const char* fn, std::span<const std::uint32_t> relevant,
                               std::size_t k) {
  require_positive_k(fn, k);
  for (std::size_t i = 1; i < relevant.size(); ++i)
    if (!(relevant[i - 1] < relevant[i]))
      throw_invalid(fn, "relevant must be sorted strictly ascending",
                    "relevant[" + std::to_string(i - 1) + "] = " + std::to_string(relevant[i - 1]) +
                        ", relevant[" + std::to_string(i) + "] = " + std::to_string(relevant[i]),
                    "sort the relevant ids and remove duplicates");
}

/// Binary per-user metric over (ranked, relevant).
inline double binary_ranking_value(const char* fn, metrics::RankingMetric m,
                                   std::span<const std::uint32_t> ranked,
                                   std::span<const std::uint32_t> relevant, std::size_t k) {
  check_ranking_args(fn, relevant, k);
  const auto grade_at = [&](std::size_t i) {
    return std::binary_search(relevant.begin(), relevant.end(), ranked[i]) ? 1.0f : -1.0f;
  };
  const auto ideal_at = [](std::size_t) { return 1.0f; };
  return ranking_value(m, ranked.size(), grade_at, relevant.size(), ideal_at, k);
}

}  // namespace metarec::detail

namespace metarec::metrics {

/// Precision@K = hits(K) / K for one user. The denominator is K even when `ranked` is shorter.
/// @param ranked    recommended item ids, best first
/// @param relevant  relevant item ids, sorted strictly ascending
/// @param k         cut-off, at least 1
/// @return precision in [0, 1]; NaN when `relevant` is empty (the user is not evaluable)
/// @throws std::invalid_argument when k = 0 or `relevant` is not strictly ascending
/// @code
/// std::vector<std::uint32_t> ranked{4, 2, 9}, relevant{2, 7};
/// double p = metarec::metrics::precision(ranked, relevant, 2);  // 1 hit / 2 = 0.5
/// @endcode
[[nodiscard]] inline double precision(std::span<const std::uint32_t> ranked,
                                      std::span<const std::uint32_t> relevant, std::size_t k) {
  return detail::binary_ranking_value("metrics::precision", RankingMetric::precision, ranked,
                                      relevant, k);
}

/// Recall@K = hits(K) / |R| for one user (RecBole's `Recall`): it cannot reach 1 when |R| > K.
/// @param ranked    recommended item ids, best first
/// @param relevant  relevant item ids, sorted strictly ascending
/// @param k         cut-off, at least 1
/// @return recall in [0, 1]; NaN when `relevant` is empty
/// @throws std::invalid_argument when k = 0 or `relevant` is not strictly ascending
/// @code
/// std::vector<std::uint32_t> ranked{4, 2}, relevant{1, 2, 3};
/// double r = metarec::metrics::recall(ranked, relevant, 2);  // 1 / 3
/// @endcode
[[nodiscard]] inline double recall(std::span<const std::uint32_t> ranked,
                                   std::span<const std::uint32_t> relevant, std::size_t k) {
  return detail::binary_ranking_value("metrics::recall", RankingMetric::recall, ranked, relevant,
                                      k);
}

/// Capped recall@K = hits(K) / min(K, |R|) for one user (BEIR's `recall_cap`, "R_cap@k"); it
/// reaches 1 when the first K items are all relevant.
/// @param ranked    recommended item ids, best first
/// @param relevant  relevant item ids, sorted strictly ascending
/// @param k         cut-off, at least 1
/// @return capped recall in [0, 1]; NaN when `relevant` is empty
/// @throws std::invalid_argument when k = 0 or `relevant` is not strictly ascending
/// @code
/// std::vector<std::uint32_t> ranked{4, 2}, relevant{1, 2, 3};
/// double r = metarec::metrics::recall_capped(ranked, relevant, 2);  // 1 / min(2, 3) = 0.5
/// @endcode
[[nodiscard]] inline double recall_capped(std::span<const std::uint32_t> ranked,
                                          std::span<const std::uint32_t> relevant, std::size_t k) {
  return detail::binary_ranking_value("metrics::recall_capped", RankingMetric::recall_capped,
                                      ranked, relevant, k);
}

/// Binary NDCG@K for one user: DCG with gain 1 per hit and discount 1/log2(rank + 1), divided by
/// the ideal DCG of min(K, |R|) hits at the top (RecBole's `NDCG`).
/// @param ranked    recommended item ids, best first
/// @param relevant  relevant item ids, sorted strictly ascending
/// @param k         cut-off, at least 1
/// @return NDCG in [0, 1]; NaN when `relevant` is empty
/// @throws std::invalid_argument when k = 0 or `relevant` is not strictly ascending
/// @code
/// std::vector<std::uint32_t> ranked{4, 2}, relevant{2};
/// double n = metarec::metrics::ndcg(ranked, relevant, 2);  // (1/log2 3) / 1 = 0.6309...
/// @endcode
[[nodiscard]] inline double ndcg(std::span<const std::uint32_t> ranked,
                                 std::span<const std::uint32_t> relevant, std::size_t k) {
  return detail::binary_ranking_value("metrics::ndcg", RankingMetric::ndcg, ranked, relevant, k);
}

/// Graded NDCG@K for one user: gain 2^g - 1 (g = grade of the item, e.g. its rating), discount
/// 1/log2(rank + 1); the ideal DCG sorts the grades of ALL relevant items descending and keeps
/// the first K. Allocates one copy of `grades` (use evaluation.hpp for many users).
/// @param ranked    recommended item ids, best first
/// @param relevant  relevant item ids, sorted strictly ascending
/// @param grades    grade of each relevant item (same order as `relevant`), finite and >= 0
/// @param k         cut-off, at least 1
/// @return NDCG in [0, 1]; NaN when `relevant` is empty or every grade is 0
/// @throws std::invalid_argument when k = 0, `relevant` is not strictly ascending, the sizes of
///         `relevant` and `grades` differ, or a grade is negative or not finite
/// @code
/// std::vector<std::uint32_t> ranked{4, 2}, relevant{2, 4};
/// std::vector<float> grades{3, 1};  // item 2 has grade 3, item 4 grade 1
/// double n = metarec::metrics::graded_ndcg(ranked, relevant, grades, 2);
/// // DCG = 1/1 + 7/log2 3, IDCG = 7/1 + 1/log2 3
/// @endcode
[[nodiscard]] inline double graded_ndcg(std::span<const std::uint32_t> ranked,
                                        std::span<const std::uint32_t> relevant,
                                        std::span<const float> grades, std::size_t k) {
  constexpr const char* fn = "metrics::graded_ndcg";
  detail::check_ranking_args(fn, relevant, k);
  detail::require_same_size(fn, "relevant", relevant.size(), "grades", grades.size());
  for (std::size_t i = 0; i < grades.size(); ++i)
    if (!(std::isfinite(grades[i]) && grades[i] >= 0.0f))
      detail::throw_invalid(fn, "grades must be finite and >= 0",
                            "grades[" + std::to_string(i) + "] = " + std::to_string(grades[i]),
                            "use ratings or other non-negative relevance levels");
  std::vector<float> ideal(grades.begin(), grades.end());
  const std::size_t cap = std::min(k, ideal.size());
  std::partial_sort(ideal.begin(), ideal.begin() + static_cast<std::ptrdiff_t>(cap), ideal.end(),
                    std::greater<>());
  const auto grade_at = [&](std::size_t i) {
    const auto it = std::lower_bound(relevant.begin(), relevant.end(), ranked[i]);
    return (it != relevant.end() && *it == ranked[i]) ? grades[static_cast<std::size_t>(
                                                            it - relevant.begin())]
                                                      : -1.0f;
  };
  const auto ideal_at = [&](std::size_t i) { return ideal[i]; };
  return detail::ranking_value(RankingMetric::graded_ndcg, ranked.size(), grade_at,
                               relevant.size(), ideal_at, k);
}

/// Average precision AP@K for one user (MAP@K is its mean over users):
/// sum over hits at rank i <= K of precision@i, divided by min(K, |R|), which is what RecBole's
/// `MAP.metric_info` computes (its docstring writes min(|R^(u)|, K) but the code uses the number
/// of positives). A perfect list scores 1.
/// @param ranked    recommended item ids, best first
/// @param relevant  relevant item ids, sorted strictly ascending
/// @param k         cut-off, at least 1
/// @return AP in [0, 1]; NaN when `relevant` is empty
/// @throws std::invalid_argument when k = 0 or `relevant` is not strictly ascending
/// @code
/// std::vector<std::uint32_t> ranked{2, 4, 3}, relevant{2, 3, 8};
/// double ap = metarec::metrics::average_precision(ranked, relevant, 3);  // (1/1 + 2/3) / 3
/// @endcode
[[nodiscard]] inline double average_precision(std::span<const std::uint32_t> ranked,
                                              std::span<const std::uint32_t> relevant,
                                              std::size_t k) {
  return detail::binary_ranking_value("metrics::average_precision", RankingMetric::map, ranked,
                                      relevant, k);
}

/// Reciprocal rank RR@K for one user (MRR@K is its mean over users): 1 / rank of the first hit
/// within the first K, 0 when there is none.
/// @param ranked    recommended item ids, best first
/// @param relevant  relevant item ids, sorted strictly ascending
/// @param k         cut-off, at least 1
/// @return RR in [0, 1]; NaN when `relevant` is empty
/// @throws std::invalid_argument when k = 0 or `relevant` is not strictly ascending
/// @code
/// std::vector<std::uint32_t> ranked{4, 5, 2}, relevant{2};
/// double rr = metarec::metrics::reciprocal_rank(ranked, relevant, 3);  // 1/3
/// @endcode
[[nodiscard]] inline double reciprocal_rank(std::span<const std::uint32_t> ranked,
                                            std::span<const std::uint32_t> relevant,
                                            std::size_t k) {
  return detail::binary_ranking_value("metrics::reciprocal_rank", RankingMetric::mrr, ranked,
                                      relevant, k);
}

/// Hit@K for one user: 1 when a relevant item is among the first K, else 0 (RecBole's `Hit`).
/// @param ranked    recommended item ids, best first
/// @param relevant  relevant item ids, sorted strictly ascending
/// @param k         cut-off, at least 1
/// @return 0 or 1; NaN when `relevant` is empty
/// @throws std::invalid_argument when k = 0 or `relevant` is not strictly ascending
/// @code
/// std::vector<std::uint32_t> ranked{4, 5, 2}, relevant{2};
/// double h = metarec::metrics::hit(ranked, relevant, 2);  // 0: item 2 is at rank 3
/// @endcode
[[nodiscard]] inline double hit(std::span<const std::uint32_t> ranked,
                                std::span<const std::uint32_t> relevant, std::size_t k) {
  return detail::binary_ranking_value("metrics::hit", RankingMetric::hit, ranked, relevant, k);
}

/// Item coverage@K over users: the fraction of the catalogue that appears in at least one user's
/// first K recommendations, |union_u top_K(u)| / num_items.
/// @code
/// metarec::metrics::ItemCoverage cov(5);               // 5 items in the catalogue
/// std::vector<std::uint32_t> a{0, 1, 2}, b{1, 3, 0};
/// cov.add(a, 2);                                       // {0, 1}
/// cov.add(b, 2);                                       // {0, 1, 3}
/// double c = cov.value();                              // 3 / 5
/// @endcode
class ItemCoverage {
 public:
  /// @param num_items size of the catalogue (item ids are 0 .. num_items-1)
  explicit ItemCoverage(std::uint32_t num_items) : seen_(num_items, 0) {}

  /// Adds the first `k` items of one user's list (all of it when shorter).
  /// @throws std::invalid_argument when k = 0 or an item id is >= num_items
  void add(std::span<const std::uint32_t> ranked, std::size_t k) {
    detail::require_positive_k("metrics::ItemCoverage::add", k);
    const std::size_t n = std::min(k, ranked.size());
    for (std::size_t i = 0; i < n; ++i) {
      if (ranked[i] >= seen_.size())
        detail::throw_invalid("metrics::ItemCoverage::add", "item id outside the catalogue",
                              "ranked[" + std::to_string(i) + "] = " + std::to_string(ranked[i]) +
                                  ", num_items = " + std::to_string(seen_.size()),
                              "construct ItemCoverage with the number of items");
      distinct_ += seen_[ranked[i]] ? 0 : 1;
      seen_[ranked[i]] = 1;
    }
  }
  /// Number of distinct items recommended so far.
  [[nodiscard]] std::size_t distinct() const noexcept { return distinct_; }
  /// distinct() / num_items; NaN for an empty catalogue.
  [[nodiscard]] double value() const noexcept {
    return seen_.empty() ? detail::metric_nan
                         : static_cast<double>(distinct_) / static_cast<double>(seen_.size());
  }

 private:
  std::vector<std::uint8_t> seen_;
  std::size_t distinct_ = 0;
};

}  // namespace metarec::metrics
