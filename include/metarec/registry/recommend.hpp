#pragma once
/// @file recommend.hpp
/// @brief A new user's top-N in one call: θ adapted to their ratings (`MetaModel::score_new_user`),
/// every item they have not rated ranked by a blend of the adapted model's predicted rating and an
/// item-item prior (EASE fold-in), or by either alone.
///
/// Why a blend: a model fitted to rating values ranks the whole catalogue poorly (rarely-rated
/// items get confident, noisy predictions and clipping ties them at the top), while EASE fold-in
/// knows which items go together but nothing of how much this user liked them. On ML-1M's
/// melu-user-cold test users (bench_cold_start, docs/benchmarks.md: top-10 over every unrated
/// item, relevant = query items rated >= 4) mf-side adapted by MAML alone reaches Recall@10 0.023,
/// EASE fold-in 0.286, and the blend below (w = 0.5, EASE's λ = 1000, both chosen on validation
/// users) 0.291; NDCG@10 0.021, 0.280 and 0.285.
///
///     score_i = z(ease)_i + w · z(predicted)_i
///
/// where z standardises over the user's candidates (mean 0, standard deviation 1; a constant
/// vector gives 0), so w is free of either model's scale. Ties rank the lower item index first.
/// Thread-safe: `recommend_new_user` only reads the model, θ and the prior (users adapted in
/// parallel get the same lists as one at a time).
/// @code
/// const metarec::registry::ItemPrior prior(ds, all_rows, 1000.0);  // one Cholesky, once
/// const auto top = metarec::registry::recommend_new_user(*model, theta, nullptr, c.adapt_options(),
///                                                        &prior, ds, new_user, {.top = 10});
/// @endcode

#include <metarec/core/parameters.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/new_user.hpp>
#include <metarec/data/row_batch.hpp>
#include <metarec/meta/adapt.hpp>
#include <metarec/models/autoencoder/ease.hpp>
#include <metarec/registry/fold_in.hpp>
#include <metarec/registry/meta_model.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace metarec::registry {

/// What orders a new user's candidates.
enum class RankBy {
  blend,   ///< z(EASE fold-in) + w z(predicted rating) (the default)
  rating,  ///< the adapted model's predicted rating alone
  ease,    ///< EASE fold-in alone (the model is still adapted for the printed ratings)
};

/// "blend", "rating" or "ease".
/// @throws std::invalid_argument otherwise
[[nodiscard]] inline RankBy parse_rank_by(const std::string& s) {
  if (s == "blend") return RankBy::blend;
  if (s == "rating") return RankBy::rating;
  if (s == "ease") return RankBy::ease;
  throw std::invalid_argument("--rank must be one of blend, rating, ease (got '" + s + "')");
}

/// Options of `recommend_new_user`; the defaults are bench_cold_start's validation choice for mf-side.
struct RecommendOptions {
  RankBy rank_by = RankBy::blend;
  double blend_weight = 0.5;  ///< w
  std::size_t top = 10;
};

/// out = z(a) + w z(b), each standardised over its entries (a constant vector standardises to 0).
/// @throws std::invalid_argument when the sizes differ
inline void blend_standardised(std::span<const float> a, std::span<const float> b, double w, std::span<float> out) {
  if (a.size() != b.size() || a.size() != out.size())
    throw std::invalid_argument("blend_standardised: sizes " + std::to_string(a.size()) + ", " +
                                std::to_string(b.size()) + ", " + std::to_string(out.size()));
  auto moments = [](std::span<const float> v) {
    double m = 0, q = 0;
    for (const float x : v) m += x;
    m /= static_cast<double>(std::max<std::size_t>(v.size(), 1));
    for (const float x : v) q += (x - m) * (x - m);
    const double sd = std::sqrt(q / static_cast<double>(std::max<std::size_t>(v.size(), 1)));
    return std::pair<double, double>{m, sd > 1e-12 ? 1.0 / sd : 0.0};
  };
  const auto [ma, ia] = moments(a);
  const auto [mb, ib] = moments(b);
  for (std::size_t i = 0; i < a.size(); ++i)
    out[i] = static_cast<float>((a[i] - ma) * ia + w * (b[i] - mb) * ib);
}

/// EASE fitted once, in closed form, on rows of a data set (binary: every rating is an
/// interaction); scores a new user by fold-in, x B, in O(ratings × items).
class ItemPrior {
 public:
  /// @param reg EASE's λ (bench_cold_start's validation choice on ML-1M: 1000)
  /// @throws std::invalid_argument on reg < 0 or rows outside `ds`; numerical_error when the fit fails
  ItemPrior(const Dataset& ds, std::span<const RowIndex> rows, double reg)
      : ease_(ds, {.reg = reg}, rows), B_(ease_.num_parameters()) {
    const WholeRows users(ds, rows, RowSide::user);
    ease_.fit_closed_form(B_, users.batch());
  }

