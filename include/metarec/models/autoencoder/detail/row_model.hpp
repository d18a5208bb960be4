#pragma once
/// @file row_model.hpp
/// @brief What every model of the autoencoder family shares, whatever its network: the CRTP base
/// `RowModel` (θ's layout and size checks from `LayoutModel`, the whole-row batch check, `predict`'s
/// output check over the batch's targets) and the exact Hessian-vector product by forward-mode
/// duals (`hvp_by_duals`), plus the tags of the family's noise streams.
///
/// Exact H·v by duals: each model writes its gradient code once, as a template over its arithmetic
/// type T. `hvp_by_duals` lifts θ to Dual(θ_k, v_k) (a grow-only per-thread buffer), runs that code
/// with T = Dual<S> into a per-thread `SparseGradient<Dual<S>>`, and adds the tangents of the
/// segments it wrote into the output: d/dε ∇L(θ + εv) = H·v, exact to rounding, sharing every line
/// with the gradient that the conformance suite checks against finite differences. The noise of a
/// batch (dropout masks, corruption, reparameterisation draws, sampled negatives) comes from the
/// batch seed, so both runs see the same draws.

#include <metarec/core/dual.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/data/row_batch.hpp>
#include <metarec/models/detail/layout_model.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace metarec::detail {

// Noise streams of the family: derive_seed(batch.seed, tag, entity, pass).
inline constexpr std::uint64_t tag_ae_input = 0x41454E31ull;     // input dropout / corruption
inline constexpr std::uint64_t tag_ae_code = 0x41454E32ull;      // dropout on the code
inline constexpr std::uint64_t tag_ae_latent = 0x41454E33ull;    // reparameterisation ε
inline constexpr std::uint64_t tag_ae_negative = 0x41454E34ull;  // sampled negatives

/// H·v of the gradient code `gradient(θ_dual, sink_dual)` (see the file comment): ACCUMULATES the
/// tangents of every segment the code writes into `out` (a `DenseGradientSink` or a
/// `SparseGradient`). No allocation once the per-thread buffers have θ's size.
template <class S, class Sink, class Gradient>
void hvp_by_duals(const ConstVectorRef<S>& theta, const ConstVectorRef<S>& v, Sink& out,
                  Gradient&& gradient) {
  using D = Dual<S>;
  struct Scratch {
    Vector<D> theta;
    SparseGradient<D> grad;
  };
  thread_local Scratch s;
  const Eigen::Index n = theta.size();
  if (s.theta.size() != n) {
    s.theta.resize(n);
    s.grad.resize(n);
    s.grad.reserve(256);
  }
  for (Eigen::Index k = 0; k < n; ++k) s.theta[k] = D(theta[k], v[k]);
  s.grad.clear();
  gradient(ConstVectorRef<D>(s.theta), s.grad);
  const Vector<D>& g = s.grad.dense();
  for (const Segment& seg : s.grad.touched()) {
    auto o = out.segment(seg);
    for (Eigen::Index k = 0; k < seg.size; ++k) o[k] += g[seg.offset + k].tangent();
  }
  s.grad.clear();
}

/// Writable matrix view of a block inside a gradient sink (recording it in a `SparseGradient`).
template <class T, class Sink>
[[nodiscard]] Eigen::Map<Matrix<T>> sink_map(Sink& sink, const Block& blk) {
  auto seg = sink.segment(blk.segment());
  return Eigen::Map<Matrix<T>>(seg.data(), blk.rows, blk.cols);
}

/// CRTP base of the family's models: a `LayoutModel` over `RowBatch`es of one side and a fixed
/// row length, with the batch check every entry point runs and `predict`'s output check.
/// `Derived` fills `layout_` and provides `gradient_into` / `hvp_into` (befriending
/// `LayoutModel` when they are its own private members).
template <class Derived, class S>
class RowModel : public LayoutModel<Derived, S, RowBatch> {
  using Base = LayoutModel<Derived, S, RowBatch>;
  // The base reaches the protected checks (so the models need no friends).
  friend Base;

 public:
  /// Which side an example is (users: rows over items; items: rows over users).
  [[nodiscard]] RowSide side() const noexcept { return side_; }
  /// Length of an example's vector (the input and output width).
  [[nodiscard]] std::uint32_t num_columns() const noexcept { return columns_; }

 protected:
  RowModel(RowSide side, std::uint32_t columns, std::uint32_t entities)
      : side_(side), columns_(columns), entities_(entities) {
    Base::require(columns > 0, "no columns (the rows have length 0)");
  }

  /// Throws std::invalid_argument "<model>::<what>: ..." unless the batch is of this model's side
  /// and row length (and, with `entities` > 0, its entities are below the model's count).
  void check_batch(const char* what, const RowBatch& b) const {
    if (b.examples.empty()) return;
    const std::string who = std::string(Derived::model_name) + "::" + what;
    if (b.data == nullptr) throw std::invalid_argument(who + ": the batch has examples but no data set");
    if (b.side != side_)
      throw std::invalid_argument(who + ": the batch's examples are " + side_name(b.side) +
                                  " rows, the model reads " + side_name(side_) + " rows");
    if (b.num_columns() != columns_)
      throw std::invalid_argument(who + ": the batch's rows have " + std::to_string(b.num_columns()) +
                                  " columns, the model has " + std::to_string(columns_) +
                                  "; build the model for this data set");
    if (entities_ > 0)
      for (const RowExample& e : b.examples)
        if (e.entity >= entities_)
          throw std::invalid_argument(who + ": example entity " + std::to_string(e.entity) +
                                      " is outside the model's " + std::to_string(entities_) +
                                      " entities");
  }

  /// `predict`'s checks: θ's size, the batch, one output per target row.
  void check_row_predict(const ConstVectorRef<S>& theta, const RowBatch& b, Eigen::Index out) const {
    Base::check_predict(theta, out, b.num_targets());
    check_batch("predict", b);
  }
  /// `score_all`'s checks: θ's size, the batch, out sized columns × examples.
  void check_scores(const ConstVectorRef<S>& theta, const RowBatch& b, Eigen::Index rows,
                    Eigen::Index cols) const {
    Base::check_size("score_all", theta.size());
    check_batch("score_all", b);
    if (rows != columns_ || cols != static_cast<Eigen::Index>(b.size()))
      throw std::invalid_argument(std::string(Derived::model_name) + "::score_all: out is " +
                                  std::to_string(rows) + " x " + std::to_string(cols) + ", expected " +
                                  std::to_string(columns_) + " x " + std::to_string(b.size()) +
                                  " (columns x examples)");
  }

  [[nodiscard]] static const char* side_name(RowSide s) noexcept {
    return s == RowSide::user ? "user" : "item";
  }

  RowSide side_;
  std::uint32_t columns_;
  std::uint32_t entities_;  ///< > 0 when the model has per-entity parameters (CDAE)
};

}  // namespace metarec::detail
