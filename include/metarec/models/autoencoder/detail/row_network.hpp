#pragma once
/// @file row_network.hpp
/// @brief The network every neural autoencoder of the family is (AutoRec, DeepRec, CDAE, Mult-DAE,
/// Mult-VAE), written once as a template over its arithmetic type T (S for losses and gradients,
/// Dual<S> for exact Hessian-vector products, row_model.hpp), and the CRTP base
/// `RowNetworkModel` that gives a model its `Model` members from a `RowNetworkSpec`.
///
/// For an example e (a user's or an item's row) with input entries (c, x_c) and selected outputs:
///
///     z⁰ = b⁰ + Σ_c x̃_c W⁰_{:,c} (+ u_e, CDAE's per-entity vector)    sparse: O(nnz × h₀)
///     a^l = f_l(z^l),  z^{l+1} = W^{l+1} post_l(a^l) + b^{l+1}        dense hidden layers (GEMM)
///     ŷ_j = f_out(M_{:,j} · post(a^{L−1}) + m_j)                        output j; M is stored h × n
///
/// - input values x̃: the rating or 1 (`RowValue`), optionally divided by the row's L2 norm, then
///   (training only) inverted dropout with probability `input_dropout` (CDAE's corruption,
///   Mult-VAE's input dropout); an entry's keep draw comes from derive_seed(seed, IN, entity, pass);
/// - post_l: identity; or inverted dropout on one hidden layer (`code_layer`, DeepRec's dropout on
///   the code); or the VAE's reparameterisation on the `latent_layer` (its z is split into μ and
///   log σ², post = μ + exp(½ log σ²) ∘ ε with ε ~ N(0, I) from the seed in training, μ otherwise);
/// - outputs are either the selected columns only (masked losses: O(targets × h) per example) or
///   all n columns (the multinomial likelihood, scoring every item, re-feeding).
///
/// Loss on a batch of B examples (every loss is a function of (θ, batch): noise from the seed):
/// - squared error on the targets: Σ_e Σ_{j∈T_e} (ŷ_ej − r_ej)² / B, or / Σ_e |T_e| with
///   `per_rating_mean` (DeepRec's masked MSE);
/// - BCE on logits over the targets (label 1) and `negatives` × |T_e| sampled non-rated columns
///   (label 0), / B (CDAE);
/// - multinomial: −Σ_{j∈T_e} log softmax(ŷ_e)_j, / B (Mult-DAE / Mult-VAE);
/// - plus β·KL/B with KL = Σ_e Σ_d ½(−log σ² + σ² + μ² − 1) (Mult-VAE);
/// - plus (reg/2) Σ_l ‖W^l‖² over every weight matrix (not the biases), whole, on every batch;
/// - plus (user_reg/2)/B Σ_e ‖u_e‖² (CDAE);
/// - plus, with `refeed` ρ > 0 (DeepRec's dense re-feeding): ρ/(B·n) Σ_e ‖f(y_e) − y_e‖² where
///   y_e = f(x_e) is the dense output of the first pass and f(y_e) a second pass of the same
///   network on it (dense input, its own dropout draws). The gradient flows through y_e on both
///   sides: the term is part of one loss, so the gradient is exact (DeepRec's code instead
///   detaches y and takes a second optimiser step).
///
/// Gradients touch whole weight blocks (the penalty is dense), the touched columns of W⁰ and M,
/// and the user vectors of the batch's entities. Scratch lives in a grow-only per-thread
/// workspace: after the first call with the largest batch a call allocates nothing.

#include <metarec/core/dual.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/data/row_batch.hpp>
#include <metarec/models/autoencoder/detail/row_model.hpp>
#include <metarec/nn/activation.hpp>
#include <metarec/nn/common.hpp>
#include <metarec/nn/dense.hpp>

#ifdef METAREC_HAS_OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace metarec {

/// What a rating-prediction autoencoder (AutoRec, DeepRec) predicts where its network knows
/// nothing, and the range of its predictions.
struct RatingRange {
  double default_rating = -1.0;  ///< for rows / columns without training ratings (< 0: training mean, or 3)
  double min_rating = 1.0;       ///< predictions are clipped to [min_rating, max_rating]
  double max_rating = 5.0;       ///< (no clipping when min_rating >= max_rating)
};

}  // namespace metarec

