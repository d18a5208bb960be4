#pragma once
/// @file evaluation.hpp
/// @brief Full-ranking top-K evaluation over all items (training items masked) and MeLU-style
/// rating-query NDCG.
///
/// Full ranking, for each user u with at least one relevant test item:
/// 1. scores for every item come from a dense matrix row or a callable;
/// 2. the user's TRAINING items are removed from the candidates (they can never be recommended);
///    test items and never-rated items stay;
/// 3. the top max(K) candidates are selected with `std::nth_element` and then sorted (no full
///    sort), in decreasing score; EQUAL SCORES RANK THE LOWER ITEM INDEX FIRST, and NaN scores
///    rank as -infinity, so the order is a strict total order and fully deterministic;
/// 4. every requested metric is computed at every K from the same list (ranking.hpp).
/// Relevant items are the user's test items (optionally only those rated >= a threshold); the
/// graded NDCG uses the test rating as grade. Users whose test items are all below the threshold
/// are skipped and counted (`users_skipped`); users with no test rows are not part of the test.
/// Means are over the evaluated users, summed in user order after the (optionally OpenMP
/// parallel) per-user pass, so results are bitwise identical for any number of threads.

#include <metarec/core/error.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/metrics/detail/metrics_common.hpp>
#include <metarec/metrics/ranking.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#if defined(METAREC_HAS_OPENMP) && defined(_OPENMP)
#include <omp.h>
#define METAREC_METRICS_OPENMP 1
#endif

namespace metarec::metrics {

/// A callable that fills the scores of every item for one user:
/// `f(user, out)` with `out` pre-sized to `num_items`; it must overwrite every entry, and with
/// OpenMP it is called concurrently from several threads (so it must be safe to call so, e.g. a
/// lambda reading a model's parameters).
/// Eigen matrices are excluded explicitly: Eigen 3.4's indexed-view `operator()(rows, cols)` is a
/// template, so a `MatrixXf` would otherwise look callable with (user, out) and bypass the
/// matrix overload.
template <class F>
concept UserScorer =
    std::invocable<F&, std::uint32_t, Eigen::Ref<Eigen::VectorXf>> &&
    !std::is_base_of_v<Eigen::EigenBase<std::remove_cvref_t<F>>, std::remove_cvref_t<F>>;

/// Options of `evaluate_full_ranking`.
struct FullRankingOptions {
  /// Cut-offs, each >= 1, reported in this order.
  std::vector<std::size_t> ks{10};
  /// Metrics, reported in this order.
  std::vector<RankingMetric> metrics{all_ranking_metrics.begin(), all_ranking_metrics.end()};
  /// When set, a test item is relevant only if its rating is >= this value; otherwise every test
  /// item is relevant.
  std::optional<float> min_relevant_rating;
  /// Compute item coverage@K over the evaluated users.
  bool item_coverage = true;
  /// Threads with OpenMP (0 = the OpenMP default); ignored without OpenMP.
  int num_threads = 0;
};

/// Results of `evaluate_full_ranking`: means, per-user values and the top lists.
struct FullRankingResult {
  /// Padding of `top_items` when a user has fewer than max_k candidates.
  static constexpr std::uint32_t no_item = std::numeric_limits<std::uint32_t>::max();

  std::vector<std::size_t> ks;          ///< cut-offs, as requested
  std::vector<RankingMetric> metrics;   ///< metrics, as requested
  std::size_t max_k = 0;                ///< largest cut-off
  std::vector<std::uint32_t> users;     ///< evaluated users (>= 1 relevant item), ascending
  /// users.size() x (metrics.size() * ks.size()); column `column(m, j)` holds metric m at ks[j].
  Eigen::MatrixXd per_user;
  /// metrics.size() x ks.size(): mean over evaluated users (NaN entries, possible only for graded
  /// NDCG when all of a user's relevant ratings are 0, are left out of that mean).
  Eigen::MatrixXd mean;
  std::vector<double> coverage;         ///< item coverage at each ks[j] (empty when disabled)
  std::vector<std::uint32_t> top_items; ///< users.size() x max_k, row-major, best first
  std::size_t users_skipped = 0;        ///< users with test rows but no relevant item

