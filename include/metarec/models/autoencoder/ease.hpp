#pragma once
/// @file ease.hpp
/// @brief EASE (Steck, WWW 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): an
/// item-item weight matrix B with a zero diagonal, scores s_u = x_u B.
///
/// Loss on a batch of B user rows x_e (1 for every input item, or the rating with
/// `binary = false`), with N the number of training rows the penalty is spread over:
///
///     L = 1/|B| Σ_e ‖x_e − x_e B‖²  +  λ/N ‖B‖²_F,      B_ii = 0
///
/// so that on the batch of all N training rows L = (‖X − XB‖²_F + λ‖B‖²_F) / N, the paper's
/// objective divided by N, whose minimiser is the closed form
///
///     P = (XᵀX + λI)⁻¹,   B_ij = −P_ij / P_jj (i ≠ j),   B_ii = 0
///
/// that `fit_closed_form` computes with one Cholesky factorisation (Eigen LLT) of XᵀX + λI
/// (`train_whole_rows` uses it instead of gradient steps). A new user needs no training: their
/// scores are x B (`score_all`), which is EASE's fold-in.
///
/// θ holds B row by row: column c of the n × n block is row c of B (the weights from item c to
/// every item), so x B reads one contiguous column per input item. The diagonal is not a
/// parameter: the loss reads it as 0, its gradient and H·v entries are 0 and `initialize` and
/// `fit_closed_form` write 0 there. Exact gradient (O(nnz × n + n²) per batch) and Hessian-vector
/// product (the loss is quadratic; duals through the gradient code). No task-local segments:
/// EASE has no per-user parameters (under MAML it adapts all of B).

#include <metarec/core/dual.hpp>
#include <metarec/core/error.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/row_batch.hpp>
#include <metarec/models/autoencoder/detail/row_model.hpp>

#include <Eigen/Cholesky>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <utility>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace metarec {

/// Options of `Ease`.
struct EaseOptions {
  double reg = 500.0;         ///< λ (Steck: 500 on ML-20M; the recbole ML-1M grid's best is 1000)
  bool binary = true;         ///< x = 1 for every input item (false: the rating)
  std::size_t examples = 0;   ///< N (0: the users with training rows, or 1)
  double init_std = 0.01;     ///< `initialize` draws the off-diagonal N(0, init_std²)
};

/// EASE over user `RowBatch`es; satisfies `metarec::Model` with an exact Hessian-vector product,
/// `score_all` and a closed-form fit.
/// @tparam S float or double (also the precision of the closed form)
/// @code
/// metarec::Ease<float> ease(ds, {.reg = 1000}, split.train);
/// metarec::Vector<float> theta(ease.num_parameters());
/// const metarec::WholeRows users(ds, split.train, metarec::RowSide::user);
/// ease.fit_closed_form(theta, users.batch());
/// @endcode
template <class S = float>
class Ease : public detail::RowModel<Ease<S>, S> {
  friend detail::LayoutModel<Ease<S>, S, RowBatch>;

 public:
  static constexpr const char* model_name = "Ease";
  using Scalar = S;
  using Batch = RowBatch;
  using Options = EaseOptions;

  /// @param training_rows the rows the model is trained on (they set N; empty: options.examples or 1).
  /// @throws std::invalid_argument on reg < 0, no items, or a training row outside the data set.
  Ease(const Dataset& data, Options options = {}, std::span<const RowIndex> training_rows = {})
      : Ease::RowModel(RowSide::user, data.num_items(), 0), opt_(options) {
    this->require(opt_.reg >= 0.0, "reg must be >= 0 (got " + std::to_string(opt_.reg) + ")");
    detail::check_rows(data, training_rows, "Ease", false, "training row");
    std::size_t users = 0;
    std::vector<std::uint8_t> seen(data.num_users(), 0);
    for (const RowIndex r : training_rows) {
      users += seen[data.user(r)] == 0 ? 1 : 0;
      seen[data.user(r)] = 1;
    }
    examples_ = opt_.examples > 0 ? opt_.examples : std::max<std::size_t>(users, 1);
    B_ = this->layout_.add("item_weights", this->columns_, this->columns_);
  }

  [[nodiscard]] const Options& options() const noexcept { return opt_; }
  /// N, the number of rows the penalty is spread over.
  [[nodiscard]] std::size_t examples() const noexcept { return examples_; }

  /// Overwrites θ: off-diagonal entries N(0, init_std²), diagonal 0.
  void initialize(VectorRef<S> theta, Rng& rng) const {
    this->zero_then_normal(theta, rng, {B_}, opt_.init_std);
    zero_diagonal(theta);
  }

  [[nodiscard]] S loss(const ConstVectorRef<S>& theta, const Batch& batch) const {
    this->check_size("loss", theta.size());
    this->check_batch("loss", batch);
    NoGradient none;
    return static_cast<S>(run<S>(theta, batch, none));
  }