namespace metarec::detail {

/// What an input entry carries.
enum class RowValue : std::uint8_t {
  rating,  ///< the rating (AutoRec, DeepRec)
  binary,  ///< 1 for every rated column (CDAE, Mult-VAE)
};

/// The loss on the outputs (see the file comment).
enum class RowLoss : std::uint8_t { squared_error, bce, multinomial };

/// The architecture and loss of a `RowNetworkModel`.
struct RowNetworkSpec {
  std::vector<Eigen::Index> hidden{};             ///< hidden widths (≥ 1 layer); the latent's is d
  std::vector<nn::Activation> activations{};      ///< one per hidden layer (the latent's is ignored)
  nn::Activation output = nn::Activation::identity;
  RowValue value = RowValue::rating;
  bool normalize = false;       ///< divide each input row by its L2 norm (Mult-VAE)
  double input_dropout = 0.0;   ///< drop probability of an input entry, training only
  int code_layer = -1;          ///< hidden layer whose output gets dropout `code_dropout`
  double code_dropout = 0.0;
  int latent_layer = -1;        ///< VAE: this hidden layer is the latent (its layer outputs μ, log σ²)
  double beta = 0.0;            ///< KL weight
  RowLoss loss = RowLoss::squared_error;
  bool per_rating_mean = false; ///< squared error / the batch's target count (else / examples)
  int negatives = 0;            ///< BCE: sampled negatives per target
  bool user_vectors = false;    ///< a vector per entity added to the first layer (CDAE)
  double reg = 0.0;             ///< (reg/2) Σ‖W‖², every weight matrix
  double user_reg = 0.0;        ///< (user_reg/2)/B Σ‖u_e‖²
  double refeed = 0.0;          ///< ρ of the re-feeding term (squared error only)
  nn::DenseInit init = nn::DenseInit::xavier_uniform;
};

/// What rating-prediction models (squared error) return where the network knows nothing: an
/// example without input rows, or an output column without training rows, gets `default_rating`;
/// other predictions are clipped to [min_rating, max_rating] (no clipping when min ≥ max).
struct RatingDefaults {
  double default_rating = 3.0;
  double min_rating = 1.0;
  double max_rating = 5.0;
  std::vector<std::uint8_t> known_columns{};  ///< 1 = has training rows; empty: all known
};

/// Sets `d` for a rating model trained on `rows` (of `side` examples): the columns with training
/// rows are known, the default is `range.default_rating` (< 0: the mean training rating, or 3
/// without rows), predictions clipped to the range. Returns the number of entities with training rows.
/// @throws std::invalid_argument (naming `who`) on a row outside the data set.
inline std::size_t rating_defaults(const char* who, const Dataset& data, RowSide side,
                                   std::span<const RowIndex> rows, const RatingRange& range,
                                   RatingDefaults& d) {
  const double default_rating = range.default_rating;
  d.min_rating = range.min_rating;
  d.max_rating = range.max_rating;
  d.default_rating = default_rating >= 0.0 ? default_rating : 3.0;
  d.known_columns.clear();
  if (rows.empty()) return 0;
  check_rows(data, rows, who, false, "training row");
  d.known_columns.assign(row_length(data, side), 0);
  std::vector<std::uint8_t> entity(entity_count(data, side), 0);
  double sum = 0.0;
  std::size_t entities = 0;
  for (const RowIndex r : rows) {
    d.known_columns[side == RowSide::user ? data.item(r) : data.user(r)] = 1;
    const std::uint32_t e = entity_of(data, side, r);
    entities += entity[e] == 0 ? 1 : 0;
    entity[e] = 1;
    sum += data.rating(r);
  }
  if (default_rating < 0.0) d.default_rating = sum / static_cast<double>(rows.size());
  return entities;
}

/// One pass of the network over a batch (activations and their gradients).
template <class T>
struct RowPass {
  std::vector<Matrix<T>> z, a, d1, dz, g;  ///< per hidden layer: z, f(z), f'(z), ∂L/∂z, ∂L/∂post(a)
  Matrix<T> post, noise;                   ///< post(a) of the code / latent layer and its mask or ε
  Matrix<T> y, yd1, dy;                    ///< all outputs: ŷ (n × B), f_out', ∂L/∂ŷ
  Matrix<T> gin;                           ///< ∂L/∂(dense input) (re-feeding)
  Vector<T> sy, sd1, sdy;                  ///< selected outputs: ŷ, f_out', ∂L/∂ŷ
};

/// Per-thread scratch of a `RowNetworkModel` call.
template <class T>
struct RowWorkspace {
  Eigen::Index B = 0;
  std::uint64_t seed = 0;  ///< the batch seed (noise of the post layers)
  std::vector<std::uint32_t> in_col, sel_col, entity;
  std::vector<T> in_val, sel_label;
  std::vector<std::size_t> in_start, sel_start;
  std::vector<std::uint8_t> marker;
  std::vector<double> example_loss;
  RowPass<T> p1, p2;
};

/// Calls f(e) for every example e < B, on OpenMP threads when `work` (flops) is large and no
/// parallel region is active (a MAML meta-batch's tasks run in one): f must write only example
/// e's data, so the result does not depend on the thread count.
template <class F>
void for_examples(Eigen::Index B, double work, F&& f) {
#ifdef METAREC_HAS_OPENMP
  if (work > 2e5 && B > 1 && omp_get_max_threads() > 1 && !omp_in_parallel()) {
#pragma omp parallel for schedule(static)
    for (Eigen::Index e = 0; e < B; ++e) f(e);
    return;
  }
#endif
  (void)work;
  for (Eigen::Index e = 0; e < B; ++e) f(e);
}

/// Calls f(r0, r1) on slices of the rows [0, rows) (multiples of 16), on OpenMP threads when
/// `work` is large: for accumulations into shared columns (one row slice per thread, every
/// element summed in the same order whatever the slicing).
template <class F>
void for_row_slices(Eigen::Index rows, double work, F&& f) {
#ifdef METAREC_HAS_OPENMP
  const int threads = omp_get_max_threads();
  if (work > 2e5 && rows >= 32 && threads > 1 && !omp_in_parallel()) {
    const Eigen::Index chunk = ((rows + threads - 1) / threads + 15) / 16 * 16;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < threads; ++t) {
      const Eigen::Index r0 = std::min<Eigen::Index>(rows, t * chunk), r1 = std::min<Eigen::Index>(rows, r0 + chunk);
      if (r0 < r1) f(r0, r1);
    }
    return;
  }
#endif
  (void)work;
  f(Eigen::Index{0}, rows);
}

/// The network of the family's neural models over scalar S (one instantiation per S, shared by
/// every model): layout, initialisation, loss, gradient, H·v, predictions and scores. The models
/// (`RowNetworkModel`) check sizes and batches before calling it.
template <class S>
class RowNetwork {
 public:
  [[nodiscard]] const RowNetworkSpec& spec() const noexcept { return spec_; }
  [[nodiscard]] RatingDefaults& defaults() noexcept { return defaults_; }
  [[nodiscard]] const RatingDefaults& defaults() const noexcept { return defaults_; }
  /// The per-entity vectors (h₀ × entities; empty without `user_vectors`).
  [[nodiscard]] const Block& entity_vectors() const noexcept { return users_; }
  /// The first layer's bias b⁰.
  [[nodiscard]] const Block& input_bias() const noexcept { return input_.b; }
  void set_beta(double beta) noexcept { spec_.beta = spec_.latent_layer >= 0 ? beta : 0.0; }

  /// Lays the network out in `lay` (input layer, hidden layers, output layer, per-entity vectors).
  /// @throws std::invalid_argument "<model>: ..." on an invalid spec.
  void build(ParameterLayout& lay, std::uint32_t columns, std::uint32_t entities, RowNetworkSpec spec,
             const char* model) {
    const auto require = [&](bool ok, const std::string& what) {
      if (!ok) throw std::invalid_argument(std::string(model) + ": " + what);
    };
    spec_ = std::move(spec);
    columns_ = columns;
    const auto L = static_cast<int>(spec_.hidden.size());
    require(L >= 1, "needs at least one hidden layer");
    require(spec_.activations.size() == spec_.hidden.size(),
            "one activation per hidden layer (" + std::to_string(spec_.activations.size()) + " for " +
                std::to_string(L) + " layers)");
    for (const Eigen::Index h : spec_.hidden)
      require(h >= 1, "hidden widths must be >= 1 (got " + std::to_string(h) + ")");
    require(spec_.latent_layer < 0 || spec_.code_layer < 0,
            "a network has a code dropout or a latent layer, not both");
    require(spec_.latent_layer < L && spec_.code_layer < L, "code or latent layer out of range");
    require(spec_.input_dropout >= 0.0 && spec_.input_dropout < 1.0,
            "input dropout must be in [0, 1) (got " + std::to_string(spec_.input_dropout) + ")");
    require(spec_.code_dropout >= 0.0 && spec_.code_dropout < 1.0,
            "code dropout must be in [0, 1) (got " + std::to_string(spec_.code_dropout) + ")");
    require(spec_.reg >= 0.0 && spec_.user_reg >= 0.0 && spec_.beta >= 0.0 && spec_.refeed >= 0.0,
            "reg, beta and refeed must be >= 0 (reg " + std::to_string(spec_.reg) + ", beta " +
                std::to_string(spec_.beta) + ", refeed " + std::to_string(spec_.refeed) + ")");
    require(spec_.negatives >= 0, "negatives must be >= 0 (got " + std::to_string(spec_.negatives) + ")");
    require(spec_.refeed == 0.0 || spec_.loss == RowLoss::squared_error,
            "re-feeding needs the squared-error loss");
    const Eigen::Index n = columns;
    input_ = nn::Dense::add(lay, "encoder.0", n, width(0));
    for (int l = 1; l < L; ++l)
      layers_.push_back(nn::Dense::add(lay, "hidden." + std::to_string(l), spec_.hidden[static_cast<std::size_t>(l) - 1], width(l)));
    // The output layer stores M as h × n (column j = output j's weights), so a masked loss reads
    // one contiguous column per target.
    out_.W = lay.add("decoder.weight", spec_.hidden[static_cast<std::size_t>(L - 1)], n);
    out_.b = lay.add("decoder.bias", n, 1);
    if (spec_.user_vectors) users_ = lay.add("entity_vectors", width(0), entities);
  }

