#pragma once
/// @file rbm_cf.hpp
/// @brief RBM-CF (Salakhutdinov, Mnih & Hinton, ICML 2007): a softmax RBM per case over the
/// case's RATED entries, trained by contrastive divergence. `rbm-u` (a user is a case: one
/// softmax unit per rated item) and `rbm-i` (an item is a case: one unit per user who rated it) are
/// this class with `RowSide::user` and `RowSide::item`; with `like_threshold` > 0 it is the
/// like/dislike RBM of the original study (two levels, like = rating >= threshold).
///
/// Energy, CD-k direction, loss, mean-field and exact prediction: rbm_base.hpp and
/// docs/models_bm.md. k is raised during training by successive `fit` phases with models of
/// increasing `cd_steps` (a model is const; θ carries over): the registry's `cd-steps` schedule.

#include <metarec/models/boltzmann/rbm_base.hpp>

namespace metarec {

/// Options of `RbmCf` (the softmax RBM options, rbm_base.hpp).
using RbmCfOptions = SoftmaxRbmOptions;

/// The softmax RBM for collaborative filtering over whole rows (`RowBatch`); a `metarec::Model`
/// whose direction is CD-k (`exact_gradient = false`). Parameters: W (F·K × columns), visible
/// biases b (K × columns), hidden biases c (F); the hidden biases are the MAML-local segment.
/// @tparam S float or double
/// @code
/// const metarec::WholeRows items(ds, split.train, metarec::RowSide::item);
/// const metarec::RbmCf<float> rbm(ds.num_users(), {.hidden = 100, .cd_steps = 1}, metarec::RowSide::item);
/// metarec::Vector<float> theta(rbm.num_parameters());
/// metarec::Rng rng(1);
/// rbm.initialize(theta, rng);
/// rbm.initialize_from_data(theta, items.batch());
/// metarec::RowBatches batches(items, 100, /*seed=*/1);
/// metarec::Sgd<float> sgd({.lr = 0.05, .momentum = 0.9});
/// metarec::fit(rbm, theta, sgd, batches, {.epochs = 20});
/// @endcode
template <class S = float>
class RbmCf : public detail::SoftmaxRbm<RbmCf<S>, S> {
  using Base = detail::SoftmaxRbm<RbmCf<S>, S>;
  friend Base;

 public:
  static constexpr const char* model_name = "RbmCf";
  using Options = RbmCfOptions;

  /// @param columns the length of a case's row: items for `RowSide::user`, users for `RowSide::item`
  /// @throws std::invalid_argument when hidden < 1, cd_steps < 1, levels outside 2..255, no columns,
  ///         or a negative weight decay or init_std.
  RbmCf(std::uint32_t columns, Options options = {}, RowSide side = RowSide::user)
      : Base(columns, options, side) {}

  [[nodiscard]] const Options& options() const noexcept { return this->rbm_options(); }
};

}  // namespace metarec