  /// Every item's fold-in score for user `user` of `data` (a data set over the same items) whose
  /// rated rows are `rated`; `out` has one entry per item, OVERWRITTEN.
  void scores(const Dataset& data, std::uint32_t user, std::span<const RowIndex> rated,
              Eigen::Ref<Matrix<float>> out) const {
    const RowExample ex{user, rated, rated};
    ease_.score_all(B_, RowBatch{&data, {&ex, 1}, 0, RowSide::user}, out);
  }

  [[nodiscard]] std::uint32_t num_items() const noexcept { return ease_.num_columns(); }

 private:
  Ease<float> ease_;
  Vector<float> B_;
};

/// One recommended item of a new user.
struct NewUserRecommendation {
  std::uint32_t item = 0;  ///< dense item index
  float predicted = 0;     ///< the adapted model's predicted rating (unclipped)
  float score = 0;         ///< what ranked it (the blend, the rating or EASE's score)
};

/// The `o.top` best items of `user` (ratings and side features over the items of `ds`, the data
/// set the model was built for) among those they have not rated: θ adapted with `ao` (and
/// Meta-SGD's `alpha` when not null), ranked as `o.rank_by` says.
/// @throws std::invalid_argument when the ranking needs `prior` and it is null or over another
///         number of items, or on a bad user (new_user_dataset)
[[nodiscard]] inline std::vector<NewUserRecommendation> recommend_new_user(
    const MetaModel& model, const Vector<float>& theta, const Vector<float>* alpha, const AdaptOptions& ao,
    const ItemPrior* prior, const Dataset& ds, const NewUser& user, const RecommendOptions& o = {}) {
  if (o.rank_by != RankBy::rating && (prior == nullptr || prior->num_items() != ds.num_items()))
    throw std::invalid_argument("recommend_new_user: ranking by EASE or the blend needs an ItemPrior over the " +
                                std::to_string(ds.num_items()) + " items");
  const Dataset one = new_user_dataset(ds, user);
  const std::size_t n = user.items.size(), m = one.num_ratings() - n;
  std::vector<RowIndex> support(n), candidates(m);
  std::iota(support.begin(), support.end(), RowIndex{0});
  std::iota(candidates.begin(), candidates.end(), static_cast<RowIndex>(n));
  const Vector<float> predicted = model.score_new_user(theta, alpha, ao, one, support, candidates);
  std::vector<float> score(predicted.data(), predicted.data() + m);
  if (o.rank_by != RankBy::rating) {
    Matrix<float> all(ds.num_items(), 1);
    prior->scores(one, 0, support, all);
    std::vector<float> ease(m);
    for (std::size_t j = 0; j < m; ++j) ease[j] = all(one.item(candidates[j]), 0);
    if (o.rank_by == RankBy::ease)
      score = ease;
    else
      blend_standardised(ease, std::span<const float>(predicted.data(), m), o.blend_weight, score);
  }
  std::vector<std::uint32_t> order(m);
  std::iota(order.begin(), order.end(), 0u);
  const std::size_t k = std::min(o.top, m);
  const auto key = [&](std::uint32_t j) {
    return std::isnan(score[j]) ? -std::numeric_limits<float>::infinity() : score[j];
  };
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [&](std::uint32_t a, std::uint32_t b) {
                      if (key(a) != key(b)) return key(a) > key(b);
                      return one.item(candidates[a]) < one.item(candidates[b]);
                    });
  std::vector<NewUserRecommendation> out(k);
  for (std::size_t r = 0; r < k; ++r)
    out[r] = {one.item(candidates[order[r]]), predicted[order[r]], score[order[r]]};
  return out;
}

/// The `top` best items of `user` among those they have not rated by a top-N model's fold-in
/// scores (`FoldInScorer`: the user's ratings, in the order given, are the model's input; nothing
/// is fitted). `predicted` and `score` are both the model's score; ties rank the lower item index
/// first.
/// @throws std::invalid_argument on a bad user (new_user_dataset)
[[nodiscard]] inline std::vector<NewUserRecommendation> recommend_by_fold_in(const FoldInScorer& scorer,
                                                                            const Dataset& ds, const NewUser& user,
                                                                            std::size_t top) {
  const Dataset one = new_user_dataset(ds, user);
  const std::size_t n = user.items.size(), m = one.num_ratings() - n;
  std::vector<RowIndex> rated(n);
  std::iota(rated.begin(), rated.end(), RowIndex{0});
  Matrix<float> all(ds.num_items(), 1);
  scorer.scores(one, rated, all);
  std::vector<std::uint32_t> items(m);
  for (std::size_t j = 0; j < m; ++j) items[j] = one.item(static_cast<RowIndex>(n + j));
  const auto key = [&](std::uint32_t i) {
    const float v = all(i, 0);
    return std::isnan(v) ? -std::numeric_limits<float>::infinity() : v;
  };
  const std::size_t k = std::min(top, m);
  std::partial_sort(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(k), items.end(),
                    [&](std::uint32_t a, std::uint32_t b) { return key(a) != key(b) ? key(a) > key(b) : a < b; });
  std::vector<NewUserRecommendation> out(k);
  for (std::size_t r = 0; r < k; ++r) out[r] = {items[r], all(items[r], 0), all(items[r], 0)};
  return out;
}

}  // namespace metarec::registry
