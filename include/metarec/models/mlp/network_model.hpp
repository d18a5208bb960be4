#pragma once
/// @file network_model.hpp
/// @brief The part every neural rating model shares: the `Model` members (loss, gradient,
/// Hessian-vector product, dense and sparse, prediction, size checks) written once over a
/// network's forward / backward / R-forward / R-backward passes.
///
/// A network (the CRTP `Derived`) provides, for a batch of B rating rows:
/// - `layout()`, `model_name`, `loss_kind()`, `threshold()`, `init_(θ, rng)`, `check_batch_(b, who)`;
/// - `struct Workspace : detail::HeadWorkspace<S>` and `reserve_(ws, B)`;
/// - `forward_(θ, b, ws, training)`: writes the outputs ŷ (1 × B) into `ws.out`;
/// - `backward_(θ, b, ws, sink)`: reads ∂L/∂ŷ from `ws.dout`, accumulates ∇L into the sink;
/// - `r_forward_(θ, v, b, ws)`: writes R{ŷ} into `ws.rout`;
/// - `r_backward_(θ, v, b, ws, sink)`: after `backward_`, reads R{∂L/∂ŷ} from `ws.rdout` and
///   accumulates H·v into the sink.
///
/// L = (1/B) Σ_b ℓ(ŷ_b), so ∂L/∂ŷ_b = ℓ'(ŷ_b)/B and R{∂L/∂ŷ_b} = ℓ''(ŷ_b) R{ŷ_b}/B.
///
/// Scratch: each thread keeps one workspace per model type (grow-only, `thread_local`), so after
/// the first call with the largest batch a step allocates nothing; the model object itself stays
/// const and can be shared by threads.

#include <metarec/data/batch.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/models/detail/sink_entry_points.hpp>
#include <metarec/nn/common.hpp>
#include <metarec/nn/dropout.hpp>
#include <metarec/nn/loss.hpp>

#include <stdexcept>
#include <string>

namespace metarec::detail {

/// Per-call outputs of a network's head: ŷ, ∂L/∂ŷ, R{ŷ}, R{∂L/∂ŷ} (each 1 × B).
template <class S>
struct HeadWorkspace {
  Matrix<S> out, dout, rout, rdout;
  void reserve_head(Eigen::Index B) {
    for (auto* m : {&out, &dout, &rout, &rdout}) nn::ensure_shape(*m, 1, B);
  }
};

/// CRTP base implementing the `metarec::Model` members for a network `Derived` over scalar `S`.
template <class Derived, class S>
class NetworkModel : public SinkModelEntryPoints<NetworkModel<Derived, S>, S> {
  friend SinkModelEntryPoints<NetworkModel, S>;

 public:
  using Scalar = S;
  using Batch = RatingBatch;

  [[nodiscard]] Eigen::Index num_parameters() const noexcept { return self().layout().size(); }

  /// Overwrites all of θ with a draw that depends only on `rng`.
  /// @throws std::invalid_argument when θ has the wrong size.
  void initialize(VectorRef<S> theta, Rng& rng) const {
    check_size("initialize", theta.size());
    theta.setZero();
    self().init_(theta, rng);
  }

  /// Mean loss over the batch (dropout on, masks from `batch.seed`); 0 for an empty batch.
  /// @throws std::invalid_argument on a wrong θ size or a batch from an incompatible data set.
  [[nodiscard]] S loss(const ConstVectorRef<S>& theta, const Batch& batch) const {
    check_size("loss", theta.size());
    if (batch.rows.empty()) return S(0);
    self().check_batch_(batch, "loss");
    auto& ws = prepare(batch);
    self().forward_(theta, batch, ws, true);
    return static_cast<S>(head_loss(batch, ws, false));
  }

  // loss_and_gradient and hessian_vector_product, dense and sparse, with their size checks:
  // inherited from SinkModelEntryPoints (sink_entry_points.hpp). The sparse gradient
  // ACCUMULATES into the touched segments (dense layers whole, embedding columns the batch
  // uses); the sparse H·v reads v only there. The caller clears the sparse output first.

