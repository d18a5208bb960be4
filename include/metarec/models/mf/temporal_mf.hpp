#pragma once
/// @file temporal_mf.hpp
/// @brief Matrix factorisation with temporal features (timeSVD style).
///
/// The training time range [t_min, t_max] is cut into `time_bins` equal bins,
///
///     bin(t) = floor((t − t_min) / (t_max − t_min + 1) · bins),
///
/// with t first clamped to [t_min, t_max]: rows outside the training time range (a later test
/// period) use the first or last bin. With rank_ui ∈ [0, 1] the rating-rank feature below,
///
///     r̂_ui = μ + b_u + b_{u,bin} + b_i + b_{i,bin} + α_u · rank_ui + β_u · dev_u(t)
///            + b_{u,day(t)} + (p_u + p_{u,bin})ᵀ q_i
///
/// **Koren 2009 terms** (KDD, "Collaborative filtering with temporal dynamics"): the per-day user
/// bias b_{u,day} exists for each distinct UTC day floor(t / 86400) of the user's TRAINING rows
/// (a row on another day gets none; `day_bias`), and the drift dev_u(t) = sign(t − t_u)|t − t_u|^0.4
/// with t, t_u in days and t_u the mean day of the user's training rows (`drift_feature`).
///
/// **Rank feature** (used by the original study; defined here precisely): rank_ui is the number of
/// the user's ratings in the data set given to the constructor whose time is strictly earlier than
/// this rating's time, divided by (n_u − 1) (0 for a user with one rating); ties share the lower
/// rank. It is computed once per row of that data set and enters through a learned per-user slope
/// α_u. It uses the times (never the values) of all of the user's rows, as the original did. Batches
/// must therefore index that same data set (checked by its number of ratings). Disable with
/// `rank_feature = false`.
///
/// **Smoothness** across ADJACENT TIME BINS of a user's time-dependent factors,
/// λ_t Σ_b ‖p_{u,b} − p_{u,b+1}‖². (The original study's code ran this difference across the
/// latent dimensions of one vector, which penalises nothing about time; fixed here.) Because the
/// penalty couples bins, each rating in a batch pays the smoothness terms between its own bin and
/// the neighbouring bins of its user (bin−1 and bin+1, where they exist), like every other
/// per-rating penalty. The loss is then
///
///     L = 1/|B| Σ_{(u,i,r,t)∈B} [ (r̂ − r)² + λ(‖p_u‖² + ‖q_i‖²) + λ_p‖p_{u,b}‖²
///            + λ_b(b_u² + b_i² + α_u²) + λ_tb(b_{u,b}² + b_{i,b}²) + λ_db b_{u,day}² + λ_d β_u²
///            + λ_t(‖p_{u,b} − p_{u,b−1}‖² [b > 0] + ‖p_{u,b+1} − p_{u,b}‖² [b < bins−1]) ]
///
/// and loss, gradient and Hessian-vector product are all of this one function (exact, dense or
/// sparse). Task-local segments: all of the user's own parameters (p_u, p_{u,·}, b_u, b_{u,·}, α_u,
/// β_u, b_{u,day}).
///
/// The time terms have their OWN, strong regularisers (λ_p, λ_tb default 10): with one λ shared by
/// p_u and p_{u,b}, a user whose ratings fall in one bin has two copies of one vector and half the
/// effective regularisation, which made this model lose to biased MF (docs/models_mf.md, issue #3).

#include <metarec/data/batch.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/models/detail/layout_model.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace metarec {