  /// Writes the weights by the spec's scheme; biases and per-entity vectors are left at 0 (θ is
  /// zeroed by the caller).
  void initialize(VectorRef<S> theta, Rng& rng) const {
    input_.template initialize<S>(theta, rng, spec_.init);
    for (const nn::Dense& d : layers_) d.template initialize<S>(theta, rng, spec_.init);
    // M is stored transposed (h × n): draw it as the n × h layer it is (fan-in h).
    const nn::Dense out_as_layer{Block{out_.W.offset, out_.W.cols, out_.W.rows}, out_.b};
    out_as_layer.template initialize<S>(theta, rng, spec_.init);
    theta.segment(out_.b.offset, out_.b.size()).setZero();
    theta.segment(input_.b.offset, input_.b.size()).setZero();
  }

  [[nodiscard]] S loss(const ConstVectorRef<S>& theta, const RowBatch& batch) const {
    NoGradient none;
    return static_cast<S>(run<S>(theta, batch, none));
  }
  template <class Sink>
  S gradient(const ConstVectorRef<S>& theta, const RowBatch& batch, Sink& sink) const {
    return static_cast<S>(run<S>(theta, batch, sink));
  }
  template <class Sink>
  void hvp(const ConstVectorRef<S>& theta, const RowBatch& batch, const ConstVectorRef<S>& v, Sink& out) const {
    hvp_by_duals<S>(theta, v, out, [&](const ConstVectorRef<Dual<S>>& td, SparseGradient<Dual<S>>& g) {
      (void)run<Dual<S>>(td, batch, g);
    });
  }

  /// One prediction per target row (see `RowNetworkModel::predict`).
  void predict(const ConstVectorRef<S>& theta, const RowBatch& batch, VectorRef<S> out) const {
    if (batch.num_targets() == 0) return;
    RowWorkspace<S>& ws = workspace<S>();
    const bool all = spec_.loss == RowLoss::multinomial;
    gather(batch, ws, false);
    forward<S>(theta, ws, ws.p1, nullptr, false, all, 0);
    Eigen::Index k = 0;
    for (std::size_t e = 0; e < batch.size(); ++e) {
      const RowExample& ex = batch.examples[e];
      const auto ec = static_cast<Eigen::Index>(e);
      S lse = S(0);
      if (all) lse = log_sum_exp(ws.p1.y.col(ec));
      for (std::size_t s = ws.sel_start[e]; s < ws.sel_start[e + 1]; ++s, ++k) {
        const std::uint32_t j = ws.sel_col[s];
        switch (spec_.loss) {
          case RowLoss::squared_error: out[k] = rating(ws.p1.sy[static_cast<Eigen::Index>(s)], ex, j); break;
          case RowLoss::bce: out[k] = sigmoid(ws.p1.sy[static_cast<Eigen::Index>(s)]); break;
          case RowLoss::multinomial: out[k] = std::exp(ws.p1.y(j, ec) - lse); break;
        }
      }
    }
  }

  /// Every column's output for each example (see `RowNetworkModel::score_all`).
  void score_all(const ConstVectorRef<S>& theta, const RowBatch& batch, Eigen::Ref<Matrix<S>> out) const {
    if (batch.examples.empty()) return;
    RowWorkspace<S>& ws = workspace<S>();
    gather(batch, ws, false, false);
    forward<S>(theta, ws, ws.p1, nullptr, false, true, 0);
    out = ws.p1.y.leftCols(ws.B);
  }

  /// See `RowNetworkModel::reset_untrained`.
  std::size_t reset_untrained(VectorRef<S> theta, const RowBatch& batch) const {
    std::vector<char> seen(columns_, 0);
    const Dataset& data = *batch.data;
    const auto column = [&](RowIndex r) { return batch.side == RowSide::user ? data.item(r) : data.user(r); };
    for (const RowExample& ex : batch.examples) {
      for (const RowIndex r : ex.input) seen[column(r)] = 1;
      for (const RowIndex r : ex.target) seen[column(r)] = 1;
    }
    const S bias = static_cast<S>(neutral_output());
    std::size_t changed = 0;
    const auto set = [&](S& x, S v) {
      if (x != v) x = v, ++changed;
    };
    for (std::uint32_t j = 0; j < columns_; ++j) {
      if (seen[j]) continue;
      const auto jj = static_cast<Eigen::Index>(j);
      for (Eigen::Index r = 0; r < input_.W.rows; ++r) set(theta[input_.W.offset + jj * input_.W.rows + r], S(0));
      for (Eigen::Index r = 0; r < out_.W.rows; ++r) set(theta[out_.W.offset + jj * out_.W.rows + r], S(0));
      set(theta[out_.b.offset + jj], bias);
    }
    return changed;
  }

  /// The per-entity vector of each example (once each), or b⁰ (see `RowNetworkModel`).
  void local_segments(const RowBatch& batch, std::vector<Segment>& out) const {
    if (!spec_.user_vectors) {
      out.push_back(input_.b.segment());
      return;
    }
    const std::size_t first = out.size();
    for (const RowExample& ex : batch.examples) {
      const Segment s = users_.column(ex.entity);
      if (std::find(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(), s) == out.end())
        out.push_back(s);
    }
  }

 private:
  struct NoGradient {};