  /// Predictions (dropout off): ŷ for squared error, σ(ŷ) for BCE; `out` OVERWRITTEN.
  /// @throws std::invalid_argument when out.size() != batch.size().
  void predict(const ConstVectorRef<S>& theta, const Batch& batch, VectorRef<S> out) const {
    check_size("predict", theta.size());
    if (out.size() != static_cast<Eigen::Index>(batch.size()))
      throw std::invalid_argument(name("predict") + ": out has " + std::to_string(out.size()) +
                                  " entries for a batch of " + std::to_string(batch.size()) +
                                  " rows; size it with batch.size()");
    if (batch.rows.empty()) return;
    self().check_batch_(batch, "predict");
    auto& ws = prepare(batch);
    self().forward_(theta, batch, ws, false);
    for (Eigen::Index b = 0; b < out.size(); ++b)
      out[b] = nn::loss_prediction(self().loss_kind(), ws.out(0, b));
  }

 protected:
  [[nodiscard]] const Derived& self() const noexcept { return static_cast<const Derived&>(*this); }

  [[nodiscard]] static std::string name(const char* what) {
    return std::string(Derived::model_name) + "::" + what;
  }

  void check_size(const char* what, Eigen::Index n) const {
    if (n != num_parameters())
      throw std::invalid_argument(name(what) + ": vector has " + std::to_string(n) +
                                  " entries, the model has " + std::to_string(num_parameters()) +
                                  " parameters; size it with num_parameters()");
  }

  /// A training-mode forward pass (for running statistics); returns the thread's workspace.
  auto& training_forward(const ConstVectorRef<S>& theta, const Batch& batch, const char* what) const {
    check_size(what, theta.size());
    self().check_batch_(batch, what);
    auto& ws = prepare(batch);
    self().forward_(theta, batch, ws, true);
    return ws;
  }

  /// Dropout context of a batch.
  [[nodiscard]] static nn::DropoutContext dropout_context(const Batch& batch, bool training) noexcept {
    return {batch.seed, batch.rows, training};
  }

 private:
  // Derived is incomplete when this base is instantiated: name its Workspace only in bodies.
  static auto& thread_workspace() {
    thread_local typename Derived::Workspace ws;
    return ws;
  }

  auto& prepare(const Batch& batch) const {
    auto& ws = thread_workspace();
    const auto B = static_cast<Eigen::Index>(batch.size());
    ws.reserve_head(B);
    self().reserve_(ws, B);
    return ws;
  }

  // Σ ℓ / B; with `derivatives`, also ws.dout = ℓ'/B (and ws.tmp ℓ''/B kept in rdout for HVPs).
  template <class W>
  double head_loss(const Batch& batch, W& ws, bool derivatives) const {
    const auto B = static_cast<Eigen::Index>(batch.size());
    const S inv_b = S(1) / static_cast<S>(B);
    double total = 0.0;
    for (Eigen::Index b = 0; b < B; ++b) {
      const double t = nn::loss_target(self().loss_kind(),
                                       batch.data->rating(batch.rows[static_cast<std::size_t>(b)]),
                                       self().threshold());
      const auto terms = nn::loss_terms<S>(self().loss_kind(), ws.out(0, b), t);
      total += terms.value;
      if (derivatives) {
        ws.dout(0, b) = terms.d1 * inv_b;
        ws.rdout(0, b) = terms.d2 * inv_b;  // curvature; multiplied by R{ŷ} in hvp_into
      }
    }
    return total / static_cast<double>(B);
  }

  template <class Sink>
  S gradient_into(const ConstVectorRef<S>& theta, const Batch& batch, Sink& sink) const {
    if (batch.rows.empty()) return S(0);
    self().check_batch_(batch, "loss_and_gradient");
    auto& ws = prepare(batch);
    self().forward_(theta, batch, ws, true);
    const double l = head_loss(batch, ws, true);
    self().backward_(theta, batch, ws, sink);
    return static_cast<S>(l);
  }

  template <class Sink>
  void hvp_into(const ConstVectorRef<S>& theta, const Batch& batch, const ConstVectorRef<S>& v,
                Sink& sink) const {
    if (batch.rows.empty()) return;
    self().check_batch_(batch, "hessian_vector_product");
    auto& ws = prepare(batch);
    self().forward_(theta, batch, ws, true);
    (void)head_loss(batch, ws, true);
    nn::NoSink none;
    self().backward_(theta, batch, ws, none);
    self().r_forward_(theta, v, batch, ws);
    const auto B = static_cast<Eigen::Index>(batch.size());
    ws.rdout.leftCols(B).array() *= ws.rout.leftCols(B).array();
    self().r_backward_(theta, v, batch, ws, sink);
  }
};

}  // namespace metarec::detail
