#pragma once
/// @file item_scores.hpp
/// @brief Scores of every item for a user, from any model, for full-ranking evaluation and top-N
/// lists: `ItemScorer` (a `metrics::UserScorer`), `ranking_metrics` (precision, recall, NDCG, MAP,
/// hit rate at each K, the user's training — and validation — items removed from the candidates)
/// and `top_n` (one user's best unseen items).
///
/// How a model scores all items, in order of preference:
/// - whole-row models (`Batch = RowBatch`) with `score_all(θ, batch, out)` (`HasRowScores`): one
///   pass from the user's input rows to every item's score;
/// - rating-row models with `score_items(θ, data, user, out)` (`HasItemScores`: the MF family);
/// - any other rating-row model: `predict` on a data set of the user's (user, item) pairs with the
///   same entities (`with_same_entities`), one per call (slower, but every model has it).

#include <metarec/core/concepts.hpp>
#include <metarec/data/batch.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/row_batch.hpp>
#include <metarec/metrics/full_ranking.hpp>
#include <metarec/report/train_report.hpp>

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <vector>

namespace metarec::report {

/// Optional: a whole-row model scores every column of each example:
/// `void score_all(const ConstVectorRef<S>& θ, const RowBatch& batch, Eigen::Ref<Matrix<S>> out) const`
/// with out sized num_columns × batch.size() (overwritten). Targets are ignored.
template <class M>
concept HasRowScores =
    Model<M> && std::same_as<typename M::Batch, RowBatch> &&
    requires(const M& m, const Vector<typename M::Scalar>& t, const RowBatch& b,
             Matrix<typename M::Scalar>& out) {
      m.score_all(t, b, Eigen::Ref<Matrix<typename M::Scalar>>(out));
    };

/// Optional: a rating-row model scores every item for one user of `data`:
/// `void score_items(const ConstVectorRef<S>& θ, const Dataset& data, std::uint32_t user,
/// VectorRef<S> out) const` with out sized num_items (overwritten).
template <class M>
concept HasItemScores =
    Model<M> && requires(const M& m, const Vector<typename M::Scalar>& t, const Dataset& d,
                         std::uint32_t u, Vector<typename M::Scalar>& out) {
      m.score_items(t, d, u, VectorRef<typename M::Scalar>(out));
    };

/// Scores every item for a user (see the file comment); a `metrics::UserScorer`, safe to call from
/// several threads at once (the model is const; scratch is per call). For whole-row models the
/// user's input is their rows in `inputs` (the training rows of a split); for rating-row models
/// `inputs` is not used.
template <Model M>
class ItemScorer {
 public:
  using S = typename M::Scalar;

  ItemScorer(const M& model, const Vector<S>& theta, const Dataset& data,
             const WholeRows* inputs = nullptr)
      : model_(&model), theta_(&theta), data_(&data), inputs_(inputs) {
    if constexpr (std::same_as<typename M::Batch, RowBatch>) {
      static_assert(HasRowScores<M>, "metarec::report::ItemScorer: a whole-row model needs "
                                     "score_all(theta, batch, out) to score every item");
      if (inputs == nullptr)
        throw std::invalid_argument("ItemScorer: a whole-row model needs the users' input rows "
                                    "(a WholeRows of the training rows)");
    }
  }

  void operator()(std::uint32_t user, Eigen::Ref<Eigen::VectorXf> out) const {
    const std::uint32_t n = data_->num_items();
    if constexpr (std::same_as<typename M::Batch, RowBatch>) {
      const RowExample ex{user, inputs_->input_of(user), {}};
      Matrix<S> scores(n, 1);
      model_->score_all(*theta_, RowBatch{data_, std::span<const RowExample>(&ex, 1), 0, RowSide::user},
                        Eigen::Ref<Matrix<S>>(scores));
      out = scores.col(0).template cast<float>();
    } else if constexpr (HasItemScores<M>) {
      Vector<S> scores(n);
      model_->score_items(*theta_, *data_, user, VectorRef<S>(scores));
      out = scores.template cast<float>();
    } else {
      std::vector<std::uint32_t> users(n, user), items(n);
      std::iota(items.begin(), items.end(), 0u);
      const Dataset pairs = with_same_entities(*data_, std::move(users), std::move(items),
                                               std::vector<float>(n, 0.0f));
      std::vector<RowIndex> rows(n);
      std::iota(rows.begin(), rows.end(), RowIndex{0});
      Vector<S> scores(n);
      model_->predict(*theta_, RatingBatch{&pairs, rows, 0}, scores);
      out = scores.template cast<float>();
    }
  }

