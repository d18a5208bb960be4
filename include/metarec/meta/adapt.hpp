#pragma once
/// @file adapt.hpp
/// @brief The MAML inner loop (task adaptation) over any `Model`, with an undo log, and the
/// inference API `adapt()`. See docs/maml.md.
///
/// The inner loop runs k steps of gradient descent on the support loss, on the adapted set A
/// (P = projection onto A):
///
///     θ_{j+1} = θ_j − α ⊙ P ∇L_s(θ_j),   j = 0 .. k−1
///
/// with α a scalar (MAML) or a per-parameter vector (Meta-SGD). A is all parameters, the model's
/// task-local segments (`HasLocalSegments`: MeLU-style user-row adaptation) or a fixed segment list
/// (ANIL: the head). The adaptation writes into a per-thread workspace θ_w and records, per step,
/// the previous values of the segments it changed, so θ_j can be restored exactly (bitwise) by
/// undoing steps: memory O(k × adapted), and with sparse models (`HasSparseGradient`) a step costs
/// O(support × dims), never a copy of θ.

#include <metarec/core/concepts.hpp>
#include <metarec/core/parameters.hpp>

#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace metarec {

/// Which parameters the inner loop adapts (the projection P).
enum class AdaptedSet {
  all,       ///< every parameter (MAML); with a sparse model only the rows the support touches move
  local,     ///< the model's task-local segments for the support batch (`HasLocalSegments`; MeLU)
  segments,  ///< a fixed list of segments given by the user (ANIL: the head only)
};

/// Options of the inner loop, for `adapt()` at inference time.
struct AdaptOptions {
  int steps = 1;                      ///< k, inner gradient steps on the support set
  double lr = 0.01;                   ///< α, the inner step size
  AdaptedSet adapted = AdaptedSet::all;
  std::vector<Segment> segments{};    ///< the adapted segments when `adapted == segments`
};

/// Optional model capability: a task kernel for local adaptation (`AdaptedSet::local`). The
/// inner loop then calls `begin_task` once per task, `local_loss_and_gradient` once per inner step
/// j (gradient of the local segments only, the step's passes kept in the cache) and, in the
/// second-order backward pass, `local_hessian_vector_product` at the same θ_j (the full H·v for
/// a v that is zero outside the local segments). `TaskCache` is per-thread scratch owned by the
/// trainer's workspace. `Melu` has one (its embedded inputs are gathered once per task).
template <class M>
concept HasLocalTaskKernel =
    HasLocalSegments<M> &&
    requires(const M& m, typename M::TaskCache& c, const ConstVectorRef<typename M::Scalar>& theta,
             const typename M::Batch& b, SparseGradient<typename M::Scalar>& g, int j) {
      m.begin_task(c, theta, b, j);
      { m.local_loss_and_gradient(c, j, theta, b, g) } -> std::convertible_to<typename M::Scalar>;
      m.local_hessian_vector_product(c, j, theta, b, theta, g);
    };

