#pragma once
/// @file classification.hpp
/// @brief Click/label metrics: exact AUC (Mann-Whitney with midranks), grouped AUC, log loss.
///
/// Labels are `std::uint8_t` holding 0 or 1 (anything else throws, which catches ratings passed by
/// mistake); scores are float or double. Truth (labels) comes first, as in scikit-learn.
/// A value that is undefined on its input is a quiet NaN (see each function).

#include <metarec/metrics/detail/metrics_common.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <vector>

namespace metarec::detail {

/// Throws when there are more rows than a 32-bit index can address.
inline void require_u32_rows(const char* function, std::size_t n) {
  if (n > std::numeric_limits<std::uint32_t>::max())
    throw_invalid(function, "too many rows for 32-bit row indices", "n = " + std::to_string(n),
                  "split the input");
}

/// The checks of a ranking metric over (label, score) rows: equal sizes, a 32-bit row count, 0/1
/// labels, no NaN score. Returns the row indices 0..n-1 sorted by `less` (ascending score).
template <class S, class Less>
std::vector<std::uint32_t> checked_order(const char* fn, std::span<const std::uint8_t> labels,
                                         std::span<const S> scores, Less&& less) {
  require_same_size(fn, "labels", labels.size(), "scores", scores.size());
  require_u32_rows(fn, labels.size());
  require_binary_labels(fn, labels);
  require_no_nan(fn, "scores", scores);
  std::vector<std::uint32_t> order(labels.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), less);
  return order;
}

/// Pair counts of one block of rows sorted by ascending score.
/// `twice_u` is twice the Mann-Whitney U of the positives: every (positive, negative) pair with the
/// positive above counts 2, every tied pair counts 1. Exact in 64-bit integers up to 2^32 rows.
struct PairCounts {
  std::uint64_t positives = 0;
  std::uint64_t negatives = 0;
  std::uint64_t twice_u = 0;
};

/// Counts pairs over `order[begin, end)`, which must be sorted by ascending score.
template <class S>
PairCounts count_pairs(std::span<const std::uint32_t> order, std::span<const std::uint8_t> labels,
                       std::span<const S> scores) {
  PairCounts c;
  std::size_t i = 0;
  while (i < order.size()) {
    std::size_t j = i;
    std::uint64_t p = 0, q = 0;
    const S s = scores[order[i]];
    while (j < order.size() && scores[order[j]] == s) {  // one block of tied scores
      if (labels[order[j]]) ++p; else ++q;
      ++j;
    }
    // Each positive in the block beats every negative below it (2 half-units) and ties with the
    // q negatives of its own block (1 half-unit each): the midrank convention.
    c.twice_u += p * (2 * c.negatives + q);
    c.positives += p;
    c.negatives += q;
    i = j;
  }
  return c;
}

inline double auc_from_counts(const PairCounts& c) {
  if (c.positives == 0 || c.negatives == 0) return metric_nan;
  return static_cast<double>(c.twice_u) /
         (2.0 * static_cast<double>(c.positives) * static_cast<double>(c.negatives));
}

template <class S>
double auc_impl(std::span<const std::uint8_t> labels, std::span<const S> scores) {
  const auto order = checked_order(
      "metrics::auc", labels, scores,
      [&](std::uint32_t a, std::uint32_t b) { return scores[a] < scores[b]; });
  return auc_from_counts(count_pairs<S>(order, labels, scores));
}

}  // namespace metarec::detail