  /// Column of (metric index, k index) in `per_user`.
  [[nodiscard]] std::size_t column(std::size_t metric_index, std::size_t k_index) const noexcept {
    return metric_index * ks.size() + k_index;
  }
  /// Mean of metric `m` at cut-off `k`.
  /// @throws std::invalid_argument when (m, k) was not requested
  [[nodiscard]] double value(RankingMetric m, std::size_t k) const {
    const auto mi = std::find(metrics.begin(), metrics.end(), m);
    const auto ki = std::find(ks.begin(), ks.end(), k);
    if (mi == metrics.end() || ki == ks.end())
      detail::throw_invalid("FullRankingResult::value", "metric or cut-off not computed",
                            std::string(name(m)) + "@" + std::to_string(k),
                            "add it to FullRankingOptions::metrics / ks");
    return mean(mi - metrics.begin(), ki - ks.begin());
  }
  /// Top max_k items of the evaluated user at position `user_pos` of `users`.
  [[nodiscard]] std::span<const std::uint32_t> top(std::size_t user_pos) const noexcept {
    return {top_items.data() + user_pos * max_k, max_k};
  }
};

}  // namespace metarec::metrics

namespace metarec::detail {


/// Per-thread work space of the full-ranking pass: allocated once per thread, reused per user.
struct RankingBuffers {
  Eigen::VectorXf scores;
  std::vector<std::uint32_t> candidates;
  std::vector<std::uint8_t> masked;
  std::vector<float> grade_of;  // grade of each item for the current user, -1 when not relevant
  std::vector<float> ideal;
  RankingBuffers(std::uint32_t num_items, std::size_t max_relevant)
      : scores(static_cast<Eigen::Index>(num_items)),
        masked(num_items, 0),
        grade_of(num_items, -1.0f) {
    candidates.reserve(num_items);
    ideal.reserve(max_relevant);
  }
};

}  // namespace metarec::detail