namespace detail {

template <class M>
struct TaskCacheOf {
  struct type {};
};
template <HasLocalTaskKernel M>
struct TaskCacheOf<M> {
  using type = typename M::TaskCache;
};

/// Inner-loop description shared by the trainer and `adapt()`. `alpha`, when not null, points to
/// n per-parameter step sizes (Meta-SGD) and `lr` is ignored.
template <class S>
struct InnerSpec {
  int steps = 1;
  S lr = S(0.01);
  const S* alpha = nullptr;
  AdaptedSet adapted = AdaptedSet::all;
  std::span<const Segment> segments;
};

/// Checks a user-given segment list once, at a public boundary: in range and pairwise disjoint.
inline void check_segments(const char* who, std::span<const Segment> segs, Eigen::Index n) {
  if (segs.empty())
    throw std::invalid_argument(std::string(who) +
                                ": AdaptedSet::segments with an empty segment list; give the "
                                "segments to adapt (e.g. the head's weights)");
  for (std::size_t a = 0; a < segs.size(); ++a) {
    const Segment& s = segs[a];
    if (s.offset < 0 || s.size <= 0 || s.offset + s.size > n)
      throw std::invalid_argument(std::string(who) + ": adapted segment " + std::to_string(a) +
                                  " [" + std::to_string(s.offset) + ", " +
                                  std::to_string(s.offset + s.size) +
                                  ") is empty or outside theta (" + std::to_string(n) +
                                  " parameters)");
    for (std::size_t b = 0; b < a; ++b) {
      const Segment& t = segs[b];
      if (s.offset < t.offset + t.size && t.offset < s.offset + s.size)
        throw std::invalid_argument(std::string(who) + ": adapted segments " + std::to_string(b) +
                                    " and " + std::to_string(a) +
                                    " overlap; give disjoint segments");
    }
  }
}

/// Checks the options of an inner loop against a model at a public boundary.
template <class M>
void check_inner(const char* who, const M& model, int steps, double lr, AdaptedSet adapted,
                 std::span<const Segment> segments) {
  if (steps < 0)
    throw std::invalid_argument(std::string(who) + ": inner steps is negative (" +
                                std::to_string(steps) + "); use k >= 0");
  if (!std::isfinite(lr))
    throw std::invalid_argument(std::string(who) + ": inner learning rate is not finite (" +
                                std::to_string(lr) + ")");
  if (adapted == AdaptedSet::local && !HasLocalSegments<M>)
    throw std::invalid_argument(std::string(who) +
                                ": AdaptedSet::local needs a model with local_segments(batch, out) "
                                "(HasLocalSegments); use AdaptedSet::all or AdaptedSet::segments");
  if (adapted == AdaptedSet::segments) check_segments(who, segments, model.num_parameters());
}

/// Compact copy of the touched segments of a `SparseGradient` (one task's meta-gradient), so that
/// per-task results can be summed in task order after a parallel loop.
template <class S>
struct SparseSlot {
  std::vector<Segment> segs;
  std::vector<S> vals;

  void assign(const SparseGradient<S>& g) {
    segs.clear();
    vals.clear();
    const Vector<S>& d = g.dense();
    for (const Segment& s : g.touched()) {
      segs.push_back(s);
      vals.insert(vals.end(), d.data() + s.offset, d.data() + s.offset + s.size);
    }
  }
  void clear() noexcept {
    segs.clear();
    vals.clear();
  }
  /// out += this (touching the same segments in `out`).
  void add_to(SparseGradient<S>& out) const {
    std::size_t pos = 0;
    for (const Segment& s : segs) {
      out.segment(s) += Eigen::Map<const Vector<S>>(vals.data() + pos, s.size);
      pos += static_cast<std::size_t>(s.size);
    }
  }
  [[nodiscard]] bool all_finite() const noexcept {
    for (const S x : vals)
      if (!std::isfinite(x)) return false;
    return true;
  }
};

/// Loss and gradient into a `SparseGradient` sink (cleared here). With `Sparse` and a model with
/// sparse gradients only the touched segments are written; otherwise the whole vector is one
/// touched segment [0, n).
template <bool Sparse, class M>
typename M::Scalar gradient_into(const M& model, const Vector<typename M::Scalar>& theta,
                                 const typename M::Batch& batch,
                                 SparseGradient<typename M::Scalar>& g) {
  using S = typename M::Scalar;
  g.clear();
  if constexpr (Sparse && HasSparseGradient<M>) {
    return model.loss_and_gradient(theta, batch, g);
  } else {
    (void)g.segment(0, g.size());
    return model.loss_and_gradient(theta, batch, VectorRef<S>(g.dense_mut()));
  }
}

/// H·v into a `SparseGradient` sink (cleared here); sparse when the model offers it.
template <bool Sparse, class M>
void hvp_into(const M& model, const Vector<typename M::Scalar>& theta,
              const typename M::Batch& batch, const Vector<typename M::Scalar>& v,
              SparseGradient<typename M::Scalar>& out) {
  using S = typename M::Scalar;
  out.clear();
  if constexpr (Sparse && HasSparseHessianVectorProduct<M>) {
    model.hessian_vector_product(theta, batch, v, out);
  } else {
    (void)out.segment(0, out.size());
    model.hessian_vector_product(theta, batch, v, VectorRef<S>(out.dense_mut()));
  }
}

/// Test-only corruptions of the backward pass (see `MamlDebug`).
enum class BackwardDebug { none, flip_hessian_term, zero_alpha };

/// Per-thread workspace of the MAML inner loop: θ_w (a copy of θ made once per meta-batch), the
/// gradient sinks, and the undo log. Not thread-safe; one per thread.
template <class M>
class MamlWorkspace {
 public:
  using S = typename M::Scalar;
  using Batch = typename M::Batch;