namespace metarec::metrics {

/// Exact area under the ROC curve, in O(n log n): the Mann-Whitney statistic
/// \f$U / (n_+ n_-)\f$ where a positive scored above a negative counts 1 and a tie counts 1/2
/// (equivalently, midranks for tied scores). Pair counts are exact 64-bit integers.
/// @param labels  0/1 label per row (1 = positive)
/// @param scores  score per row; higher means more likely positive
/// @return the AUC in [0, 1]; NaN when one class is absent (including empty input), because
///         the statistic is then undefined (documented choice: it is a property of the data,
///         not a programming error, and lets grouped/CLI evaluation carry on)
/// @throws std::invalid_argument when the sizes differ, a label is not 0/1 or a score is NaN
/// @code
/// std::vector<std::uint8_t> y{0, 0, 1, 1};
/// std::vector<double> s{0.1, 0.4, 0.4, 0.8};
/// double a = metarec::metrics::auc(y, s);  // (1 + 0.5 + 1 + 1) / 4 = 0.875
/// @endcode
[[nodiscard]] inline double auc(std::span<const std::uint8_t> labels,
                                std::span<const double> scores) {
  return metarec::detail::auc_impl(labels, scores);
}
/// @copydoc auc(std::span<const std::uint8_t>, std::span<const double>)
[[nodiscard]] inline double auc(std::span<const std::uint8_t> labels,
                                std::span<const float> scores) {
  return metarec::detail::auc_impl(labels, scores);
}

/// Result of a grouped AUC.
struct GaucResult {
  /// \f$\sum_g n_g\,\mathrm{AUC}_g / \sum_g n_g\f$ over used groups, \f$n_g\f$ = rows of group g
  /// (impressions, as in Zhou et al., DIN, KDD 2018); NaN when no group is used.
  double value_weighted = metarec::detail::metric_nan;
  /// Plain mean of \f$\mathrm{AUC}_g\f$ over used groups; NaN when no group is used.
  double value_unweighted = metarec::detail::metric_nan;
  std::size_t groups_used = 0;     ///< groups with at least one positive and one negative row
  std::size_t groups_skipped = 0;  ///< groups with rows of one class only (AUC undefined)
};

}  // namespace metarec::metrics

namespace metarec::detail {

template <class S>
metrics::GaucResult gauc_impl(std::span<const std::uint32_t> groups,
                              std::span<const std::uint8_t> labels, std::span<const S> scores) {
  constexpr const char* fn = "metrics::gauc";
  require_same_size(fn, "groups", groups.size(), "labels", labels.size());
  // One sort by (group, score) serves every group: no allocation per group.
  const auto order = checked_order(fn, labels, scores, [&](std::uint32_t a, std::uint32_t b) {
    return groups[a] != groups[b] ? groups[a] < groups[b] : scores[a] < scores[b];
  });
  metrics::GaucResult r;
  double weighted = 0.0, unweighted = 0.0, weight = 0.0;
  const std::span<const std::uint32_t> all(order);
  std::size_t i = 0;
  while (i < order.size()) {
    std::size_t j = i;
    while (j < order.size() && groups[order[j]] == groups[order[i]]) ++j;
    const double a = auc_from_counts(count_pairs<S>(all.subspan(i, j - i), labels, scores));
    if (std::isnan(a)) {
      ++r.groups_skipped;
    } else {
      ++r.groups_used;
      const double n = static_cast<double>(j - i);
      weighted += n * a;
      weight += n;
      unweighted += a;
    }
    i = j;
  }
  if (r.groups_used > 0) {
    r.value_weighted = weighted / weight;
    r.value_unweighted = unweighted / static_cast<double>(r.groups_used);
  }
  return r;
}

template <class S>
double log_loss_impl(std::span<const std::uint8_t> labels, std::span<const S> probabilities,
                     double eps) {
  constexpr const char* fn = "metrics::log_loss";
  require_same_size(fn, "labels", labels.size(), "probabilities", probabilities.size());
  require_binary_labels(fn, labels);
  if (!(eps > 0.0 && eps < 0.5))
    throw_invalid(fn, "eps must lie in (0, 0.5)", "eps = " + std::to_string(eps),
                  "use the default 1e-15");
  if (labels.empty()) return metric_nan;
  double sum = 0.0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const double p = static_cast<double>(probabilities[i]);
    if (!(p >= 0.0 && p <= 1.0))
      throw_invalid(fn, "probabilities must lie in [0, 1]",
                    "probabilities[" + std::to_string(i) + "] = " + std::to_string(p),
                    "apply a sigmoid to raw scores first");
    const double c = std::clamp(p, eps, 1.0 - eps);
    sum -= labels[i] ? std::log(c) : std::log1p(-c);
  }
  return sum / static_cast<double>(labels.size());
}

}  // namespace metarec::detail