/// Options of `TemporalMF`.
struct TemporalMFOptions {
  int dims = 32;                ///< latent dimensions k
  int time_bins = 30;           ///< number of equal-width time bins over the training time range
  double reg = 0.02;            ///< λ on p_u, p_{u,b}, q_i
  double bias_reg = 0.02;       ///< λ_b on b_u, b_{u,b}, b_i, b_{i,b}, α_u
  double smooth_reg = 0.1;      ///< λ_t on ‖p_{u,b} − p_{u,b+1}‖² (adjacent bins)
  double time_reg = 10.0;       ///< λ_p on the time-bin factor offsets p_{u,b} (see docs: strong)
  double time_bias_reg = 10.0;  ///< λ_tb on the time-bin biases b_{u,b}, b_{i,b}
  double day_bias_reg = 1.0;    ///< λ_db on the per-day user bias b_{u,day}
  double drift_reg = 5.0;       ///< λ_d on the drift slope β_u
  bool rank_feature = true;     ///< add α_u · rank_ui
  bool drift_feature = false;   ///< add β_u · dev_u(t) (Koren 2009 user drift; off: hurt on ML-100K)
  bool day_bias = true;         ///< add b_{u,day(t)} for the user's training days (Koren 2009)
  double init_std = 0.1;        ///< p_u, q_i start N(0, init_std²); p_{u,b}, biases, α start at 0
  double global_mean = 0.0;     ///< μ (fixed, not learned)
};

/// timeSVD-style temporal matrix factorisation; satisfies `metarec::Model`.
/// @tparam S float or double
/// @code
/// metarec::TemporalMF<float> model(ds, {.dims = 32, .time_bins = 30,
///                                       .global_mean = ds.mean_rating(split.train)}, split.train);
/// metarec::Vector<float> theta(model.num_parameters());
/// metarec::Rng rng(1);
/// model.initialize(theta, rng);
/// float loss = model.loss(theta, metarec::RatingBatch{&ds, split.train});
/// @endcode
template <class S = float>
class TemporalMF : public detail::LayoutModel<TemporalMF<S>, S> {
 public:
  /// @param ds data set (must have times); its sizes define the model, and the rank feature is
  ///        computed over its rows
  /// @param options hyperparameters
  /// @param train_rows rows whose times define [t_min, t_max] (empty: all rows of `ds`)
  /// @throws std::invalid_argument when `ds` has no timestamps, dims < 1, time_bins < 1, the data
  ///         set is empty, or the time range is too wide for exact integer binning.
  explicit TemporalMF(const Dataset& ds, TemporalMFOptions options = {},
                      std::span<const RowIndex> train_rows = {})
      : opt_(options), num_users_(ds.num_users()), num_items_(ds.num_items()) {
    ds.require_times("TemporalMF");
    if (opt_.dims < 1 || opt_.time_bins < 1)
      throw std::invalid_argument("TemporalMF: dims and time_bins must be >= 1 (got " +
                                  std::to_string(opt_.dims) + ", " +
                                  std::to_string(opt_.time_bins) + ")");
    if (ds.num_ratings() == 0 || num_users_ == 0 || num_items_ == 0)
      throw std::invalid_argument("TemporalMF: empty data set (" +
                                  std::to_string(ds.num_ratings()) + " ratings)");
    t_min_ = std::numeric_limits<std::int64_t>::max();
    t_max_ = std::numeric_limits<std::int64_t>::min();
    auto extend = [&](RowIndex r) {
      t_min_ = std::min(t_min_, ds.time(r));
      t_max_ = std::max(t_max_, ds.time(r));
    };
    if (train_rows.empty()) {
      for (std::size_t r = 0; r < ds.num_ratings(); ++r) extend(static_cast<RowIndex>(r));
    } else {
      for (const RowIndex r : train_rows) {
        if (r >= ds.num_ratings())
          throw std::invalid_argument("TemporalMF: train row " + std::to_string(r) +
                                      " outside the data set (" +
                                      std::to_string(ds.num_ratings()) + " ratings)");
        extend(r);
      }
    }
    width_ = static_cast<std::uint64_t>(t_max_) - static_cast<std::uint64_t>(t_min_) + 1u;
    if (width_ == 0 || width_ > std::numeric_limits<std::uint64_t>::max() /
                                    static_cast<std::uint64_t>(opt_.time_bins))
      throw std::invalid_argument("TemporalMF: time range [" + std::to_string(t_min_) + ", " +
                                  std::to_string(t_max_) + "] too wide for " +
                                  std::to_string(opt_.time_bins) + " bins");
    if (opt_.rank_feature) compute_ranks(ds);
    if (opt_.drift_feature || opt_.day_bias) compute_user_days(ds, train_rows);
    const Eigen::Index k = opt_.dims, nb = opt_.time_bins;
    P_ = this->layout_.add("user_factors", k, num_users_);
    Pt_ = this->layout_.add("user_bin_factors", k, num_users_ * nb);
    Q_ = this->layout_.add("item_factors", k, num_items_);
    bu_ = this->layout_.add("user_bias", 1, num_users_);
    but_ = this->layout_.add("user_bin_bias", 1, num_users_ * nb);
    bi_ = this->layout_.add("item_bias", 1, num_items_);
    bit_ = this->layout_.add("item_bin_bias", 1, num_items_ * nb);
    alpha_ = this->layout_.add("user_rank_slope", 1, opt_.rank_feature ? num_users_ : 0);
    beta_ = this->layout_.add("user_drift_slope", 1, opt_.drift_feature ? num_users_ : 0);
    bud_ = this->layout_.add("user_day_bias", 1,
                       opt_.day_bias ? static_cast<Eigen::Index>(days_.size()) : 0);
  }

