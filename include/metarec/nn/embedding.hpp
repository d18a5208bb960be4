#pragma once
/// @file embedding.hpp
/// @brief Embedding tables for the categorical fields of a rating row (user id, item id, user and
/// item side features), with mean or sum pooling of multi-hot fields and sparse gradients.
///
/// Each field f has a table T_f (dims × cardinality, column-major: one contiguous column per
/// category value). For a row, the field's embedding is
///
///     e_f = Σ_{c ∈ values} w · T_f[:, c],   w = 1/|values| (mean pooling) or 1 (sum pooling)
///
/// and e_f = 0 when the entity has no value (unknown). All fields share `dims`, and the embeddings
/// of a row are stacked: rows [f·dims, (f+1)·dims) of the output column are field f.
/// The map θ → e is linear, so its R-operator pass is the same gather applied to v, and its
/// Hessian is zero. Gradients go only to the table columns the batch touches (sparse).

#include <metarec/data/batch.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/core/detail/prefetch.hpp>
#include <metarec/data/detail/prefetch_row.hpp>
#include <metarec/nn/common.hpp>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace metarec::nn {

/// Where a field's category values come from.
enum class FieldSource : std::uint8_t { user_id, item_id, user_feature, item_feature };

/// How several values of a multi-hot field are combined.
enum class Pooling : std::uint8_t { mean, sum };

/// One embedded field.
struct FieldSpec {
  std::string name;            ///< "user_id", "item_id" or the feature field's name
  FieldSource source{};        ///< where the values come from
  int index = -1;              ///< index in the feature table (features only)
  std::uint32_t cardinality = 0;
  Pooling pooling = Pooling::mean;
  Block table;                 ///< dims × cardinality
};

/// A gradient sink with a cache hint `prefetch(Segment)` (as `SparseGradient`).
template <class Sink>
concept HasPrefetchHint = requires(const Sink& s, const Segment& c) { s.prefetch(c); };

/// Which fields of a data set a model embeds.
struct FieldSelection {
  bool user_id = true;                   ///< embed the user id
  bool item_id = true;                   ///< embed the item id
  std::vector<std::string> user_fields{};  ///< user feature fields, by name (absent ones skipped)
  std::vector<std::string> item_fields{};  ///< item feature fields, by name (absent ones skipped)
  Pooling pooling = Pooling::mean;       ///< pooling of multi-hot fields
};

/// A set of embedded fields, all of the same width, over flat θ.
/// @code
/// metarec::ParameterLayout layout;
/// auto emb = metarec::nn::EmbeddingFields::from_dataset(
///     ds, {.user_id = false, .item_id = false, .user_fields = {"gender", "age"},
///          .item_fields = {"genre"}}, 32, layout, "emb");
/// metarec::Matrix<float> X(emb.rows(), batch.size());
/// emb.gather<float>(theta, batch, X);   // 96 × B
/// @endcode
class EmbeddingFields {
 public:
  EmbeddingFields() = default;

  /// Adds the selected fields of `ds` (ids first, then user then item features, in the order
  /// given), each a `dims × cardinality` table named `<prefix>.<field>` in `layout`. Requested
  /// feature fields the data set lacks are skipped.
  /// @throws std::invalid_argument when dims < 1.
  static EmbeddingFields from_dataset(const Dataset& ds, const FieldSelection& sel,
                                      Eigen::Index dims, ParameterLayout& layout,
                                      const std::string& prefix) {
    if (dims < 1)
      throw std::invalid_argument("EmbeddingFields: dims must be >= 1 (got " +
                                  std::to_string(dims) + ")");
    EmbeddingFields e;
    e.dims_ = dims;
    auto add = [&](std::string name, FieldSource src, int index, std::uint32_t card) {
      FieldSpec f{std::move(name), src, index, card, sel.pooling, {}};
      f.table = layout.add(prefix + "." + f.name, dims, static_cast<Eigen::Index>(card));
      e.fields_.push_back(std::move(f));
    };
    if (sel.user_id) add("user_id", FieldSource::user_id, -1, ds.num_users());
    if (sel.item_id) add("item_id", FieldSource::item_id, -1, ds.num_items());
    auto add_features = [&](const FeatureTable& t, const std::vector<std::string>& names,
                            FieldSource src) {
      for (const auto& n : names)
        for (std::size_t k = 0; k < t.fields.size(); ++k)
          if (t.fields[k].name == n && t.fields[k].cardinality() > 0)
            add(n, src, static_cast<int>(k), t.fields[k].cardinality());
    };
    add_features(ds.user_features(), sel.user_fields, FieldSource::user_feature);
    add_features(ds.item_features(), sel.item_fields, FieldSource::item_feature);
    return e;
  }