namespace metarec::metrics {

/// Full-ranking top-K evaluation with training items masked (see the file comment for the
/// protocol, tie-breaking and the treatment of users without relevant items).
/// @param ds          the data set the rows refer to
/// @param train_rows  training rows: each user's training items are excluded from its ranking
/// @param test_rows   test rows: each user's relevant items (see `min_relevant_rating`)
/// @param score_fn    `score_fn(user, out)` fills the score of every item (see `UserScorer`)
/// @param options     cut-offs, metrics, relevance threshold, coverage, threads
/// @return means, per-user values, coverage and the top lists
/// @throws std::invalid_argument when a row is out of range, a row is both train and test, a
///         cut-off is 0, or no metric / cut-off is requested; anything `score_fn` throws (the one
///         of the lowest user index, after the pass)
/// @code
/// metarec::metrics::FullRankingOptions opt{.ks = {5, 10}, .min_relevant_rating = 4.0f};
/// auto res = metarec::metrics::evaluate_full_ranking(
///     ds, train, test,
///     [&](std::uint32_t u, Eigen::Ref<Eigen::VectorXf> out) { out = items * user_factors.col(u); },
///     opt);
/// double ndcg10 = res.value(metarec::metrics::RankingMetric::ndcg, 10);
/// @endcode
template <UserScorer ScoreFn>
[[nodiscard]] FullRankingResult evaluate_full_ranking(const Dataset& ds,
                                                      std::span<const RowIndex> train_rows,
                                                      std::span<const RowIndex> test_rows,
                                                      ScoreFn&& score_fn,
                                                      const FullRankingOptions& options = {}) {
  constexpr const char* fn = "metrics::evaluate_full_ranking";
  if (options.ks.empty() || options.metrics.empty())
    detail::throw_invalid(fn, "nothing to compute",
                          std::to_string(options.ks.size()) + " cut-offs, " +
                              std::to_string(options.metrics.size()) + " metrics",
                          "request at least one metric and one cut-off");
  for (const std::size_t k : options.ks) detail::require_positive_k(fn, k);
  detail::check_rows(ds, train_rows, fn, false, "train_rows row");
  detail::check_rows(ds, test_rows, fn, false, "test_rows row");
  {
    std::vector<std::uint8_t> is_train(ds.num_ratings(), 0);
    for (const RowIndex r : train_rows) is_train[r] = 1;
    for (std::size_t i = 0; i < test_rows.size(); ++i)
      if (is_train[test_rows[i]])
        detail::throw_invalid(fn, "a row is both a training and a test row",
                              "test_rows[" + std::to_string(i) + "] = " +
                                  std::to_string(test_rows[i]),
                              "pass disjoint splits");
  }

  const std::uint32_t num_items = ds.num_items();
  const auto user_of = [&](RowIndex r) { return ds.user(r); };
  const CompressedIndex train = CompressedIndex::group(train_rows, ds.num_users(), user_of);
  const CompressedIndex all_test = CompressedIndex::group(test_rows, ds.num_users(), user_of);
  const auto& threshold = options.min_relevant_rating;
  std::vector<RowIndex> relevant_rows;
  for (const RowIndex r : test_rows)
    if (!threshold || ds.rating(r) >= *threshold) relevant_rows.push_back(r);
  const CompressedIndex relevant = CompressedIndex::group(relevant_rows, ds.num_users(), user_of);

  FullRankingResult res;
  res.ks = options.ks;
  res.metrics = options.metrics;
  res.max_k = *std::max_element(res.ks.begin(), res.ks.end());
  std::size_t max_relevant = 0;
  for (std::uint32_t u = 0; u < ds.num_users(); ++u) {
    const std::size_t nr = relevant.count(u);
    if (nr > 0) {
      res.users.push_back(u);
      max_relevant = std::max(max_relevant, nr);
    } else if (all_test.count(u) > 0) {
      ++res.users_skipped;
    }
  }
  const std::size_t nu = res.users.size();
  const std::size_t nm = res.metrics.size(), nk = res.ks.size();
  res.per_user.resize(static_cast<Eigen::Index>(nu), static_cast<Eigen::Index>(nm * nk));
  res.top_items.assign(nu * res.max_k, FullRankingResult::no_item);

  std::exception_ptr error;
  std::size_t error_user = nu;
  const auto n = static_cast<std::ptrdiff_t>(nu);
#ifdef METAREC_METRICS_OPENMP
  const int threads = options.num_threads > 0 ? options.num_threads : omp_get_max_threads();
#pragma omp parallel num_threads(threads)
#endif
  {
    std::optional<detail::RankingBuffers> buf;
    try {
      buf.emplace(num_items, max_relevant);
    } catch (...) {
#ifdef METAREC_METRICS_OPENMP
#pragma omp critical(metarec_full_ranking_error)
#endif
      if (!error) error = std::current_exception();
    }
#ifdef METAREC_METRICS_OPENMP
#pragma omp for schedule(dynamic, 8)
#endif
    for (std::ptrdiff_t idx = 0; idx < n; ++idx) {
      if (!buf) continue;
      try {
        detail::RankingBuffers& b = *buf;
        const std::uint32_t u = res.users[static_cast<std::size_t>(idx)];
        score_fn(u, Eigen::Ref<Eigen::VectorXf>(b.scores));
        float* s = b.scores.data();
        for (std::uint32_t i = 0; i < num_items; ++i)
          if (std::isnan(s[i])) s[i] = -std::numeric_limits<float>::infinity();
        // Candidates: every item except the user's training items.
        for (const RowIndex r : train[u]) b.masked[ds.item(r)] = 1;
        b.candidates.clear();
        for (std::uint32_t i = 0; i < num_items; ++i)
          if (!b.masked[i]) b.candidates.push_back(i);
        for (const RowIndex r : train[u]) b.masked[ds.item(r)] = 0;
        // Partial selection of the top max_k; strict total order: score desc, then index asc.
        const auto better = [s](std::uint32_t a, std::uint32_t c) {
          return s[a] > s[c] || (s[a] == s[c] && a < c);
        };
        const std::size_t top_n = std::min(res.max_k, b.candidates.size());
        const auto mid = b.candidates.begin() + static_cast<std::ptrdiff_t>(top_n);
        std::nth_element(b.candidates.begin(), mid, b.candidates.end(), better);
        std::sort(b.candidates.begin(), mid, better);
        // Relevance of the user's items and the ideal grades.
        const auto rel_rows = relevant[u];
        b.ideal.clear();
        for (const RowIndex r : rel_rows) {
          b.grade_of[ds.item(r)] = ds.rating(r);
          b.ideal.push_back(ds.rating(r));
        }
        const std::size_t cap = std::min(res.max_k, b.ideal.size());
        std::partial_sort(b.ideal.begin(), b.ideal.begin() + static_cast<std::ptrdiff_t>(cap),
                          b.ideal.end(), std::greater<>());
        const std::span<const std::uint32_t> ranked(b.candidates.data(), top_n);
        const auto grade_at = [&](std::size_t i) { return b.grade_of[ranked[i]]; };
        const auto ideal_at = [&](std::size_t i) { return b.ideal[i]; };
        const auto row = static_cast<Eigen::Index>(idx);
        for (std::size_t m = 0; m < nm; ++m)
          for (std::size_t j = 0; j < nk; ++j)
            res.per_user(row, static_cast<Eigen::Index>(res.column(m, j))) =
                detail::ranking_value(res.metrics[m], top_n, grade_at, rel_rows.size(),
                                      ideal_at, res.ks[j]);
        for (const RowIndex r : rel_rows) b.grade_of[ds.item(r)] = -1.0f;
        std::copy(ranked.begin(), ranked.end(),
                  res.top_items.begin() + static_cast<std::ptrdiff_t>(
                                              static_cast<std::size_t>(idx) * res.max_k));
      } catch (...) {
#ifdef METAREC_METRICS_OPENMP
#pragma omp critical(metarec_full_ranking_error)
#endif
        if (static_cast<std::size_t>(idx) < error_user || !error) {
          error = std::current_exception();
          error_user = static_cast<std::size_t>(idx);
        }
      }
    }
  }
  if (error) std::rethrow_exception(error);

  // Reduction in user order: identical for any thread count.
  res.mean.resize(static_cast<Eigen::Index>(nm), static_cast<Eigen::Index>(nk));
  for (std::size_t m = 0; m < nm; ++m)
    for (std::size_t j = 0; j < nk; ++j) {
      double sum = 0.0;
      std::size_t count = 0;
      const auto col = static_cast<Eigen::Index>(res.column(m, j));
      for (Eigen::Index r = 0; r < res.per_user.rows(); ++r) {
        const double v = res.per_user(r, col);
        if (!std::isnan(v)) {
          sum += v;
          ++count;
        }
      }
      res.mean(static_cast<Eigen::Index>(m), static_cast<Eigen::Index>(j)) =
          count > 0 ? sum / static_cast<double>(count) : detail::metric_nan;
    }
  if (options.item_coverage) {
    for (const std::size_t k : res.ks) {
      ItemCoverage cov(num_items);
      for (std::size_t p = 0; p < nu; ++p) {
        const auto t = res.top(p);
        const auto len = static_cast<std::size_t>(
            std::find(t.begin(), t.end(), FullRankingResult::no_item) - t.begin());
        if (len > 0) cov.add(t.first(len), k);
      }
      res.coverage.push_back(cov.value());
    }
  }
  return res;
}

/// Full-ranking evaluation from a dense score matrix (rows = users, columns = items).
/// @param scores  num_users x num_items predicted scores
/// @throws std::invalid_argument when the matrix shape does not match the data set, and as the
///         callable overload
/// @code
/// Eigen::MatrixXf scores = user_factors * item_factors.transpose();
/// auto res = metarec::metrics::evaluate_full_ranking(ds, train, test, scores, {.ks = {10}});
/// @endcode
[[nodiscard]] inline FullRankingResult evaluate_full_ranking(
    const Dataset& ds, std::span<const RowIndex> train_rows, std::span<const RowIndex> test_rows,
    const Eigen::Ref<const Eigen::MatrixXf>& scores, const FullRankingOptions& options = {}) {
  if (scores.rows() != static_cast<Eigen::Index>(ds.num_users()) ||
      scores.cols() != static_cast<Eigen::Index>(ds.num_items()))
    detail::throw_invalid("metrics::evaluate_full_ranking", "score matrix shape mismatch",
                          "scores " + std::to_string(scores.rows()) + "x" +
                              std::to_string(scores.cols()) + ", data set " +
                              std::to_string(ds.num_users()) + " users x " +
                              std::to_string(ds.num_items()) + " items",
                          "rows must be users and columns items");
  return evaluate_full_ranking(
      ds, train_rows, test_rows,
      [&scores](std::uint32_t u, Eigen::Ref<Eigen::VectorXf> out) {
        out = scores.row(static_cast<Eigen::Index>(u)).transpose();
      },
      options);
}

}  // namespace metarec::metrics