  using Options = TemporalMFOptions;

  [[nodiscard]] std::int64_t t_min() const noexcept { return t_min_; }
  [[nodiscard]] std::int64_t t_max() const noexcept { return t_max_; }

  /// Time bin of a time; times outside [t_min, t_max] are clamped to the first/last bin.
  [[nodiscard]] int time_bin(std::int64_t t) const noexcept {
    t = std::clamp(t, t_min_, t_max_);
    const std::uint64_t off = static_cast<std::uint64_t>(t) - static_cast<std::uint64_t>(t_min_);
    return static_cast<int>(off * static_cast<std::uint64_t>(opt_.time_bins) / width_);
  }

  /// Rank feature of a row of the construction data set (0 when `rank_feature` is off).
  [[nodiscard]] S rank(RowIndex r) const noexcept {
    return opt_.rank_feature ? rank_[r] : S(0);
  }

  /// Koren's drift dev_u(t) = sign(t − t_u)·|t − t_u|^0.4, t and t_u in days (t_u: mean day of
  /// the user's training rows); 0 for a user without training rows or when `drift_feature` is off.
  [[nodiscard]] S drift(std::uint32_t u, std::int64_t t) const noexcept {
    if (!opt_.drift_feature || u >= num_users_ || day_begin_[u] == day_begin_[u + 1]) return S(0);
    const double d = static_cast<double>(t) / 86400.0 - user_mean_day_[u];
    return static_cast<S>(d < 0 ? -std::pow(-d, 0.4) : std::pow(d, 0.4));
  }

  /// Column of b_{u,day} for user u at time t; -1 when the user has no training row on that day
  /// (UTC day, floor(t / 86400)) or `day_bias` is off.
  [[nodiscard]] Eigen::Index day_index(std::uint32_t u, std::int64_t t) const noexcept {
    if (!opt_.day_bias || u >= num_users_) return -1;
    const std::int64_t d = day_of(t);
    const auto first = days_.begin() + static_cast<std::ptrdiff_t>(day_begin_[u]);
    const auto last = days_.begin() + static_cast<std::ptrdiff_t>(day_begin_[u + 1]);
    const auto it = std::lower_bound(first, last, d);
    return it != last && *it == d ? static_cast<Eigen::Index>(it - days_.begin()) : -1;
  }

  /// Overwrites θ: p_u, q_i ~ N(0, init_std²); time-bin factors, biases and α at 0.
  /// @throws std::invalid_argument when θ has the wrong size.
  void initialize(VectorRef<S> theta, Rng& rng) const {
    this->zero_then_normal(theta, rng, {P_, Q_}, opt_.init_std);
  }

  /// Mean loss (squared error + per-rating L2 + per-rating smoothness terms).
  /// @throws std::invalid_argument on a wrong-size θ or a batch of another data set / no times.
  [[nodiscard]] S loss(const ConstVectorRef<S>& theta, const RatingBatch& batch) const {
    this->check_size("loss", theta.size());
    validate_batch("loss", batch);
    Vector<S> pe(opt_.dims);
    return this->batch_mean(batch.rows, [&](RowIndex r, double& total) {
      const Row x = row(*batch.data, r);
      const S e = predict_row(theta, x, pe) - static_cast<S>(batch.data->rating(r));
      total += sq(e) + penalty(theta, x);
    });
  }