  /// Hidden layer l's output width (2d for the latent layer: μ and log σ²).
  [[nodiscard]] Eigen::Index width(int l) const noexcept {
    const Eigen::Index h = spec_.hidden[static_cast<std::size_t>(l)];
    return l == spec_.latent_layer ? 2 * h : h;
  }
  [[nodiscard]] int hidden_layers() const noexcept { return static_cast<int>(spec_.hidden.size()); }
  [[nodiscard]] bool has_post(int l) const noexcept {
    return l == spec_.latent_layer || (l == spec_.code_layer && spec_.code_dropout > 0.0);
  }

  template <class T>
  static RowWorkspace<T>& workspace() {
    thread_local RowWorkspace<T> ws;
    return ws;
  }

  // Sizes the passes for B examples (grow-only).
  template <class T>
  void reserve(RowWorkspace<T>& ws, bool two_passes) const {
    const Eigen::Index B = ws.B;
    const int L = hidden_layers();
    for (RowPass<T>* p : {&ws.p1, &ws.p2}) {
      if (p == &ws.p2 && !two_passes) break;
      for (auto* v : {&p->z, &p->a, &p->d1, &p->dz, &p->g}) v->resize(static_cast<std::size_t>(L));
      for (int l = 0; l < L; ++l) {
        const auto ul = static_cast<std::size_t>(l);
        for (auto* m : {&p->z[ul], &p->a[ul], &p->d1[ul], &p->dz[ul]}) nn::ensure_shape(*m, width(l), B);
        nn::ensure_shape(p->g[ul], spec_.hidden[ul], B);
      }
      const int pl = std::max(spec_.code_layer, spec_.latent_layer);
      if (pl >= 0) {
        nn::ensure_shape(p->post, spec_.hidden[static_cast<std::size_t>(pl)], B);
        nn::ensure_shape(p->noise, spec_.hidden[static_cast<std::size_t>(pl)], B);
      }
    }
  }
  template <class T>
  void reserve_all_outputs(RowPass<T>& p, Eigen::Index B, bool input_grad) const {
    const Eigen::Index n = columns_;
    for (auto* m : {&p.y, &p.yd1, &p.dy}) nn::ensure_shape(*m, n, B);
    if (input_grad) nn::ensure_shape(p.gin, n, B);
  }

  // The input entries and the selected outputs of the batch. `selection`: the targets (and, for
  // BCE in training, sampled negatives); off for score_all.
  template <class T>
  void gather(const RowBatch& batch, RowWorkspace<T>& ws, bool training, bool selection = true) const {
    const Dataset& ds = *batch.data;
    ws.B = static_cast<Eigen::Index>(batch.size());
    ws.seed = batch.seed;
    ws.in_col.clear();
    ws.in_val.clear();
    ws.sel_col.clear();
    ws.sel_label.clear();
    ws.entity.clear();
    ws.in_start.assign(1, 0);
    ws.sel_start.assign(1, 0);
    const double p = training ? spec_.input_dropout : 0.0;
    const double keep_scale = 1.0 / (1.0 - p);
    const bool binary = spec_.value == RowValue::binary;
    for (const RowExample& ex : batch.examples) {
      ws.entity.push_back(ex.entity);
      double scale = 1.0;
      if (spec_.normalize && !ex.input.empty()) {
        double ss = 0.0;
        for (const RowIndex r : ex.input) ss += binary ? 1.0 : static_cast<double>(ds.rating(r)) * ds.rating(r);
        scale = 1.0 / std::sqrt(ss);
      }
      Rng rng(derive_seed(batch.seed, tag_ae_input, ex.entity));
      for (const RowIndex r : ex.input) {
        double x = (binary ? 1.0 : static_cast<double>(ds.rating(r))) * scale;
        if (p > 0.0) {
          if (rng.uniform() < p) continue;
          x *= keep_scale;
        }
        ws.in_col.push_back(batch.column(r));
        ws.in_val.push_back(T(static_cast<S>(x)));
      }
      ws.in_start.push_back(ws.in_col.size());
      if (selection) {
        for (const RowIndex r : ex.target) {
          ws.sel_col.push_back(batch.column(r));
          ws.sel_label.push_back(T(spec_.loss == RowLoss::squared_error ? static_cast<S>(ds.rating(r)) : S(1)));
        }
        if (training && spec_.loss == RowLoss::bce && spec_.negatives > 0) sample_negatives(batch, ex, ws);
      }
      ws.sel_start.push_back(ws.sel_col.size());
    }
  }

  // `negatives` × |targets| columns the example has no input or target row for, uniformly without
  // repetition, from derive_seed(seed, NEG, entity).
  template <class T>
  void sample_negatives(const RowBatch& batch, const RowExample& ex, RowWorkspace<T>& ws) const {
    const std::uint32_t n = columns_;
    if (ws.marker.size() != n) ws.marker.assign(n, 0);
    std::size_t marked = 0;
    auto mark = [&](std::uint32_t c) {
      if (ws.marker[c] == 0) ++marked;
      ws.marker[c] = 1;
    };
    for (const RowIndex r : ex.input) mark(batch.column(r));
    for (const RowIndex r : ex.target) mark(batch.column(r));
    const std::size_t first = ws.sel_col.size();
    std::size_t want = static_cast<std::size_t>(spec_.negatives) * ex.target.size();
    want = std::min(want, static_cast<std::size_t>(n) - marked);
    Rng rng(derive_seed(batch.seed, tag_ae_negative, ex.entity));
    for (std::size_t k = 0; k < want; ++k) {
      std::uint32_t c;
      do c = static_cast<std::uint32_t>(rng.below(n));
      while (ws.marker[c] != 0);
      ws.marker[c] = 1;
      ws.sel_col.push_back(c);
      ws.sel_label.push_back(T(S(0)));
    }
    for (const RowIndex r : ex.input) ws.marker[batch.column(r)] = 0;
    for (const RowIndex r : ex.target) ws.marker[batch.column(r)] = 0;
    for (std::size_t k = first; k < ws.sel_col.size(); ++k) ws.marker[ws.sel_col[k]] = 0;
  }