namespace metarec::detail {

/// NDCG@k of one query list; `order` and `ideal` are caller-owned work space.
template <class S>
double query_ndcg_core(std::span<const S> ratings, std::span<const S> predicted, std::size_t k,
                       std::vector<std::uint32_t>& order, std::vector<double>& ideal) {
  const std::size_t n = ratings.size();
  if (n == 0) return metric_nan;
  order.resize(n);
  for (std::uint32_t i = 0; i < n; ++i) order[i] = i;
  const std::size_t top = std::min(k, n);
  const auto better = [&](std::uint32_t a, std::uint32_t b) {
    return predicted[a] > predicted[b] || (predicted[a] == predicted[b] && a < b);
  };
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                    better);
  ideal.resize(n);
  for (std::size_t i = 0; i < n; ++i) ideal[i] = static_cast<double>(ratings[i]);
  std::partial_sort(ideal.begin(), ideal.begin() + static_cast<std::ptrdiff_t>(top), ideal.end(),
                    std::greater<>());
  double dcg = 0.0, idcg = 0.0;
  for (std::size_t i = 0; i < top; ++i) {
    const double d = 1.0 / std::log2(static_cast<double>(i) + 2.0);
    dcg += (std::exp2(static_cast<double>(ratings[order[i]])) - 1.0) * d;
    idcg += (std::exp2(ideal[i]) - 1.0) * d;
  }
  return idcg > 0.0 ? dcg / idcg : metric_nan;
}