  [[nodiscard]] Eigen::Index dims() const noexcept { return dims_; }
  [[nodiscard]] Eigen::Index num_fields() const noexcept {
    return static_cast<Eigen::Index>(fields_.size());
  }
  /// Rows of the stacked output: num_fields() · dims().
  [[nodiscard]] Eigen::Index rows() const noexcept { return num_fields() * dims_; }
  [[nodiscard]] const std::vector<FieldSpec>& fields() const noexcept { return fields_; }

  /// Overwrites the tables with N(0, std²) draws.
  template <class S>
  void initialize(VectorRef<S> theta, Rng& rng, double stddev) const {
    for (const auto& f : fields_)
      for (Eigen::Index k = 0; k < f.table.size(); ++k)
        theta[f.table.offset + k] = static_cast<S>(rng.normal(0.0, stddev));
  }

  /// Checks that `data` has the fields (same name, same cardinality) this set was built on.
  /// Allocates nothing unless it throws.
  /// @throws std::invalid_argument naming `model::what` and the mismatching field.
  void check_dataset(const Dataset* data, const char* model, const char* what) const {
    auto caller = [&] { return std::string(model) + "::" + what; };
    if (data == nullptr)
      throw std::invalid_argument(caller() + ": the batch has no data set (data == nullptr)");
    for (const auto& f : fields_) {
      std::uint32_t have = 0;
      bool ok = true;
      switch (f.source) {
        case FieldSource::user_id: have = data->num_users(); ok = have <= f.cardinality; break;
        case FieldSource::item_id: have = data->num_items(); ok = have <= f.cardinality; break;
        case FieldSource::user_feature:
        case FieldSource::item_feature: {
          const auto& t = f.source == FieldSource::user_feature ? data->user_features()
                                                                : data->item_features();
          const auto k = static_cast<std::size_t>(f.index);
          ok = k < t.fields.size() && t.fields[k].name == f.name &&
               t.fields[k].cardinality() == f.cardinality;
          have = k < t.fields.size() ? t.fields[k].cardinality() : 0;
          break;
        }
      }
      if (!ok)
        throw std::invalid_argument(caller() + ": field '" + f.name +
                                    "' of the batch's data set does not match the model (" +
                                    std::to_string(have) + " values, model has " +
                                    std::to_string(f.cardinality) +
                                    "); build the model on the data set the batches come from");
    }
  }

  /// True for the id fields, which have exactly one value of weight 1 in every row.
  [[nodiscard]] static bool is_id(const FieldSpec& f) noexcept {
    return f.source == FieldSource::user_id || f.source == FieldSource::item_id;
  }


  /// Calls `fn(column)` for the table column of each id field in data-set row `r` (the big,
  /// randomly accessed tables; feature tables are small and stay cached).
  template <class F>
  void for_each_id_column(const Dataset& d, RowIndex r, F&& fn) const {
    for (const auto& fs : fields_)
      if (is_id(fs))
        fn(fs.table.column(static_cast<Eigen::Index>(fs.source == FieldSource::user_id ? d.user(r)
                                                                                       : d.item(r))));
  }

  /// Calls `fn(value, weight)` for each category value of field `f` in data-set row `r`.
  template <class S, class F>
  static void for_each_value(const Dataset& d, RowIndex r, const FieldSpec& f, F&& fn) {
    switch (f.source) {
      case FieldSource::user_id: fn(d.user(r), S(1)); return;
      case FieldSource::item_id: fn(d.item(r), S(1)); return;
      case FieldSource::user_feature:
      case FieldSource::item_feature: {
        const bool user = f.source == FieldSource::user_feature;
        const auto& field = (user ? d.user_features() : d.item_features())
                                .fields[static_cast<std::size_t>(f.index)];
        const auto vals = field.of(user ? d.user(r) : d.item(r));
        if (vals.empty()) return;
        const S w = f.pooling == Pooling::mean ? S(1) / static_cast<S>(vals.size()) : S(1);
        for (const auto c : vals) fn(c, w);
        return;
      }
    }
  }