  // loss_and_gradient and hessian_vector_product, dense and sparse, with their size checks:
  // inherited from detail::SinkModelEntryPoints (sink_entry_points.hpp).

  /// One prediction per batch row (out overwritten).
  void predict(const ConstVectorRef<S>& theta, const RatingBatch& batch, VectorRef<S> out) const {
    this->check_predict(theta, out.size(), batch.size());
    validate_batch("predict", batch);
    Vector<S> pe(opt_.dims);
    for (std::size_t k = 0; k < batch.rows.size(); ++k)
      out[static_cast<Eigen::Index>(k)] = predict_row(theta, row(*batch.data, batch.rows[k]), pe);
  }

  /// Task-local segments: each user's p_u, all p_{u,b}, b_u, all b_{u,b} and α_u, once per user.
  void local_segments(const RatingBatch& batch, std::vector<Segment>& out) const {
    const Eigen::Index k = opt_.dims, nb = opt_.time_bins;
    this->append_per_entity(batch.rows, out, [&](RowIndex r) { return batch.data->user(r); },
                            [&](std::uint32_t u, std::vector<Segment>& o) {
      o.push_back(P_.column(u));
      o.push_back({Pt_.offset + static_cast<Eigen::Index>(u) * nb * k, nb * k});
      o.push_back(bu_.column(u));
      o.push_back({but_.offset + static_cast<Eigen::Index>(u) * nb, nb});
      if (opt_.rank_feature) o.push_back(alpha_.column(u));
      if (opt_.drift_feature) o.push_back(beta_.column(u));
      if (opt_.day_bias && day_begin_[u + 1] > day_begin_[u])
        o.push_back({bud_.offset + static_cast<Eigen::Index>(day_begin_[u]),
                     static_cast<Eigen::Index>(day_begin_[u + 1] - day_begin_[u])});
    });
  }


 private:
  struct Row {
    std::uint32_t u, i;
    int bin;
    S rank;
    S dev;              // drift dev_u(t) (0 when off)
    Eigen::Index day;   // column of b_{u,day}, -1 for none
  };

  static std::int64_t day_of(std::int64_t t) noexcept {
    return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
  }

  // Per user: the sorted distinct days of its training rows (days_[day_begin_[u]..day_begin_[u+1]))
  // and the mean day of those rows (t_u of the drift term, in days).
  void compute_user_days(const Dataset& ds, std::span<const RowIndex> train_rows) {
    std::vector<std::vector<std::int64_t>> per(num_users_);
    std::vector<double> sum(num_users_, 0.0);
    std::vector<std::size_t> cnt(num_users_, 0);
    auto add = [&](RowIndex r) {
      const std::uint32_t u = ds.user(r);
      per[u].push_back(day_of(ds.time(r)));
      sum[u] += static_cast<double>(ds.time(r)) / 86400.0;
      ++cnt[u];
    };
    if (train_rows.empty()) {
      for (std::size_t r = 0; r < ds.num_ratings(); ++r) add(static_cast<RowIndex>(r));
    } else {
      for (const RowIndex r : train_rows) add(r);
    }
    day_begin_.assign(num_users_ + 1, 0);
    user_mean_day_.assign(num_users_, 0.0);
    days_.clear();
    for (std::uint32_t u = 0; u < num_users_; ++u) {
      auto& v = per[u];
      std::sort(v.begin(), v.end());
      v.erase(std::unique(v.begin(), v.end()), v.end());
      day_begin_[u] = days_.size();
      days_.insert(days_.end(), v.begin(), v.end());
      if (cnt[u] > 0) user_mean_day_[u] = sum[u] / static_cast<double>(cnt[u]);
    }
    day_begin_[num_users_] = days_.size();
  }

  static double sq(S x) noexcept { return static_cast<double>(x) * static_cast<double>(x); }

  void compute_ranks(const Dataset& ds) {
    rank_.assign(ds.num_ratings(), S(0));
    std::vector<std::int64_t> times;
    for (std::uint32_t u = 0; u < ds.num_users(); ++u) {
      const auto rows = ds.by_user()[u];
      if (rows.size() < 2) continue;
      times.clear();
      for (const RowIndex r : rows) times.push_back(ds.time(r));
      std::sort(times.begin(), times.end());
      const double denom = static_cast<double>(rows.size() - 1);
      for (const RowIndex r : rows) {
        const auto earlier = std::lower_bound(times.begin(), times.end(), ds.time(r)) - times.begin();
        rank_[r] = static_cast<S>(static_cast<double>(earlier) / denom);
      }
    }
  }