namespace metarec::metrics {

/// Grouped AUC (GAUC): the AUC of each group (typically a user) combined two ways.
/// Groups whose rows are all positive or all negative have no AUC; they are skipped and counted in
/// `groups_skipped`. Note: RecBole's GAUC weights each user by its number of POSITIVE rows; this
/// function weights by the number of rows (impressions), as the DIN paper defines it.
/// Runs one O(n log n) sort over (group, score); ties inside a group count 1/2 as in `auc`.
/// @param groups  group id per row (any 32-bit values; need not be contiguous or sorted)
/// @param labels  0/1 label per row
/// @param scores  score per row
/// @return weighted and unweighted GAUC plus the used and skipped group counts
/// @throws std::invalid_argument when sizes differ, a label is not 0/1 or a score is NaN
/// @code
/// std::vector<std::uint32_t> g{7, 7, 7, 9, 9};
/// std::vector<std::uint8_t> y{0, 1, 1, 1, 1};      // group 9 has positives only: skipped
/// std::vector<double> s{0.2, 0.1, 0.9, 0.5, 0.6};
/// auto r = metarec::metrics::gauc(g, y, s);         // group 7: AUC 0.5; used 1, skipped 1
/// @endcode
[[nodiscard]] inline GaucResult gauc(std::span<const std::uint32_t> groups,
                                     std::span<const std::uint8_t> labels,
                                     std::span<const double> scores) {
  return metarec::detail::gauc_impl(groups, labels, scores);
}
/// @copydoc gauc(std::span<const std::uint32_t>, std::span<const std::uint8_t>, std::span<const double>)
[[nodiscard]] inline GaucResult gauc(std::span<const std::uint32_t> groups,
                                     std::span<const std::uint8_t> labels,
                                     std::span<const float> scores) {
  return metarec::detail::gauc_impl(groups, labels, scores);
}

/// Mean binary cross-entropy \f$-\frac1n\sum_i [y_i\log p_i + (1-y_i)\log(1-p_i)]\f$ with each
/// \f$p_i\f$ first clipped to \f$[\varepsilon, 1-\varepsilon]\f$ so that a confident mistake costs
/// \f$-\log\varepsilon\f$ (34.5 for the default 1e-15, scikit-learn's historical default)
/// instead of infinity.
/// @param labels         0/1 label per row
/// @param probabilities  predicted probability of label 1 per row, each in [0, 1]
/// @param eps            clipping bound, in (0, 0.5)
/// @return the mean log loss (natural log), or NaN when the inputs are empty
/// @throws std::invalid_argument when sizes differ, a label is not 0/1, a probability lies
///         outside [0, 1] (or is NaN), or eps is out of range
/// @code
/// std::vector<std::uint8_t> y{1, 0};
/// std::vector<double> p{0.8, 0.4};
/// double l = metarec::metrics::log_loss(y, p);  // -(log 0.8 + log 0.6) / 2
/// @endcode
[[nodiscard]] inline double log_loss(std::span<const std::uint8_t> labels,
                                     std::span<const double> probabilities, double eps = 1e-15) {
  return metarec::detail::log_loss_impl(labels, probabilities, eps);
}
/// @copydoc log_loss(std::span<const std::uint8_t>, std::span<const double>, double)
[[nodiscard]] inline double log_loss(std::span<const std::uint8_t> labels,
                                     std::span<const float> probabilities, double eps = 1e-15) {
  return metarec::detail::log_loss_impl(labels, probabilities, eps);
}

}  // namespace metarec::metrics