  /// x B at each target item (the input rows' scores, unnormalised). `out` OVERWRITTEN.
  void predict(const ConstVectorRef<S>& theta, const Batch& batch, VectorRef<S> out) const {
    this->check_row_predict(theta, batch, out.size());
    Vector<S>& s = scratch<S>();
    Eigen::Index k = 0;
    for (const RowExample& ex : batch.examples) {
      scores<S>(theta, batch, ex, s);
      for (const RowIndex r : ex.target) out[k++] = s[batch.column(r)];
    }
  }

  /// Every item's score x B for each example (`HasRowScores`); out is items × examples, OVERWRITTEN.
  void score_all(const ConstVectorRef<S>& theta, const Batch& batch, Eigen::Ref<Matrix<S>> out) const {
    this->check_scores(theta, batch, out.rows(), out.cols());
    Vector<S>& s = scratch<S>();
    for (std::size_t e = 0; e < batch.size(); ++e) {
      scores<S>(theta, batch, batch.examples[e], s);
      out.col(static_cast<Eigen::Index>(e)) = s;
    }
  }

  /// θ ← the minimiser of the loss on `all` (the batch of every training row, N = all.size()
  /// for the loss to match): G = XᵀX + λI, one Cholesky factorisation G = LLᵀ, P = L⁻ᵀL⁻¹
  /// (triangular inverse and product, n³/3 flops each), B_ij = −P_ij/P_jj, B_ii = 0. In S
  /// precision (binary X's Gram entries are counts: exact in float below 2²⁴), in place in θ's
  /// n × n block; uses Eigen's threads. Allocates O(n²/4) scratch.
  /// @throws std::invalid_argument on a wrong θ size or batch; numerical_error when XᵀX + λI is
  ///         not positive definite (λ = 0 with a rank-deficient X).
  void fit_closed_form(VectorRef<S> theta, const Batch& all) const {
    this->check_size("fit_closed_form", theta.size());
    this->check_batch("fit_closed_form", all);
    const Eigen::Index n = this->columns_;
    auto G = B_.map<S>(theta);  // G, then L, then L⁻¹, then P, then B, all in θ's block
    G.setZero();
    std::vector<std::uint32_t> cols;
    std::vector<S> vals;
    std::vector<std::pair<std::uint32_t, S>> entries;
    for (const RowExample& ex : all.examples) {  // lower triangle of XᵀX
      input_of(all, ex, cols, vals);
      entries.clear();
      for (std::size_t k = 0; k < cols.size(); ++k) entries.emplace_back(cols[k], vals[k]);
      std::sort(entries.begin(), entries.end());
      for (std::size_t a = 0; a < entries.size(); ++a) {
        S* g = G.data() + static_cast<Eigen::Index>(entries[a].first) * n;
        for (std::size_t b = a; b < entries.size(); ++b) g[entries[b].first] += entries[a].second * entries[b].second;
      }
    }
    G.diagonal().array() += static_cast<S>(opt_.reg);
    Eigen::LLT<Eigen::Ref<Matrix<S>>, Eigen::Lower> llt(G);  // in place: the lower triangle holds L
    if (llt.info() != Eigen::Success)
      throw numerical_error("Ease::fit_closed_form: X'X + reg*I is not positive definite (reg " +
                            std::to_string(opt_.reg) + "); use reg > 0");
    // P = G⁻¹ = L⁻ᵀ L⁻¹, in place by the recursive blocked triangular inverse and product
    // (LAPACK's trtri and lauum: n³/3 flops each, in Eigen's blocked products).
    triangular<false>(G);  // L⁻¹
    triangular<true>(G);   // L⁻ᵀL⁻¹, lower triangle
    auto& P = G;
    for (Eigen::Index j = 1; j < n; ++j) P.col(j).head(j) = P.row(j).head(j).transpose();
    // Column c of the block is row c of B: B(c, j) = −P(c, j) / P(j, j) (P symmetric).
    const Vector<S> d = P.diagonal();
    for (Eigen::Index j = 0; j < n; ++j) P.row(j) *= S(-1) / d[j];
    zero_diagonal(theta);
  }

 private:
  struct NoGradient {};