  // a = f(z), d1 = f'(z) (element-wise; one switch per call).
  template <class T, class Z, class A, class D>
  static void activate(nn::Activation act, const Z& z, A&& a, D&& d1) {
    using std::exp;
    using std::tanh;
    const auto lam = static_cast<S>(nn::detail::selu_lambda);
    const auto la = static_cast<S>(nn::detail::selu_lambda * nn::detail::selu_alpha);
    if constexpr (std::is_floating_point_v<T>) {  // Eigen's SIMD functions
      switch (act) {
        case nn::Activation::identity:
          a = z;
          d1.setOnes();
          return;
        case nn::Activation::tanh:
          a = z.array().tanh().matrix();
          d1 = (T(1) - a.array().square()).matrix();
          return;
        case nn::Activation::sigmoid:
          a = (T(1) + (-z.array()).exp()).inverse().matrix();  // exp overflow gives 1/inf = 0
          d1 = (a.array() * (T(1) - a.array())).matrix();
          return;
        default: break;
      }
    }
    const Eigen::Index rows = z.rows(), cols = z.cols();
    for (Eigen::Index c = 0; c < cols; ++c)
      for (Eigen::Index r = 0; r < rows; ++r) {
        const T x = z(r, c);
        switch (act) {
          case nn::Activation::identity: a(r, c) = x; d1(r, c) = T(S(1)); break;
          case nn::Activation::relu:
            a(r, c) = x > T(S(0)) ? x : T(S(0));
            d1(r, c) = T(x > T(S(0)) ? S(1) : S(0));
            break;
          case nn::Activation::selu:
            if (x > T(S(0))) {
              a(r, c) = lam * x;
              d1(r, c) = T(lam);
            } else {
              const T e = exp(x);
              a(r, c) = la * (e - T(S(1)));
              d1(r, c) = la * e;
            }
            break;
          case nn::Activation::tanh: {
            const T t = tanh(x);
            a(r, c) = t;
            d1(r, c) = T(S(1)) - t * t;
            break;
          }
          case nn::Activation::sigmoid: {
            const T s = sigmoid(x);
            a(r, c) = s;
            d1(r, c) = s * (T(S(1)) - s);
            break;
          }
        }
      }
  }

  [[nodiscard]] nn::Activation hidden_activation(int l) const noexcept {
    return l == spec_.latent_layer ? nn::Activation::identity : spec_.activations[static_cast<std::size_t>(l)];
  }

  // The input of layer l+1: post(a^l) when layer l has one, else a^l (columns 0..B−1).
  template <class T>
  auto layer_output(RowPass<T>& p, int l, Eigen::Index B) const {
    return (has_post(l) ? p.post : p.a[static_cast<std::size_t>(l)]).leftCols(B);
  }

  // Forward pass `pass` (0: the sparse input gathered in ws; 1: the dense input `dense_in`).
  template <class T>
  void forward(const ConstVectorRef<T>& th, RowWorkspace<T>& ws, RowPass<T>& p,
               const Matrix<T>* dense_in, bool training, bool all_outputs, int pass) const {
    const Eigen::Index B = ws.B;
    reserve(ws, pass == 1);
    if (all_outputs) reserve_all_outputs(p, B, false);
    const int L = hidden_layers();
    {
      auto z = p.z[0].leftCols(B);
      const auto W0 = input_.W.template map<T>(th);
      z = nn::bias_map<T>(th, input_.b).replicate(1, B);
      if (dense_in != nullptr) {
        z.noalias() += W0 * dense_in->leftCols(B);
      } else {
        const double work = static_cast<double>(ws.in_col.size() * static_cast<std::size_t>(z.rows()));
        for_examples(B, work, [&](Eigen::Index e) {
          for (std::size_t k = ws.in_start[static_cast<std::size_t>(e)]; k < ws.in_start[static_cast<std::size_t>(e) + 1]; ++k)
            z.col(e) += ws.in_val[k] * W0.col(ws.in_col[k]);
        });
      }
      if (spec_.user_vectors)
        for (Eigen::Index e = 0; e < B; ++e)
          z.col(e) += users_.template map<T>(th).col(ws.entity[static_cast<std::size_t>(e)]);
      activate<T>(hidden_activation(0), z, p.a[0].leftCols(B), p.d1[0].leftCols(B));
      post_forward<T>(ws, p, 0, training, pass);
    }
    for (int l = 1; l < L; ++l) {
      const auto ul = static_cast<std::size_t>(l);
      const nn::Dense& d = layers_[ul - 1];
      auto z = p.z[ul].leftCols(B);
      d.template forward<T>(th, layer_output(p, l - 1, B), z);
      activate<T>(hidden_activation(l), z, p.a[ul].leftCols(B), p.d1[ul].leftCols(B));
      post_forward<T>(ws, p, l, training, pass);
    }
    const auto x = layer_output(p, L - 1, B);
    const auto M = out_.W.template map<T>(th);
    const auto m = nn::bias_map<T>(th, out_.b);
    if (all_outputs) {
      auto y = p.y.leftCols(B);
      y.noalias() = M.transpose() * x;
      y.colwise() += m;
      activate<T>(spec_.output, y, y, p.yd1.leftCols(B));
    } else {
      const auto ns = static_cast<Eigen::Index>(ws.sel_col.size());
      for (auto* v : {&p.sy, &p.sd1, &p.sdy})
        if (v->size() < ns) v->resize(std::max<Eigen::Index>(ns, 2 * v->size()));
      for_examples(B, static_cast<double>(ws.sel_col.size() * static_cast<std::size_t>(x.rows())), [&](Eigen::Index e) {
        for (std::size_t s = ws.sel_start[static_cast<std::size_t>(e)]; s < ws.sel_start[static_cast<std::size_t>(e) + 1]; ++s) {
          const std::uint32_t j = ws.sel_col[s];
          p.sy[static_cast<Eigen::Index>(s)] = M.col(j).dot(x.col(e)) + m[j];
        }
      });
      auto sy = p.sy.head(ns);
      activate<T>(spec_.output, sy, sy, p.sd1.head(ns));
    }
  }

  // post(a^l): code dropout or the reparameterisation (μ in evaluation).
  template <class T>
  void post_forward(RowWorkspace<T>& ws, RowPass<T>& p, int l, bool training, int pass) const {
    if (!has_post(l)) return;
    const Eigen::Index B = ws.B;
    const auto ul = static_cast<std::size_t>(l);
    const Eigen::Index h = spec_.hidden[ul];
    auto a = p.a[ul].leftCols(B);
    auto post = p.post.leftCols(B);
    auto noise = p.noise.leftCols(B);
    if (l == spec_.latent_layer) {
      if (!training) {
        post = a.topRows(h);
        return;
      }
      for (Eigen::Index e = 0; e < B; ++e) {
        Rng rng(derive_seed(ws.seed, tag_ae_latent, ws.entity[static_cast<std::size_t>(e)], pass));
        for (Eigen::Index j = 0; j < h; ++j) noise(j, e) = T(static_cast<S>(rng.normal()));
      }
      using std::exp;
      for (Eigen::Index e = 0; e < B; ++e)
        for (Eigen::Index j = 0; j < h; ++j)
          post(j, e) = a(j, e) + exp(T(S(0.5)) * a(h + j, e)) * noise(j, e);
      return;
    }
    if (!training) {
      post = a;
      return;
    }
    const double q = spec_.code_dropout;
    const auto keep = static_cast<S>(1.0 / (1.0 - q));
    for (Eigen::Index e = 0; e < B; ++e) {
      Rng rng(derive_seed(ws.seed, tag_ae_code, ws.entity[static_cast<std::size_t>(e)], pass));
      for (Eigen::Index j = 0; j < h; ++j) noise(j, e) = T(rng.uniform() >= q ? keep : S(0));
    }
    post = a.cwiseProduct(noise);
  }