  void validate_batch(const char* what, const RatingBatch& b) const {
    if (b.data == nullptr) {
      if (b.rows.empty()) return;
      throw std::invalid_argument(std::string("TemporalMF::") + what +
                                  ": batch has rows but no data set");
    }
    const std::string caller = std::string("TemporalMF::") + what;
    b.data->require_times(caller.c_str());
    if (b.data->num_users() > num_users_ || b.data->num_items() > num_items_)
      throw std::invalid_argument(caller + ": the data set has " +
                                  std::to_string(b.data->num_users()) + " users and " +
                                  std::to_string(b.data->num_items()) + " items, the model " +
                                  std::to_string(num_users_) + " and " +
                                  std::to_string(num_items_));
    if (opt_.rank_feature && b.data->num_ratings() != rank_.size())
      throw std::invalid_argument(caller + ": the batch's data set has " +
                                  std::to_string(b.data->num_ratings()) +
                                  " ratings, the rank feature was computed for " +
                                  std::to_string(rank_.size()) +
                                  "; use the data set the model was built on, or rank_feature = "
                                  "false");
  }

  [[nodiscard]] Row row(const Dataset& d, RowIndex r) const noexcept {
    const std::uint32_t u = d.user(r);
    const std::int64_t t = d.time(r);
    return {u, d.item(r), time_bin(t), rank(r), drift(u, t), day_index(u, t)};
  }

  static Eigen::Map<const Vector<S>> col(const ConstVectorRef<S>& theta, const Block& blk,
                                         Eigen::Index c) noexcept {
    return Eigen::Map<const Vector<S>>(theta.data() + blk.offset + c * blk.rows, blk.rows);
  }
  [[nodiscard]] Eigen::Index ub(const Row& x, int b) const noexcept {
    return static_cast<Eigen::Index>(x.u) * opt_.time_bins + b;
  }
  [[nodiscard]] Eigen::Index ib(const Row& x) const noexcept {
    return static_cast<Eigen::Index>(x.i) * opt_.time_bins + x.bin;
  }
  [[nodiscard]] S alpha(const ConstVectorRef<S>& t, const Row& x) const noexcept {
    return opt_.rank_feature ? t[alpha_.offset + x.u] : S(0);
  }
  [[nodiscard]] S beta(const ConstVectorRef<S>& t, const Row& x) const noexcept {
    return opt_.drift_feature ? t[beta_.offset + x.u] : S(0);
  }
  [[nodiscard]] S dayb(const ConstVectorRef<S>& t, const Row& x) const noexcept {
    return x.day >= 0 ? t[bud_.offset + x.day] : S(0);
  }

  /// r̂ of a row; fills pe = p_u + p_{u,bin}.
  S predict_row(const ConstVectorRef<S>& t, const Row& x, Vector<S>& pe) const {
    pe.noalias() = col(t, P_, x.u) + col(t, Pt_, ub(x, x.bin));
    return static_cast<S>(opt_.global_mean) + t[bu_.offset + x.u] + t[but_.offset + ub(x, x.bin)] +
           t[bi_.offset + x.i] + t[bit_.offset + ib(x)] + alpha(t, x) * x.rank +
           beta(t, x) * x.dev + dayb(t, x) + pe.dot(col(t, Q_, x.i));
  }