  // In place on a lower-triangular L (the strict upper part is ignored and left as is), by the
  // recursive blocked algorithms of LAPACK's trtri and lauum over [A 0; C D]:
  // - Gram = false: L ← L⁻¹ = [A⁻¹ 0; −D⁻¹ C A⁻¹ D⁻¹];
  // - Gram = true:  L ← the lower triangle of LᵀL = [AᵀA + CᵀC, ·; DᵀC, DᵀD].
  template <bool Gram>
  static void triangular(Eigen::Ref<Matrix<S>> L) {
    const Eigen::Index n = L.rows();
    if (n <= 64) {
      Matrix<S> r = Matrix<S>::Identity(n, n);
      if constexpr (Gram) {
        const Matrix<S> T = L.template triangularView<Eigen::Lower>();
        r.noalias() = T.transpose() * T;
      } else {
        L.template triangularView<Eigen::Lower>().solveInPlace(r);
      }
      L.template triangularView<Eigen::Lower>() = r;
      return;
    }
    const Eigen::Index n1 = (n / 2 + 15) / 16 * 16, n2 = n - n1;
    auto A = L.topLeftCorner(n1, n1);
    auto C = L.bottomLeftCorner(n2, n1);
    auto D = L.bottomRightCorner(n2, n2);
    triangular<Gram>(A);
    if constexpr (Gram) {
      A.template selfadjointView<Eigen::Lower>().rankUpdate(C.transpose());
      const Matrix<S> DC = D.template triangularView<Eigen::Lower>().transpose() * C;
      C = DC;
    }
    triangular<Gram>(D);
    if constexpr (!Gram) {
      const Matrix<S> CA = C * A.template triangularView<Eigen::Lower>();
      C.noalias() = -(D.template triangularView<Eigen::Lower>() * CA);
    }
  }

  template <class T>
  static Vector<T>& scratch() {
    thread_local Vector<T> s;
    return s;
  }

  void zero_diagonal(VectorRef<S> theta) const {
    auto b = B_.map<S>(theta);
    b.diagonal().setZero();
  }

  // The example's input items and values.
  template <class V>
  void input_of(const Batch& batch, const RowExample& ex, std::vector<std::uint32_t>& cols, V& vals) const {
    cols.clear();
    vals.clear();
    for (const RowIndex r : ex.input) {
      cols.push_back(batch.column(r));
      vals.push_back(static_cast<typename V::value_type>(opt_.binary ? 1.0f : batch.data->rating(r)));
    }
  }

  // s = x B with the diagonal read as 0 (s sized n).
  template <class T>
  void scores(const ConstVectorRef<T>& th, const Batch& batch, const RowExample& ex, Vector<T>& s) const {
    const auto b = B_.map<T>(th);
    s.resize(this->columns_);
    s.setZero();
    for (const RowIndex r : ex.input) {
      const std::uint32_t c = batch.column(r);
      const T x = T(static_cast<S>(opt_.binary ? 1.0f : batch.data->rating(r)));
      s += x * b.col(c);
      s[c] -= x * b(c, c);
    }
  }

  template <class T, class Sink>
  double run(const ConstVectorRef<T>& th, const Batch& batch, Sink& g) const {
    constexpr bool grad = !std::is_same_v<Sink, NoGradient>;
    const auto b = B_.map<T>(th);
    const double pen = opt_.reg / static_cast<double>(examples_);
    double total = pen * (static_cast<double>(value_of(b.squaredNorm())) -
                          static_cast<double>(value_of(b.diagonal().squaredNorm())));
    std::optional<Eigen::Map<Matrix<T>>> gb;
    if constexpr (grad) {
      gb.emplace(detail::sink_map<T>(g, B_));
      *gb += T(static_cast<S>(2.0 * pen)) * b;
    }
    if (!batch.examples.empty()) {
      Vector<T>& s = scratch<T>();
      const T w = T(static_cast<S>(2.0 / static_cast<double>(batch.size())));
      double se = 0.0;
      for (const RowExample& ex : batch.examples) {
        scores<T>(th, batch, ex, s);
        // residual r = x − s, in place
        s = -s;
        for (const RowIndex r : ex.input) s[batch.column(r)] += T(static_cast<S>(opt_.binary ? 1.0f : batch.data->rating(r)));
        se += static_cast<double>(value_of(s.squaredNorm()));
        if constexpr (grad)
          for (const RowIndex r : ex.input) {
            const T x = T(static_cast<S>(opt_.binary ? 1.0f : batch.data->rating(r)));
            gb->col(batch.column(r)) -= (w * x) * s;
          }
      }
      total += se / static_cast<double>(batch.size());
    }
    if constexpr (grad) gb->diagonal().setZero();
    return total;
  }

  template <class Sink>
  S gradient_into(const ConstVectorRef<S>& theta, const Batch& batch, Sink& sink) const {
    return static_cast<S>(run<S>(theta, batch, sink));
  }
  template <class Sink>
  void hvp_into(const ConstVectorRef<S>& theta, const Batch& batch, const ConstVectorRef<S>& v,
                Sink& out) const {
    detail::hvp_by_duals<S>(theta, v, out, [&](const ConstVectorRef<Dual<S>>& td, SparseGradient<Dual<S>>& g) {
      (void)run<Dual<S>>(td, batch, g);
    });
  }

  Options opt_;
  std::size_t examples_ = 1;
  Block B_;
};

}  // namespace metarec