  // Backward pass: reads p.dy (all outputs) or p.sdy (selected); accumulates ∇ into the sink; with
  // `input_grad`, writes ∂L/∂(dense input) into p.gin. KL gradients of the latent layer included.
  template <class T, class Sink>
  void backward(const ConstVectorRef<T>& th, RowWorkspace<T>& ws, RowPass<T>& p,
                const Matrix<T>* dense_in, bool all_outputs, bool input_grad, Sink& g) const {
    const Eigen::Index B = ws.B;
    const int L = hidden_layers();
    const auto uL = static_cast<std::size_t>(L - 1);
    {
      const auto x = layer_output(p, L - 1, B);
      const auto M = out_.W.template map<T>(th);
      auto gM = sink_map<T>(g, out_.W);
      auto gm = sink_map<T>(g, out_.b);
      auto gx = p.g[uL].leftCols(B);
      if (all_outputs) {
        auto dz = p.dy.leftCols(B);
        dz.array() *= p.yd1.leftCols(B).array();
        gM.noalias() += x * dz.transpose();
        gm.col(0) += dz.rowwise().sum();
        gx.noalias() = M * dz;
      } else {
        const auto ns = static_cast<Eigen::Index>(ws.sel_col.size());
        p.sdy.head(ns).array() *= p.sd1.head(ns).array();  // ∂L/∂(pre-activation)
        for (std::size_t s = 0; s < ws.sel_col.size(); ++s) gm(ws.sel_col[s], 0) += p.sdy[static_cast<Eigen::Index>(s)];
        const double work = static_cast<double>(ws.sel_col.size() * static_cast<std::size_t>(x.rows()));
        for_row_slices(x.rows(), work, [&](Eigen::Index r0, Eigen::Index r1) {
          for (Eigen::Index e = 0; e < B; ++e)
            for (std::size_t s = ws.sel_start[static_cast<std::size_t>(e)]; s < ws.sel_start[static_cast<std::size_t>(e) + 1]; ++s)
              gM.col(ws.sel_col[s]).segment(r0, r1 - r0) += p.sdy[static_cast<Eigen::Index>(s)] * x.col(e).segment(r0, r1 - r0);
        });
        for_examples(B, work, [&](Eigen::Index e) {
          gx.col(e).setZero();
          for (std::size_t s = ws.sel_start[static_cast<std::size_t>(e)]; s < ws.sel_start[static_cast<std::size_t>(e) + 1]; ++s)
            gx.col(e) += p.sdy[static_cast<Eigen::Index>(s)] * M.col(ws.sel_col[s]);
        });
      }
    }
    for (int l = L - 1; l >= 0; --l) {
      const auto ul = static_cast<std::size_t>(l);
      auto dz = p.dz[ul].leftCols(B);
      post_backward<T>(ws, p, l, dz);
      dz.array() *= p.d1[ul].leftCols(B).array();
      if (l > 0) {
        nn::MatRef<T> gin = p.g[ul - 1].leftCols(B);
        layers_[ul - 1].template backward<T>(th, layer_output(p, l - 1, B), dz, g, &gin);
        continue;
      }
      auto gW0 = sink_map<T>(g, input_.W);
      sink_map<T>(g, input_.b).col(0) += dz.rowwise().sum();
      if (dense_in != nullptr) {
        gW0.noalias() += dz * dense_in->leftCols(B).transpose();
        if (input_grad) p.gin.leftCols(B).noalias() = input_.W.template map<T>(th).transpose() * dz;
      } else {
        const double work = static_cast<double>(ws.in_col.size() * static_cast<std::size_t>(dz.rows()));
        for_row_slices(dz.rows(), work, [&](Eigen::Index r0, Eigen::Index r1) {
          for (Eigen::Index e = 0; e < B; ++e)
            for (std::size_t k = ws.in_start[static_cast<std::size_t>(e)]; k < ws.in_start[static_cast<std::size_t>(e) + 1]; ++k)
              gW0.col(ws.in_col[k]).segment(r0, r1 - r0) += ws.in_val[k] * dz.col(e).segment(r0, r1 - r0);
        });
      }
      if (spec_.user_vectors)
        for (Eigen::Index e = 0; e < B; ++e) g.segment(users_.column(ws.entity[static_cast<std::size_t>(e)])) += dz.col(e);
    }
  }

  // ∂L/∂a^l (into dz) from ∂L/∂post(a^l) = p.g[l]: through the dropout mask, or the
  // reparameterisation plus the KL term (β/B per example).
  template <class T, class DZ>
  void post_backward(RowWorkspace<T>& ws, RowPass<T>& p, int l, DZ& dz) const {
    const Eigen::Index B = ws.B;
    const auto ul = static_cast<std::size_t>(l);
    const auto gpost = p.g[ul].leftCols(B);
    if (!has_post(l)) {
      dz = gpost;
      return;
    }
    if (l == spec_.code_layer) {
      dz = gpost.cwiseProduct(p.noise.leftCols(B));
      return;
    }
    using std::exp;
    const Eigen::Index h = spec_.hidden[ul];
    const auto a = p.a[ul].leftCols(B);
    const auto eps = p.noise.leftCols(B);
    const T kl = T(static_cast<S>(spec_.beta / static_cast<double>(B)));
    for (Eigen::Index e = 0; e < B; ++e)
      for (Eigen::Index j = 0; j < h; ++j) {
        const T lv = a(h + j, e);
        dz(j, e) = gpost(j, e) + kl * a(j, e);
        dz(h + j, e) = gpost(j, e) * eps(j, e) * T(S(0.5)) * exp(T(S(0.5)) * lv) +
                       kl * T(S(0.5)) * (exp(lv) - T(S(1)));
      }
  }