  /// X (rows() × B) is OVERWRITTEN with the stacked field embeddings of the batch rows, read from
  /// `params` (θ for the forward pass, v for the R-forward pass).
  ///
  /// The rows of a shuffled batch sit at random places in the data set and their id columns at
  /// random places in θ: both are prefetched a few rows ahead (hints only; no effect on results).
  template <class S>
  void gather(const ConstVectorRef<S>& params, const RatingBatch& batch, MatRef<S> X) const {
    eigen_assert(X.rows() == rows() && X.cols() == static_cast<Eigen::Index>(batch.size()));
    const Dataset& d = *batch.data;
    const std::size_t n = batch.size();
    const RowIndex* const rws = batch.rows.data();
    constexpr std::size_t ahead = metarec::detail::prefetch_distance;
    for (std::size_t b = 0; b < std::min(n, 2 * ahead); ++b) metarec::detail::prefetch_rating_row(d, rws[b]);
    for (std::size_t b = 0; b < n; ++b) {
      if (b + 2 * ahead < n) metarec::detail::prefetch_rating_row(d, rws[b + 2 * ahead]);
      if (b + ahead < n)
        for_each_id_column(d, rws[b + ahead], [&](const Segment& c) {
          metarec::detail::prefetch_range(params.data() + c.offset, c.size);
        });
      const RowIndex r = rws[b];
      for (std::size_t f = 0; f < fields_.size(); ++f) {
        const FieldSpec& fs = fields_[f];
        auto out = X.col(static_cast<Eigen::Index>(b)).segment(static_cast<Eigen::Index>(f) * dims_, dims_);
        if (is_id(fs)) {  // exactly one value, weight 1
          const std::uint32_t c = fs.source == FieldSource::user_id ? d.user(r) : d.item(r);
          out = Eigen::Map<const Vector<S>>(params.data() + fs.table.offset + c * dims_, dims_);
          continue;
        }
        out.setZero();
        for_each_value<S>(d, r, fs, [&](std::uint32_t c, S w) {
          out += w * Eigen::Map<const Vector<S>>(params.data() + fs.table.offset + c * dims_, dims_);
        });
      }
    }
  }

  /// Multiply-adds of `linear_by_tables` for B rows into h units (one table per field: h × dims ×
  /// cardinality, then a sum of table columns per row and field), and of the plain route, `gather`
  /// then an (h × rows()) · (rows() × B) product. Pick the smaller.
  [[nodiscard]] std::pair<double, double> linear_costs(Eigen::Index h, Eigen::Index B) const noexcept {
    double cards = 0;
    for (const auto& f : fields_) cards += static_cast<double>(f.cardinality);
    const double hd = static_cast<double>(h), bd = static_cast<double>(B);
    return {hd * static_cast<double>(dims_) * cards + bd * hd * static_cast<double>(fields_.size()),
            bd * hd * static_cast<double>(rows())};
  }