  double penalty(const ConstVectorRef<S>& t, const Row& x) const {
    const auto pb = col(t, Pt_, ub(x, x.bin));
    double p = opt_.reg * (static_cast<double>(col(t, P_, x.u).squaredNorm()) +
                           static_cast<double>(col(t, Q_, x.i).squaredNorm())) +
               opt_.time_reg * static_cast<double>(pb.squaredNorm()) +
               opt_.bias_reg * (sq(t[bu_.offset + x.u]) + sq(t[bi_.offset + x.i]) + sq(alpha(t, x))) +
               opt_.time_bias_reg * (sq(t[but_.offset + ub(x, x.bin)]) + sq(t[bit_.offset + ib(x)])) +
               opt_.day_bias_reg * sq(dayb(t, x)) +
               opt_.drift_reg * sq(beta(t, x));
    if (x.bin > 0)
      p += opt_.smooth_reg *
           static_cast<double>((pb - col(t, Pt_, ub(x, x.bin - 1))).squaredNorm());
    if (x.bin + 1 < opt_.time_bins)
      p += opt_.smooth_reg *
           static_cast<double>((col(t, Pt_, ub(x, x.bin + 1)) - pb).squaredNorm());
    return p;
  }

  // Gradient (or, with w = v, the HVP part) of the per-rating smoothness terms: they are quadratic
  // in the bin factors, so ∂/∂p and H·v have the same form: c · (w_b − w_{b±1}).
  template <class Sink>
  void add_smoothness(const ConstVectorRef<S>& w, const Row& x, S c, Sink& g) const {
    const auto wb = col(w, Pt_, ub(x, x.bin));
    if (x.bin > 0) {
      const auto wl = col(w, Pt_, ub(x, x.bin - 1));
      g.segment(Pt_.column(ub(x, x.bin))).noalias() += c * (wb - wl);
      g.segment(Pt_.column(ub(x, x.bin - 1))).noalias() -= c * (wb - wl);
    }
    if (x.bin + 1 < opt_.time_bins) {
      const auto wr = col(w, Pt_, ub(x, x.bin + 1));
      g.segment(Pt_.column(ub(x, x.bin))).noalias() -= c * (wr - wb);
      g.segment(Pt_.column(ub(x, x.bin + 1))).noalias() += c * (wr - wb);
    }
  }

  template <class Sink>
  S gradient_into(const ConstVectorRef<S>& t, const RatingBatch& batch, Sink& g) const {
    const S scale = S(2) / static_cast<S>(batch.size());
    const S reg = static_cast<S>(opt_.reg), breg = static_cast<S>(opt_.bias_reg);
    const S treg = static_cast<S>(opt_.time_reg), tbreg = static_cast<S>(opt_.time_bias_reg);
    const S dreg = static_cast<S>(opt_.drift_reg), dbreg = static_cast<S>(opt_.day_bias_reg);
    const S sreg = scale * static_cast<S>(opt_.smooth_reg);
    Vector<S> pe(opt_.dims);
    return this->batch_mean(batch.rows, [&](RowIndex r, double& total) {
      const Row x = row(*batch.data, r);
      const S e = predict_row(t, x, pe) - static_cast<S>(batch.data->rating(r));
      total += sq(e) + penalty(t, x);
      const S se = scale * e;
      const auto q = col(t, Q_, x.i);
      g.segment(P_.column(x.u)).noalias() += se * q + (scale * reg) * col(t, P_, x.u);
      g.segment(Pt_.column(ub(x, x.bin))).noalias() +=
          se * q + (scale * treg) * col(t, Pt_, ub(x, x.bin));
      g.segment(Q_.column(x.i)).noalias() += se * pe + (scale * reg) * q;
      g.segment(bu_.column(x.u))[0] += se + scale * breg * t[bu_.offset + x.u];
      g.segment(but_.column(ub(x, x.bin)))[0] += se + scale * tbreg * t[but_.offset + ub(x, x.bin)];
      g.segment(bi_.column(x.i))[0] += se + scale * breg * t[bi_.offset + x.i];
      g.segment(bit_.column(ib(x)))[0] += se + scale * tbreg * t[bit_.offset + ib(x)];
      if (opt_.rank_feature)
        g.segment(alpha_.column(x.u))[0] += se * x.rank + scale * breg * t[alpha_.offset + x.u];
      if (opt_.drift_feature)
        g.segment(beta_.column(x.u))[0] += se * x.dev + scale * dreg * t[beta_.offset + x.u];
      if (x.day >= 0) g.segment(bud_.column(x.day))[0] += se + scale * dbreg * t[bud_.offset + x.day];
      add_smoothness(t, x, sreg, g);
    });
  }