  /// Sizes every buffer for `model`. Allocates; call once.
  void bind(const M& model, bool need_backward, bool need_alpha) {
    model_ = &model;
    const Eigen::Index n = model.num_parameters();
    theta_.resize(n);
    grad_.resize(n);
    g_.resize(n);
    if (need_backward) {
      hv_.resize(n);
      v_ = Vector<S>::Zero(n);
    }
    if (need_alpha) dalpha_.resize(n);
    loaded_tag_ = ~std::uint64_t{0};
  }

  /// Copies θ into θ_w unless it already holds the copy tagged `tag` (one copy per meta-batch).
  void load(const ConstVectorRef<S>& theta, std::uint64_t tag) {
    if (tag == loaded_tag_) return;
    theta_ = theta;
    loaded_tag_ = tag;
  }
  /// Forgets the loaded copy (θ changed).
  void invalidate() noexcept { loaded_tag_ = ~std::uint64_t{0}; }

  [[nodiscard]] const Vector<S>& theta() const noexcept { return theta_; }

  /// Runs the inner loop from θ_w's current values and records the undo log. Returns the support
  /// loss before the first step (L_s(θ₀)), or the first non-finite inner loss met (the loop stops
  /// there; the log stays valid, so `undo_all()` restores θ_w).
  S forward(const Batch& support, const InnerSpec<S>& spec, bool keep_gradients) {
    const M& model = *model_;
    reset_log();
    adapted_.clear();
    if (spec.adapted == AdaptedSet::local) {
      if constexpr (HasLocalSegments<M>) model.local_segments(support, adapted_);
    } else if (spec.adapted == AdaptedSet::segments) {
      adapted_.assign(spec.segments.begin(), spec.segments.end());
    }
    kernel_ = false;
    if constexpr (HasLocalTaskKernel<M>) {
      kernel_ = spec.adapted == AdaptedSet::local && spec.steps > 0;
      if (kernel_) model.begin_task(cache_, theta_, support, spec.steps);
    }
    S first = S(0);
    for (int j = 0; j < spec.steps; ++j) {
      S loss;
      if constexpr (HasLocalTaskKernel<M>) {
        if (kernel_) {
          grad_.clear();
          loss = model.local_loss_and_gradient(cache_, j, theta_, support, grad_);
        } else {
          loss = gradient_into<true>(model, theta_, support, grad_);
        }
      } else {
        loss = gradient_into<true>(model, theta_, support, grad_);
      }
      if (j == 0) first = loss;
      if (!std::isfinite(loss)) return loss;
      step_begin_.push_back(log_segs_.size());
      const std::vector<Segment>& update =
          spec.adapted == AdaptedSet::all ? grad_.touched() : adapted_;
      const Vector<S>& g = grad_.dense();
      for (const Segment& s : update) {
        log_segs_.push_back(s);
        old_.insert(old_.end(), theta_.data() + s.offset, theta_.data() + s.offset + s.size);
        if (keep_gradients)
          grads_.insert(grads_.end(), g.data() + s.offset, g.data() + s.offset + s.size);
        if (spec.alpha != nullptr)
          theta_.segment(s.offset, s.size).array() -=
              Eigen::Map<const Vector<S>>(spec.alpha + s.offset, s.size).array() *
              g.segment(s.offset, s.size).array();
        else
          theta_.segment(s.offset, s.size) -= spec.lr * g.segment(s.offset, s.size);
      }
    }
    if (spec.steps == 0) first = model.loss(theta_, support);
    return first;
  }

  /// Number of inner steps recorded in the log.
  [[nodiscard]] int logged_steps() const noexcept { return static_cast<int>(step_begin_.size()); }

  /// Restores θ_w to its values before the last recorded step and drops that step. Bitwise exact.
  void undo_step() noexcept {
    const std::size_t begin = step_begin_.back();
    step_begin_.pop_back();
    std::size_t pos = old_.size();
    for (std::size_t k = log_segs_.size(); k > begin; --k) {
      const Segment& s = log_segs_[k - 1];
      pos -= static_cast<std::size_t>(s.size);
      theta_.segment(s.offset, s.size) = Eigen::Map<const Vector<S>>(old_.data() + pos, s.size);
    }
    log_segs_.resize(begin);
    old_.resize(pos);
    if (!grads_.empty()) grads_.resize(pos);
  }
  /// Restores θ_w to θ₀ (before the inner loop).
  void undo_all() noexcept {
    while (!step_begin_.empty()) undo_step();
  }