  /// Z (h × B, OVERWRITTEN) = W X + b 1ᵀ, where X is what `gather(params, batch, X)` would write,
  /// computed through the linearity of W X in each field's embeddings: per field f, the table
  /// T_f = W_f E_f (W_f: the dims columns of W that read field f; E_f: the field's dims ×
  /// cardinality embeddings) once, then each row's column of Z is b plus, per field, the (pooled)
  /// columns of T_f for the row's values. Cheaper than the plain route when the batch has many
  /// rows per category, as when one user's whole catalogue is scored (`linear_costs`). Equal to it
  /// up to rounding. `tables` is scratch (grown, never shrunk).
  template <class S>
  void linear_by_tables(const ConstVectorRef<S>& params, const ConstMatRef<S>& W,
                        const Eigen::Ref<const Vector<S>>& b, const RatingBatch& batch, Matrix<S>& tables,
                        MatRef<S> Z) const {
    eigen_assert(W.cols() == rows() && Z.rows() == W.rows() && Z.cols() == static_cast<Eigen::Index>(batch.size()));
    const Eigen::Index h = W.rows();
    Eigen::Index total = 0;
    for (const auto& fs : fields_) total += static_cast<Eigen::Index>(fs.cardinality);
    if (tables.rows() != h || tables.cols() < total) tables.resize(h, total);
    Eigen::Index first = 0;
    for (std::size_t f = 0; f < fields_.size(); ++f) {
      const FieldSpec& fs = fields_[f];
      const auto card = static_cast<Eigen::Index>(fs.cardinality);
      const Eigen::Map<const Matrix<S>> E(params.data() + fs.table.offset, dims_, card);
      tables.middleCols(first, card).noalias() = W.middleCols(static_cast<Eigen::Index>(f) * dims_, dims_) * E;
      first += card;
    }
    const Dataset& d = *batch.data;
    for (std::size_t k = 0; k < batch.size(); ++k) {
      auto z = Z.col(static_cast<Eigen::Index>(k));
      z = b;
      const RowIndex r = batch.rows[k];
      first = 0;
      for (const auto& fs : fields_) {
        for_each_value<S>(d, r, fs, [&](std::uint32_t c, S w) {
          z += w * tables.col(first + static_cast<Eigen::Index>(c));
        });
        first += static_cast<Eigen::Index>(fs.cardinality);
      }
    }
  }

  /// Accumulates the gradient (or H·v) of the tables from G = ∂L/∂X (rows() × B) into `sink`,
  /// touching only the columns the batch uses (the id columns of later rows are prefetched in
  /// the sink when it has a `prefetch(Segment)` hint, as `SparseGradient` does).
  template <class S, class Sink>
  void scatter(const ConstMatRef<S>& G, const RatingBatch& batch, Sink& sink) const {
    if constexpr (wants_gradient<Sink>) {
      const Dataset& d = *batch.data;
      const std::size_t n = batch.size();
      const RowIndex* const rws = batch.rows.data();
      constexpr std::size_t ahead = metarec::detail::prefetch_distance;
      if constexpr (HasPrefetchHint<Sink>)
        for (std::size_t b = 0; b < std::min(n, 2 * ahead); ++b) metarec::detail::prefetch_rating_row(d, rws[b]);
      for (std::size_t b = 0; b < n; ++b) {
        if constexpr (HasPrefetchHint<Sink>) {
          // the batch's data rows were read by `gather`, but the layers run in between evict them
          if (b + 2 * ahead < n) metarec::detail::prefetch_rating_row(d, rws[b + 2 * ahead]);
          if (b + ahead < n)
            for_each_id_column(d, rws[b + ahead], [&](const Segment& c) { sink.prefetch(c); });
        }
        const RowIndex r = rws[b];
        for (std::size_t f = 0; f < fields_.size(); ++f) {
          const FieldSpec& fs = fields_[f];
          const auto g = G.col(static_cast<Eigen::Index>(b)).segment(static_cast<Eigen::Index>(f) * dims_, dims_);
          for_each_value<S>(d, r, fs, [&](std::uint32_t c, S w) {
            sink.segment(fs.table.column(static_cast<Eigen::Index>(c))) += w * g;
          });
        }
      }
    }
  }

  /// Appends (once each) the table columns that field sources `src` of the batch rows use.
  void append_columns(const RatingBatch& batch, FieldSource src, std::vector<Segment>& out) const {
    const std::size_t first = out.size();
    for (const auto& fs : fields_) {
      if (fs.source != src) continue;
      for (const RowIndex r : batch.rows)
        for_each_value<double>(*batch.data, r, fs, [&](std::uint32_t c, double) {
          const Segment s = fs.table.column(static_cast<Eigen::Index>(c));
          for (std::size_t k = first; k < out.size(); ++k)
            if (out[k] == s) return;
          out.push_back(s);
        });
    }
  }

 private:
  Eigen::Index dims_ = 0;
  std::vector<FieldSpec> fields_;
};

}  // namespace metarec::nn