  // H·v of (r̂ − r)²: 2 ∇r̂ (∇r̂ᵀv) + 2e ∇²r̂ v; r̂ is bilinear in (p_u + p_{u,b}, q_i) and linear in
  // the rest, so ∇²r̂ v is δq on p_u and p_{u,b}, and δp_u + δp_{u,b} on q_i. Penalties: 2λ v.
  template <class Sink>
  void hvp_into(const ConstVectorRef<S>& t, const RatingBatch& batch, const ConstVectorRef<S>& v,
                Sink& out) const {
    if (batch.rows.empty()) return;
    const S scale = S(2) / static_cast<S>(batch.size());
    const S reg = static_cast<S>(opt_.reg), breg = static_cast<S>(opt_.bias_reg);
    const S treg = static_cast<S>(opt_.time_reg), tbreg = static_cast<S>(opt_.time_bias_reg);
    const S dreg = static_cast<S>(opt_.drift_reg), dbreg = static_cast<S>(opt_.day_bias_reg);
    const S sreg = scale * static_cast<S>(opt_.smooth_reg);
    Vector<S> pe(opt_.dims), dpe(opt_.dims), gp(opt_.dims);
    for (const RowIndex r : batch.rows) {
      const Row x = row(*batch.data, r);
      const S e = predict_row(t, x, pe) - static_cast<S>(batch.data->rating(r));
      const auto q = col(t, Q_, x.i);
      const auto dq = col(v, Q_, x.i);
      dpe.noalias() = col(v, P_, x.u) + col(v, Pt_, ub(x, x.bin));
      const S jv = dpe.dot(q) + pe.dot(dq) + v[bu_.offset + x.u] + v[but_.offset + ub(x, x.bin)] +
                   v[bi_.offset + x.i] + v[bit_.offset + ib(x)] + alpha(v, x) * x.rank +
                   beta(v, x) * x.dev + dayb(v, x);
      gp.noalias() = scale * (jv * q + e * dq);
      out.segment(P_.column(x.u)).noalias() += gp + (scale * reg) * col(v, P_, x.u);
      out.segment(Pt_.column(ub(x, x.bin))).noalias() +=
          gp + (scale * treg) * col(v, Pt_, ub(x, x.bin));
      out.segment(Q_.column(x.i)).noalias() += scale * (jv * pe + e * dpe) + (scale * reg) * dq;
      out.segment(bu_.column(x.u))[0] += scale * (jv + breg * v[bu_.offset + x.u]);
      out.segment(but_.column(ub(x, x.bin)))[0] +=
          scale * (jv + tbreg * v[but_.offset + ub(x, x.bin)]);
      out.segment(bi_.column(x.i))[0] += scale * (jv + breg * v[bi_.offset + x.i]);
      out.segment(bit_.column(ib(x)))[0] += scale * (jv + tbreg * v[bit_.offset + ib(x)]);
      if (opt_.rank_feature)
        out.segment(alpha_.column(x.u))[0] +=
            scale * (jv * x.rank + breg * v[alpha_.offset + x.u]);
      if (opt_.drift_feature)
        out.segment(beta_.column(x.u))[0] += scale * (jv * x.dev + dreg * v[beta_.offset + x.u]);
      if (x.day >= 0)
        out.segment(bud_.column(x.day))[0] += scale * (jv + dbreg * v[bud_.offset + x.day]);
      add_smoothness(v, x, sreg, out);
    }
  }

  friend detail::LayoutModel<TemporalMF<S>, S>;  // reads model_name, opt_ and the passes
  static constexpr const char* model_name = "TemporalMF";  // in messages
  Options opt_;
  std::uint32_t num_users_;
  std::uint32_t num_items_;
  std::int64_t t_min_ = 0, t_max_ = 0;
  std::uint64_t width_ = 1;
  std::vector<S> rank_;
  std::vector<std::int64_t> days_;          // per user, its sorted distinct training days
  std::vector<std::size_t> day_begin_;      // user u's days: [day_begin_[u], day_begin_[u+1])
  std::vector<double> user_mean_day_;       // t_u of the drift term (days)
  Block P_, Pt_, Q_, bu_, but_, bi_, bit_, alpha_, beta_, bud_;
};

}  // namespace metarec
