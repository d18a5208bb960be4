#pragma once
/// @file fold_in.hpp
/// @brief A top-N model's scores for a user it was not trained on, from that user's ratings alone
/// ("fold-in": the ratings are the model's input, nothing is fitted): what `metarec adapt` serves
/// for a model written by `metarec train --save` on a top-N protocol (Mult-VAE, Mult-DAE, SVAE,
/// EASE). The registry entry's `fold_in` builds one from the saved settings and θ.
/// @code
/// const auto scorer = entry.fold_in(ds, settings, theta);  // checks θ's size
/// Matrix<float> s(ds.num_items(), 1);
/// scorer->scores(one_user_data, rated_rows, s);             // every item's score
/// @endcode

#include <metarec/core/parameters.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/row_batch.hpp>

#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>

namespace metarec::registry {

/// Scores every item for one user from the user's rated rows. Thread-safe (`scores` is const and
/// the models' scratch is per thread).
class FoldInScorer {
 public:
  virtual ~FoldInScorer() = default;
  /// Every item's score for user 0 of `one` (a data set over the model's items) whose rated rows
  /// are `rated` (in time order for sequence models: by their times); `out` is items × 1,
  /// OVERWRITTEN.
  virtual void scores(const Dataset& one, std::span<const RowIndex> rated, Eigen::Ref<Matrix<float>> out) const = 0;
};

/// A whole-row model with `score_all` and its θ as a `FoldInScorer`.
template <class M>
class FoldInModel final : public FoldInScorer {
 public:
  /// @throws std::invalid_argument when θ does not have the model's size
  FoldInModel(M model, Vector<float> theta, const std::string& who)
      : model_(std::move(model)), theta_(std::move(theta)) {
    if (theta_.size() != model_.num_parameters())
      throw std::invalid_argument(who + ": " + std::to_string(theta_.size()) + " parameters, the model with the saved "
                                  "settings has " + std::to_string(model_.num_parameters()));
  }
  void scores(const Dataset& one, std::span<const RowIndex> rated, Eigen::Ref<Matrix<float>> out) const override {
    const RowExample ex{0, rated, rated};
    model_.score_all(theta_, RowBatch{&one, {&ex, 1}, 0, RowSide::user}, out);
  }

 private:
  M model_;
  Vector<float> theta_;
};

}  // namespace metarec::registry