  // KL(q ‖ N(0, I)) summed over the batch: Σ ½(−log σ² + σ² + μ² − 1).
  template <class T>
  double kl_sum(RowPass<T>& p, Eigen::Index B) const {
    using std::exp;
    const auto ul = static_cast<std::size_t>(spec_.latent_layer);
    const Eigen::Index h = spec_.hidden[ul];
    const auto a = p.a[ul].leftCols(B);
    double kl = 0.0;
    for (Eigen::Index e = 0; e < B; ++e)
      for (Eigen::Index j = 0; j < h; ++j) {
        const double mu = static_cast<double>(value_of(a(j, e))), lv = static_cast<double>(value_of(a(h + j, e)));
        kl += 0.5 * (-lv + std::exp(lv) + mu * mu - 1.0);
      }
    return kl;
  }

  // The heads: loss of the outputs and ∂L/∂ŷ (overwritten; all outputs: p.dy, else p.sdy).
  template <class T>
  double head(RowWorkspace<T>& ws, RowPass<T>& p, bool all_outputs) const {
    const Eigen::Index B = ws.B;
    const auto nsel = ws.sel_col.size();
    double total = 0.0;
    if (spec_.loss == RowLoss::multinomial) {
      auto dy = p.dy.leftCols(B);
      const T inv_b = T(static_cast<S>(1.0 / static_cast<double>(B)));
      ws.example_loss.resize(static_cast<std::size_t>(B));
      for_examples(B, 10.0 * static_cast<double>(p.y.rows() * B), [&](Eigen::Index e) {
        const std::size_t s0 = ws.sel_start[static_cast<std::size_t>(e)], s1 = ws.sel_start[static_cast<std::size_t>(e) + 1];
        const auto y = p.y.col(e);
        const T lse = log_sum_exp(y);
        const T count = T(static_cast<S>(s1 - s0));
        double l = static_cast<double>(value_of(lse)) * static_cast<double>(s1 - s0);
        dy.col(e) = ((y.array() - lse).exp() * (count * inv_b)).matrix();
        for (std::size_t s = s0; s < s1; ++s) {
          l -= static_cast<double>(value_of(y[ws.sel_col[s]]));
          dy(ws.sel_col[s], e) -= inv_b;
        }
        ws.example_loss[static_cast<std::size_t>(e)] = l;
      });
      for (const double l : ws.example_loss) total += l;  // in example order
      return total / static_cast<double>(B);
    }
    const double denom = spec_.per_rating_mean ? static_cast<double>(std::max<std::size_t>(nsel, 1))
                                               : static_cast<double>(B);
    const T w = T(static_cast<S>(1.0 / denom));
    if (all_outputs) p.dy.leftCols(B).setZero();
    for (Eigen::Index e = 0; e < B; ++e)
      for (std::size_t s = ws.sel_start[static_cast<std::size_t>(e)]; s < ws.sel_start[static_cast<std::size_t>(e) + 1]; ++s) {
        const std::uint32_t j = ws.sel_col[s];
        const T y = all_outputs ? p.y(j, e) : p.sy[static_cast<Eigen::Index>(s)];
        const T t = ws.sel_label[s];
        T d;
        if (spec_.loss == RowLoss::squared_error) {
          const T err = y - t;
          total += static_cast<double>(value_of(err)) * static_cast<double>(value_of(err));
          d = T(S(2)) * err * w;
        } else {
          const double yv = static_cast<double>(value_of(y));
          total += softplus(yv) - static_cast<double>(value_of(t)) * yv;
          d = (sigmoid(y) - t) * w;
        }
        if (all_outputs)
          p.dy(j, e) += d;
        else
          p.sdy[static_cast<Eigen::Index>(s)] = d;
      }
    return total / denom;
  }

  // The loss of a batch in training mode, and its gradient into `g` (unless NoGradient).
  template <class T, class Sink>
  double run(const ConstVectorRef<T>& th, const RowBatch& batch, Sink& g) const {
    constexpr bool grad = !std::is_same_v<Sink, NoGradient>;
    const Eigen::Index B = static_cast<Eigen::Index>(batch.size());
    double total = penalty<T>(th, batch, g);
    if (B == 0) return total;
    RowWorkspace<T>& ws = workspace<T>();
    gather(batch, ws, true);
    const bool refeed = spec_.refeed > 0.0;
    const bool all = spec_.loss == RowLoss::multinomial || refeed;
    forward<T>(th, ws, ws.p1, nullptr, true, all, 0);
    total += head<T>(ws, ws.p1, all);
    if (spec_.latent_layer >= 0) total += spec_.beta * kl_sum(ws.p1, B) / static_cast<double>(B);
    if (refeed) {
      // Second pass on the dense output y; ρ/(B n) Σ (f(y) − y)², gradient through both y's.
      RowPass<T>& p2 = ws.p2;
      reserve_all_outputs(p2, B, true);
      forward<T>(th, ws, p2, &ws.p1.y, true, true, 1);
      const double scale = spec_.refeed / (static_cast<double>(B) * static_cast<double>(columns_));
      auto diff = p2.dy.leftCols(B);
      diff = p2.y.leftCols(B) - ws.p1.y.leftCols(B);
      double ss = 0.0;
      for (Eigen::Index k = 0; k < diff.size(); ++k) {
        const double d = static_cast<double>(value_of(diff.data()[k]));
        ss += d * d;
      }
      total += scale * ss;
      if constexpr (grad) {
        diff *= T(static_cast<S>(2.0 * scale));
        ws.p1.dy.leftCols(B) -= diff;
        backward<T>(th, ws, p2, &ws.p1.y, true, true, g);
        ws.p1.dy.leftCols(B) += p2.gin.leftCols(B);
      }
    }
    if constexpr (grad) backward<T>(th, ws, ws.p1, nullptr, all, false, g);
    return total;
  }

  // (reg/2) Σ‖W‖² and (user_reg/2)/B Σ‖u_e‖², with their gradients.
  template <class T, class Sink>
  double penalty(const ConstVectorRef<T>& th, const RowBatch& batch, Sink& g) const {
    constexpr bool grad = !std::is_same_v<Sink, NoGradient>;
    double total = 0.0;
    if (spec_.reg > 0.0) {
      const T reg = T(static_cast<S>(spec_.reg));
      auto add = [&](const Block& W) {
        const auto w = W.template map<T>(th);
        total += 0.5 * spec_.reg * static_cast<double>(value_of(w.squaredNorm()));
        if constexpr (grad) sink_map<T>(g, W) += reg * w;
      };
      add(input_.W);
      for (const nn::Dense& d : layers_) add(d.W);
      add(out_.W);
    }
    if (spec_.user_vectors && spec_.user_reg > 0.0 && !batch.examples.empty()) {
      const double c = spec_.user_reg / static_cast<double>(batch.size());
      for (const RowExample& ex : batch.examples) {
        const auto u = users_.template map<T>(th).col(ex.entity);
        total += 0.5 * c * static_cast<double>(value_of(u.squaredNorm()));
        if constexpr (grad) g.segment(users_.column(ex.entity)) += T(static_cast<S>(c)) * u;
      }
    }
    return total;
  }