  /// Query loss at θ_k (no gradient).
  S query_loss(const Batch& query) const { return model_->loss(theta_, query); }

  // --- Primitives the MAML algorithms compose their meta-direction from (meta/algorithms.hpp).
  // Each is called after `forward` succeeded (θ_w = θ_k, the undo log holds k steps).

  /// g = ∇L_q(θ_k) into the query-gradient sink (sparse when `Sparse` and the model allows);
  /// returns L_q(θ_k). θ_w is unchanged.
  template <bool Sparse>
  S query_gradient(const Batch& query) {
    return gradient_into<Sparse>(*model_, theta_, query, g_);
  }
  /// The query-gradient sink: ∇L_q(θ_k) after `query_gradient`, dL_q(θ_k)/dθ₀ after `backward`.
  [[nodiscard]] const SparseGradient<S>& meta_gradient() const noexcept { return g_; }
  /// dL_q/dα after `backward` with Meta-SGD's α.
  [[nodiscard]] const SparseGradient<S>& alpha_gradient() const noexcept { return dalpha_; }

  /// θ₀ − θ_k on the segments the inner loop changed; leaves θ_w = θ₀ (the log undone).
  const SparseGradient<S>& undo_to_difference() {
    if (diff_.size() != theta_.size()) diff_.resize(theta_.size());  // once per workspace (Reptile)
    diff_.clear();
    for (const Segment& s : log_segs_) diff_.segment(s) = theta_.segment(s.offset, s.size);
    undo_all();
    Vector<S>& d = diff_.dense_mut();
    for (const Segment& s : diff_.touched())
      d.segment(s.offset, s.size) = theta_.segment(s.offset, s.size) - d.segment(s.offset, s.size);
    return diff_;
  }

  /// After `query_gradient`: the exact meta-gradient by the backward recursion through the k inner
  /// steps (g ← g − H_s(θ_j)(α ⊙ P g), j = k−1..0), with dL/dα accumulated when `want_alpha`
  /// (the forward pass must have kept its gradients). Leaves θ_w = θ₀ (bitwise).
  template <bool SparseBackward>
  void backward(const Batch& support, const InnerSpec<S>& spec, BackwardDebug debug, bool want_alpha) {
    if (want_alpha) dalpha_.clear();
    backward_pass<SparseBackward>(support, spec, debug, want_alpha);
  }

 private:
  void reset_log() noexcept {
    log_segs_.clear();
    old_.clear();
    grads_.clear();
    step_begin_.clear();
  }

  // g holds g_k = ∇L_q(θ_k). For j = k−1 .. 0: restore θ_j; dα −= (P∇L_s(θ_j)) ⊙ g_{j+1};
  // g_j = g_{j+1} − H_s(θ_j) (α ⊙ P g_{j+1}). Ends with θ_w = θ₀ and g = dL_q(θ_k)/dθ₀.
  template <bool SparseBackward>
  void backward_pass(const Batch& support, const InnerSpec<S>& spec, BackwardDebug debug,
                     bool want_alpha) {
    const M& model = *model_;
    while (!step_begin_.empty()) {
      // The step's segments and gradients, read before undo_step() drops them.
      const std::size_t begin = step_begin_.back();
      if (want_alpha) {
        std::size_t pos = old_.size();
        for (std::size_t k = log_segs_.size(); k > begin; --k) pos -= static_cast<std::size_t>(log_segs_[k - 1].size);
        const Vector<S>& gd = g_.dense();
        for (std::size_t k = begin; k < log_segs_.size(); ++k) {
          const Segment& s = log_segs_[k];
          dalpha_.segment(s).array() -=
              Eigen::Map<const Vector<S>>(grads_.data() + pos, s.size).array() *
              gd.segment(s.offset, s.size).array();
          pos += static_cast<std::size_t>(s.size);
        }
      }
      undo_step();  // θ_w = θ_j
      if (debug == BackwardDebug::zero_alpha) continue;
      // v = α ⊙ P g
      vsegs_.clear();
      const std::vector<Segment>& proj = spec.adapted == AdaptedSet::all ? g_.touched() : adapted_;
      const Vector<S>& gd = g_.dense();
      for (const Segment& s : proj) {
        vsegs_.push_back(s);
        if (spec.alpha != nullptr)
          v_.segment(s.offset, s.size).array() =
              Eigen::Map<const Vector<S>>(spec.alpha + s.offset, s.size).array() *
              gd.segment(s.offset, s.size).array();
        else
          v_.segment(s.offset, s.size) = spec.lr * gd.segment(s.offset, s.size);
      }
      if constexpr (HasLocalTaskKernel<M>) {
        if (kernel_) {
          hv_.clear();
          model.local_hessian_vector_product(cache_, logged_steps(), theta_, support, v_, hv_);
        } else {
          hvp_into<SparseBackward>(model, theta_, support, v_, hv_);
        }
      } else {
        hvp_into<SparseBackward>(model, theta_, support, v_, hv_);
      }
      for (const Segment& s : vsegs_) v_.segment(s.offset, s.size).setZero();
      const Vector<S>& h = hv_.dense();
      if (debug == BackwardDebug::flip_hessian_term) {
        for (const Segment& s : hv_.touched()) g_.segment(s) += h.segment(s.offset, s.size);
      } else {
        for (const Segment& s : hv_.touched()) g_.segment(s) -= h.segment(s.offset, s.size);
      }
    }
  }