template <class S>
double query_ndcg_impl(std::span<const S> ratings, std::span<const S> predicted, std::size_t k) {
  constexpr const char* fn = "metrics::query_ndcg";
  require_positive_k(fn, k);
  require_same_size(fn, "true_ratings", ratings.size(), "predicted", predicted.size());
  require_no_nan(fn, "predicted", predicted);
  for (std::size_t i = 0; i < ratings.size(); ++i)
    if (!(std::isfinite(ratings[i]) && ratings[i] >= 0))
      throw_invalid(fn, "true ratings must be finite and >= 0",
                    "true_ratings[" + std::to_string(i) + "] = " + std::to_string(ratings[i]),
                    "gains are 2^rating - 1");
  std::vector<std::uint32_t> order;
  std::vector<double> ideal;
  return query_ndcg_core(ratings, predicted, k, order, ideal);
}

}  // namespace metarec::detail

namespace metarec::metrics {

/// MeLU-style NDCG@K of one user's query set: the query items are ranked by predicted score
/// (equal predictions: the earlier position first), gain 2^r - 1 of the TRUE rating r, discount
/// 1/log2(rank + 1), ideal DCG from the true ratings sorted descending; with fewer than K items
/// both sums stop at the number of items.
/// @param true_ratings  true rating per query item (finite, >= 0)
/// @param predicted     predicted score per query item
/// @param k             cut-off, at least 1 (MeLU reports K = 1 and 3)
/// @return NDCG in [0, 1]; NaN when there are no items or all true ratings are 0
/// @throws std::invalid_argument when sizes differ, k = 0, a prediction is NaN or a rating is
///         negative or not finite
/// @code
/// std::vector<float> r{5, 3, 1}, p{0.2f, 0.9f, 0.1f};
/// double n1 = metarec::metrics::query_ndcg(r, p, 1);  // (2^3 - 1) / (2^5 - 1) = 7/31
/// @endcode
[[nodiscard]] inline double query_ndcg(std::span<const float> true_ratings,
                                       std::span<const float> predicted, std::size_t k) {
  return detail::query_ndcg_impl(true_ratings, predicted, k);
}
/// @copydoc query_ndcg(std::span<const float>, std::span<const float>, std::size_t)
[[nodiscard]] inline double query_ndcg(std::span<const double> true_ratings,
                                       std::span<const double> predicted, std::size_t k) {
  return detail::query_ndcg_impl(true_ratings, predicted, k);
}

/// Results of `evaluate_query_ndcg`.
struct QueryNdcgResult {
  std::vector<std::size_t> ks;       ///< cut-offs, as requested
  std::vector<std::uint32_t> users;  ///< evaluated users, ascending
  Eigen::MatrixXd per_user;          ///< users.size() x ks.size()
  std::vector<double> mean;          ///< mean over evaluated users, per cut-off
  std::size_t users_skipped = 0;     ///< users with query rows whose true ratings are all 0
};

/// MeLU-style rating-query NDCG@K averaged over users: each user's query rows are ranked by
/// `predicted` (equal predictions: the lower ITEM INDEX first) and scored with `query_ndcg`.
/// @param ds          the data set the rows refer to (true ratings, users, items)
/// @param query_rows  the query rows of all users
/// @param predicted   prediction per query row, aligned with `query_rows`
/// @param ks          cut-offs, each >= 1
/// @return per-user and mean NDCG per cut-off
/// @throws std::invalid_argument when sizes differ, a row is out of range or repeated, a cut-off
///         is 0, no cut-off is given, or a prediction is NaN
/// @code
/// std::vector<float> pred = model_predictions_for(query_rows);
/// std::vector<std::size_t> ks{1, 3};
/// auto r = metarec::metrics::evaluate_query_ndcg(ds, query_rows, pred, ks);  // r.mean[0] = nDCG@1
/// @endcode
[[nodiscard]] inline QueryNdcgResult evaluate_query_ndcg(const Dataset& ds,
                                                         std::span<const RowIndex> query_rows,
                                                         std::span<const float> predicted,
                                                         std::span<const std::size_t> ks) {
  constexpr const char* fn = "metrics::evaluate_query_ndcg";
  detail::require_same_size(fn, "query_rows", query_rows.size(), "predicted", predicted.size());
  if (ks.empty()) detail::throw_invalid(fn, "no cut-off", "ks is empty", "pass e.g. {1, 3}");
  for (const std::size_t k : ks) detail::require_positive_k(fn, k);
  detail::check_rows(ds, query_rows, fn, false, "query_rows row");
  detail::require_no_nan(fn, "predicted", predicted);
  std::vector<std::uint32_t> order(query_rows.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    const RowIndex ra = query_rows[a], rb = query_rows[b];
    return ds.user(ra) != ds.user(rb) ? ds.user(ra) < ds.user(rb) : ds.item(ra) < ds.item(rb);
  });
  for (std::size_t i = 1; i < order.size(); ++i)
    if (query_rows[order[i]] == query_rows[order[i - 1]])
      detail::throw_invalid(fn, "a query row is repeated",
                            "row " + std::to_string(query_rows[order[i]]),
                            "pass each query row once");
  QueryNdcgResult res;
  res.ks.assign(ks.begin(), ks.end());
  std::vector<float> ratings, preds;
  std::vector<std::uint32_t> work;
  std::vector<double> ideal;
  std::vector<double> values;  // users x ks, row-major, grown as users are found
  std::size_t i = 0;
  while (i < order.size()) {
    const std::uint32_t u = ds.user(query_rows[order[i]]);
    ratings.clear();
    preds.clear();
    std::size_t j = i;
    for (; j < order.size() && ds.user(query_rows[order[j]]) == u; ++j) {
      ratings.push_back(ds.rating(query_rows[order[j]]));
      preds.push_back(predicted[order[j]]);
    }
    const std::size_t first = values.size();
    bool skipped = false;
    for (const std::size_t k : ks) {
      const double v = detail::query_ndcg_core<float>(ratings, preds, k, work, ideal);
      skipped = std::isnan(v);
      values.push_back(v);
    }
    if (skipped) {
      values.resize(first);
      ++res.users_skipped;
    } else {
      res.users.push_back(u);
    }
    i = j;
  }
  const std::size_t nk = ks.size();
  res.per_user.resize(static_cast<Eigen::Index>(res.users.size()), static_cast<Eigen::Index>(nk));
  res.mean.assign(nk, 0.0);
  for (std::size_t p = 0; p < res.users.size(); ++p)
    for (std::size_t c = 0; c < nk; ++c) {
      res.per_user(static_cast<Eigen::Index>(p), static_cast<Eigen::Index>(c)) =
          values[p * nk + c];
      res.mean[c] += values[p * nk + c];
    }
  for (double& m : res.mean)
    m = res.users.empty() ? detail::metric_nan : m / static_cast<double>(res.users.size());
  return res;
}

}  // namespace metarec::metrics