 private:
  const M* model_;
  const Vector<S>* theta_;
  const Dataset* data_;
  const WholeRows* inputs_;
};

/// Full-ranking metrics of a scorer: for every user with relevant `test_rows`, the items of
/// `seen_rows` (training, and validation for the test part) are removed from the candidates and
/// the rest ranked; precision, recall, NDCG, MAP and hit rate at each cut-off, in that order
/// (`precision@10`, `recall@10`, ...), then the user count. `capped_recall` reports recall as
/// hits / min(K, |R|) (the original study's convention on seed-ae) instead of hits / |R|.
template <metrics::UserScorer Scorer>
MetricValues ranking_metrics(const Dataset& ds, std::span<const RowIndex> seen_rows,
                             std::span<const RowIndex> test_rows, Scorer&& scorer,
                             const std::vector<std::size_t>& ks, bool capped_recall = false,
                             int threads = 0) {
  using metrics::RankingMetric;
  const std::vector<RankingMetric> ms{RankingMetric::precision,
                                      capped_recall ? RankingMetric::recall_capped : RankingMetric::recall,
                                      RankingMetric::ndcg, RankingMetric::map, RankingMetric::hit};
  metrics::FullRankingOptions o{.ks = ks, .metrics = ms, .min_relevant_rating = std::nullopt,
                                .item_coverage = false, .num_threads = threads};
  const auto r = metrics::evaluate_full_ranking(ds, seen_rows, test_rows, scorer, o);
  const char* names[] = {"precision", "recall", "ndcg", "map", "hit"};
  MetricValues out;
  for (std::size_t m = 0; m < ms.size(); ++m)
    for (std::size_t j = 0; j < ks.size(); ++j)
      out.add(std::string(names[m]) + "@" + std::to_string(ks[j]),
              r.mean(static_cast<Eigen::Index>(m), static_cast<Eigen::Index>(j)));
  out.add("users", static_cast<double>(r.users.size()));
  return out;
}

/// One recommended item.
struct Recommendation {
  std::uint32_t item = 0;  ///< dense item index
  float score = 0;         ///< the model's score (unclipped)
};

/// A user's `n` best items by `scorer`, the items of `exclude` (dense indices: what they rated)
/// left out; ties rank the lower item index first, NaN scores last.
template <metrics::UserScorer Scorer>
std::vector<Recommendation> top_n(Scorer&& scorer, std::uint32_t user, std::uint32_t num_items,
                                  std::span<const std::uint32_t> exclude, std::size_t n) {
  Eigen::VectorXf s(num_items);
  scorer(user, Eigen::Ref<Eigen::VectorXf>(s));
  std::vector<char> skip(num_items, 0);
  for (const std::uint32_t i : exclude)
    if (i < num_items) skip[i] = 1;
  std::vector<std::uint32_t> cand;
  for (std::uint32_t i = 0; i < num_items; ++i)
    if (!skip[i]) cand.push_back(i);
  auto key = [&](std::uint32_t i) { return std::isnan(s[i]) ? -std::numeric_limits<float>::infinity() : s[i]; };
  const auto better = [&](std::uint32_t a, std::uint32_t b) {
    return key(a) > key(b) || (key(a) == key(b) && a < b);
  };
  const std::size_t k = std::min(n, cand.size());
  std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(k), cand.end(), better);
  std::vector<Recommendation> out;
  for (std::size_t j = 0; j < k; ++j) out.push_back({cand[j], s[cand[j]]});
  return out;
}

}  // namespace metarec::report