  const M* model_ = nullptr;
  Vector<S> theta_;                 // θ_w
  SparseGradient<S> grad_;          // support gradients (inner loop)
  SparseGradient<S> g_;             // query gradient / meta-gradient
  SparseGradient<S> hv_;            // H·v
  SparseGradient<S> dalpha_;        // dL/dα (Meta-SGD)
  SparseGradient<S> diff_;          // θ₀ − θ_k (Reptile)
  Vector<S> v_;                     // α ⊙ P g, zero outside vsegs_
  std::vector<Segment> vsegs_;
  std::vector<Segment> adapted_;    // A for the current task (local / segments)
  std::vector<Segment> log_segs_;   // per step: the segments it changed
  std::vector<S> old_;              // their values before the step
  std::vector<S> grads_;            // their P∇L_s values (Meta-SGD)
  std::vector<std::size_t> step_begin_;
  std::uint64_t loaded_tag_ = ~std::uint64_t{0};
  typename TaskCacheOf<M>::type cache_;  // the model's task kernel scratch (HasLocalTaskKernel)
  bool kernel_ = false;                  // the current task runs on the task kernel
};

}  // namespace detail

/// Adapts θ to one task: k steps of gradient descent on the support batch (see the file comment).
/// For a model whose update direction is not an exact gradient (an RBM's CD-k), the steps follow
/// that direction.
/// Returns θ′ = adapt_k(θ); θ is not modified. Costs one copy of θ plus k support gradients; for
/// many tasks reuse a `Maml` trainer's workspaces through `Maml::adapt`.
/// @param alpha optional per-parameter step sizes (Meta-SGD's learned α, size n); `options.lr` is
///        used when null.
/// @throws std::invalid_argument on a wrong θ size or bad options.
/// @code
/// metarec::Vector<double> theta_user = metarec::adapt(mf, theta, support,
///     metarec::AdaptOptions{.steps = 5, .lr = 0.1, .adapted = metarec::AdaptedSet::local});
/// mf.predict(theta_user, query, predictions);
/// @endcode
template <Model M>
[[nodiscard]] Vector<typename M::Scalar> adapt(const M& model,
                                               const ConstVectorRef<typename M::Scalar>& theta,
                                               const typename M::Batch& support,
                                               const AdaptOptions& options,
                                               const Vector<typename M::Scalar>* alpha = nullptr) {
  using S = typename M::Scalar;
  const Eigen::Index n = model.num_parameters();
  if (theta.size() != n)
    throw std::invalid_argument("adapt: theta has " + std::to_string(theta.size()) +
                                " entries, the model has " + std::to_string(n) +
                                " parameters; size it with num_parameters()");
  if (alpha != nullptr && alpha->size() != n)
    throw std::invalid_argument("adapt: alpha has " + std::to_string(alpha->size()) +
                                " entries, the model has " + std::to_string(n) + " parameters");
  detail::check_inner("adapt", model, options.steps, options.lr, options.adapted, options.segments);
  detail::MamlWorkspace<M> ws;
  ws.bind(model, false, false);
  ws.load(theta, 0);
  detail::InnerSpec<S> spec{options.steps, static_cast<S>(options.lr),
                            alpha != nullptr ? alpha->data() : nullptr, options.adapted,
                            options.segments};
  (void)ws.forward(support, spec, false);
  return ws.theta();
}

}  // namespace metarec