  // The output bias of a column the network knows nothing about: what gives the default rating
  // through the output activation (rating models), else 0.
  [[nodiscard]] double neutral_output() const {
    if (spec_.loss != RowLoss::squared_error || spec_.value != RowValue::rating) return 0.0;
    const double d = defaults_.default_rating;
    switch (spec_.output) {
      case nn::Activation::identity: return d;
      case nn::Activation::relu: return std::max(d, 0.0);
      case nn::Activation::selu: return d > 0.0 ? d / nn::detail::selu_lambda : 0.0;
      case nn::Activation::tanh: return std::atanh(std::clamp(d, -0.999, 0.999));
      case nn::Activation::sigmoid: {
        const double q = std::clamp(d, 1e-3, 1.0 - 1e-3);
        return std::log(q / (1.0 - q));
      }
    }
    return 0.0;
  }

  // A rating prediction with the defaults and clipping of `defaults_`.
  [[nodiscard]] S rating(S y, const RowExample& ex, std::uint32_t column) const {
    const RatingDefaults& d = defaults_;
    if (ex.input.empty() || (!d.known_columns.empty() && d.known_columns[column] == 0))
      return static_cast<S>(d.default_rating);
    if (d.min_rating < d.max_rating)
      return std::clamp(y, static_cast<S>(d.min_rating), static_cast<S>(d.max_rating));
    return y;
  }

  RowNetworkSpec spec_;
  RatingDefaults defaults_;
  std::uint32_t columns_ = 0;
  nn::Dense input_;                ///< W⁰ (h₀ × n), b⁰
  std::vector<nn::Dense> layers_;  ///< hidden layers 1..L−1
  nn::Dense out_;                  ///< M (h × n, transposed), m (n)
  Block users_;                    ///< per-entity vectors (h₀ × entities), CDAE
};

/// CRTP base of the family's neural models: the `Model` members over a `RowNetwork<S>` with the
/// family's checks. `Derived` (which befriends `LayoutModel`) calls `build(spec)` in its
/// constructor, after filling `net_.defaults()` if it predicts ratings.
template <class Derived, class S>
class RowNetworkModel : public RowModel<Derived, S> {
  friend LayoutModel<Derived, S, RowBatch>;

 public:
  using Scalar = S;
  using Batch = RowBatch;

  [[nodiscard]] const RowNetworkSpec& spec() const noexcept { return net_.spec(); }

  /// Overwrites θ: weights by the spec's scheme (Xavier-uniform, or LeCun-normal for SELU
  /// networks), biases and per-entity vectors 0.
  /// @throws std::invalid_argument when θ has the wrong size.
  void initialize(VectorRef<S> theta, Rng& rng) const {
    this->check_size("initialize", theta.size());
    theta.setZero();
    net_.initialize(theta, rng);
  }

  /// Mean loss of the batch (row_network.hpp); 0 for an empty batch.
  /// @throws std::invalid_argument on a wrong θ size or a batch of another shape.
  [[nodiscard]] S loss(const ConstVectorRef<S>& theta, const Batch& batch) const {
    this->check_size("loss", theta.size());
    this->check_batch("loss", batch);
    return net_.loss(theta, batch);
  }

  /// One prediction per target row, example after example (dropout and noise off): the rating
  /// (squared error; defaults and clipping as `RatingDefaults`), σ(ŷ) (BCE) or the softmax
  /// probability of the column (multinomial). `out` OVERWRITTEN.
  /// @throws std::invalid_argument on a wrong θ or output size, or a batch of another shape.
  void predict(const ConstVectorRef<S>& theta, const Batch& batch, VectorRef<S> out) const {
    this->check_row_predict(theta, batch, out.size());
    net_.predict(theta, batch, out);
  }

  /// Every column's score for each example, from its input rows (targets ignored; noise off):
  /// the output ŷ (a rating for squared-error models, unclipped; a logit otherwise). `out` is
  /// num_columns × examples, OVERWRITTEN (report/item_scores.hpp `HasRowScores`).
  /// @throws std::invalid_argument on a wrong θ or output shape, or a batch of another shape.
  void score_all(const ConstVectorRef<S>& theta, const Batch& batch, Eigen::Ref<Matrix<S>> out) const {
    this->check_scores(theta, batch, out.rows(), out.cols());
    net_.score_all(theta, batch, out);
  }

  /// Resets every column that no input or target row of `batch` touches (a new item for a
  /// user-side model) to what the network says when it knows nothing: its input weights and output
  /// weights 0, its output bias the default rating through the output activation for rating
  /// models (AutoRec, DeepRec; 0 for the others). A global model fitted on `batch`'s rows then
  /// predicts the default rating for a new column instead of an untrained draw, and a new
  /// column in a support set adds nothing to the code. Returns how many parameters changed.
  /// @throws std::invalid_argument on a wrong θ size or a batch of another shape.
  std::size_t reset_untrained(VectorRef<S> theta, const Batch& batch) const {
    this->check_size("reset_untrained", theta.size());
    this->check_batch("reset_untrained", batch);
    return net_.reset_untrained(theta, batch);
  }

  /// Task-local segments (MAML): CDAE's vector of each example's entity; for the other models the
  /// first layer's bias b⁰, an offset of the code shared by all of a task's inputs (see
  /// docs/models_ae.md).
  void local_segments(const Batch& batch, std::vector<Segment>& out) const {
    net_.local_segments(batch, out);
  }

 protected:
  RowNetworkModel(RowSide side, std::uint32_t columns, std::uint32_t entities)
      : RowModel<Derived, S>(side, columns, entities) {}

  void build(RowNetworkSpec spec) {
    net_.build(this->layout_, this->columns_, this->entities_, std::move(spec), Derived::model_name);
  }
  /// Rating models: the defaults and range of their predictions from the training rows; returns
  /// the number of entities with training rows.
  std::size_t set_ratings(const Dataset& data, std::span<const RowIndex> training_rows, const RatingRange& range) {
    return rating_defaults(Derived::model_name, data, this->side_, training_rows, range, net_.defaults());
  }

  template <class Sink>
  S gradient_into(const ConstVectorRef<S>& theta, const Batch& batch, Sink& sink) const {
    return net_.gradient(theta, batch, sink);
  }
  template <class Sink>
  void hvp_into(const ConstVectorRef<S>& theta, const Batch& batch, const ConstVectorRef<S>& v,
                Sink& out) const {
    net_.hvp(theta, batch, v, out);
  }

  RowNetwork<S> net_;
};

}  // namespace metarec::detail
