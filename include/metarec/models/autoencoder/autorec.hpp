#pragma once
/// @file autorec.hpp
/// @brief AutoRec (Sedhain, Menon, Sanner, Xie, WWW 2015): a one-hidden-layer autoencoder of
/// partially observed rating vectors. I-AutoRec reads an item's ratings by users
/// (`RowSide::item`, `autorec-i`), U-AutoRec a user's ratings of items (`RowSide::user`,
/// `autorec-u`).
///
///     h = g(V r + μ),   r̂_j = W_{:,j} · h + b_j        (g = sigmoid, identity output)
///
/// Loss on a batch B of rows (the paper's objective divided by the N training rows, so that its λ
/// keeps its meaning whatever the batch size):
///
///     L = 1/|B| Σ_{e∈B} Σ_{j observed in e} (r̂_ej − r_ej)²  +  λ/(2N) (‖W‖²_F + ‖V‖²_F)
///
/// Only observed outputs are computed (masked loss: O(nnz × h) per batch, never O(n × h)); the
/// biases are not penalised. The input at test time is the row's TRAINING ratings only (the
/// original study's code fed the test ratings in). Predictions are clipped to [1, 5]; a row
/// without training ratings, or an output column (user for I-AutoRec, item for U-AutoRec) without
/// training ratings, gets `default_rating` (the mean training rating when built from training
/// rows, as the registry does).
///
/// Exact gradient (dense; the penalty touches every weight) and exact Hessian-vector product
/// (forward-mode duals through the same code, row_model.hpp). Task-local segments for MAML: the
/// hidden bias μ (docs/models_ae.md).

#include <metarec/data/dataset.hpp>
#include <metarec/data/row_batch.hpp>
#include <metarec/models/autoencoder/detail/row_network.hpp>
#include <metarec/nn/activation.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace metarec {

/// Options of `AutoRec` (defaults: the paper's I-AutoRec).
struct AutoRecOptions {
  RowSide side = RowSide::item;  ///< item: I-AutoRec (rows over users); user: U-AutoRec
  Eigen::Index hidden = 500;     ///< k, hidden units
  double reg = 1.0;              ///< λ of the paper's objective (λ/2)(‖W‖² + ‖V‖²)
  std::size_t examples = 0;      ///< N the penalty is spread over (0: the rows with training ratings, or 1)
  nn::Activation hidden_activation = nn::Activation::sigmoid;
  nn::Activation output_activation = nn::Activation::identity;
  RatingRange ratings{};         ///< the default for rows / columns without training ratings, clipping
};

/// AutoRec over `RowBatch`es of one side; satisfies `metarec::Model` with an exact
/// Hessian-vector product, local segments and `score_all`.
/// @tparam S float or double
/// @code
/// metarec::AutoRec<float> model(ds, {.side = metarec::RowSide::item}, split.train);
/// const metarec::WholeRows rows(ds, split.train, metarec::RowSide::item);
/// metarec::RowBatches source(rows, 256, 42);
/// metarec::Adam<float> adam{{.lr = 1e-3}};
/// metarec::fit(model, theta, adam, source, {.epochs = 50});
/// @endcode
template <class S = float>
class AutoRec : public detail::RowNetworkModel<AutoRec<S>, S> {
 public:
  static constexpr const char* model_name = "AutoRec";
  using Options = AutoRecOptions;

  /// @param training_rows the rows the model is trained on: they set N, the known columns and
  ///        the default rating (empty: every column known, N = options.examples or 1).
  /// @throws std::invalid_argument on hidden < 1, reg < 0 or an empty data set.
  AutoRec(const Dataset& data, Options options = {}, std::span<const RowIndex> training_rows = {})
      : AutoRec::RowNetworkModel(options.side, row_length(data, options.side), 0), opt_(options) {
    this->require(opt_.reg >= 0.0, "reg must be >= 0 (got " + std::to_string(opt_.reg) + ")");
    const std::size_t rows = this->set_ratings(data, training_rows, opt_.ratings);
    const std::size_t examples = opt_.examples > 0 ? opt_.examples : std::max<std::size_t>(rows, 1);
    this->build({.hidden = {opt_.hidden},
                 .activations = {opt_.hidden_activation},
                 .output = opt_.output_activation,
                 .value = detail::RowValue::rating,
                 .loss = detail::RowLoss::squared_error,
                 .reg = opt_.reg / static_cast<double>(examples)});
  }

  [[nodiscard]] const Options& options() const noexcept { return opt_; }
  /// The rating given where the network has no information (see the file comment).
  [[nodiscard]] double default_rating() const noexcept { return this->net_.defaults().default_rating; }

 private:
  Options opt_;
};

}  // namespace metarec
