#pragma once
/// @file layout_model.hpp
/// @brief The members every model that lays its tensors out in one `ParameterLayout` writes the
/// same way: θ's size, the layout, the size checks with the house message, the `predict` output
/// check, Gaussian initialisation of blocks and per-entity local segments. The MF family, the
/// autoencoders and the Boltzmann machines derive from it, as the MLP family derives from
/// `NetworkModel`.
///
/// A model (the CRTP `Derived`, which befriends this base) declares `static constexpr const char*
/// model_name` and fills `layout_` in its constructor; it provides `gradient_into` / `hvp_into`
/// (templates over the gradient sink) and, optionally, `validate_batch(what, batch)`, which this
/// base hands to `SinkModelEntryPoints` (the public gradient and HVP entry points).

#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/data/batch.hpp>
#include <metarec/models/detail/sink_entry_points.hpp>

#include <cstddef>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace metarec::detail {

/// A model's penalty coefficients cast once to its scalar: λ (`reg`), λ_b (`bias_reg`) and a
/// third of the model's own (SVD++'s λ_y, the side-feature MF's λ_f).
template <class S>
struct PenaltyScalars {
  template <class Options>
  PenaltyScalars(const Options& o, double third) noexcept
      : reg(static_cast<S>(o.reg)), breg(static_cast<S>(o.bias_reg)), extra(static_cast<S>(third)) {}
  S reg, breg, extra;
};

template <class Derived, class S, class B = RatingBatch>
class LayoutModel : public SinkModelEntryPoints<LayoutModel<Derived, S, B>, S, B> {
  friend SinkModelEntryPoints<LayoutModel, S, B>;

 public:
  using Scalar = S;
  using Batch = B;

  [[nodiscard]] Eigen::Index num_parameters() const noexcept { return layout_.size(); }
  /// The named blocks of θ, in order.
  [[nodiscard]] const ParameterLayout& layout() const noexcept { return layout_; }
  /// The model's hyperparameters (its `opt_`).
  [[nodiscard]] const auto& options() const noexcept { return self().opt_; }

 protected:
  /// Throws std::invalid_argument "<model>: <what>" unless `ok` (constructor checks).
  static void require(bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument(std::string(Derived::model_name) + ": " + what);
  }
  /// A constructor's size checks: each named size must be >= 1 ("dims must be >= 1 (got 0)"),
  /// and there must be items and (unless every user shares one row) users. Returns the number of
  /// user rows: 1 when shared, else `users`.
  static Eigen::Index checked_user_rows(std::uint32_t users, std::uint32_t items, bool shared_user,
                                        std::initializer_list<std::pair<const char*, int>> sizes) {
    for (const auto& [name, value] : sizes)
      require(value >= 1,
              std::string(name) + " must be >= 1 (got " + std::to_string(value) + ")");
    require_entities(users, items, shared_user);
    return shared_user ? 1 : static_cast<Eigen::Index>(users);
  }
  /// Throws unless there are items and (unless every user shares one vector) users.
  static void require_entities(std::uint32_t users, std::uint32_t items, bool shared_user = false) {
    require(items > 0 && (users > 0 || shared_user),
            "no users or no items (" + std::to_string(users) + " users, " + std::to_string(items) +
                " items)");
  }

  /// Throws std::invalid_argument naming the model and `what` unless n == num_parameters().
  void check_size(const char* what, Eigen::Index n) const {
    if (n != layout_.size())
      throw std::invalid_argument(std::string(Derived::model_name) + "::" + what + ": vector has " +
                                  std::to_string(n) + " entries, the model has " +
                                  std::to_string(layout_.size()) +
                                  " parameters; size it with num_parameters()");
  }
  /// `predict`'s checks: θ's size and one output per prediction.
  void check_predict(const ConstVectorRef<S>& theta, Eigen::Index out, std::size_t predictions) const {
    check_size("predict", theta.size());
    if (out != static_cast<Eigen::Index>(predictions))
      throw std::invalid_argument(std::string(Derived::model_name) + "::predict: out has " +
                                  std::to_string(out) + " entries for " +
                                  std::to_string(predictions) +
                                  " predictions; size it with the batch's prediction count");
  }

  /// The batch mean of per-row terms: `add(row, total)` adds the row's terms to `total` (a
  /// double); returns total / |rows| as S, or 0 for no rows (`add` is then never called).
  template <class Add>
  static S batch_mean(std::span<const RowIndex> rows, Add&& add) {
    if (rows.empty()) return S(0);
    double total = 0.0;
    for (const RowIndex r : rows) add(r, total);
    return static_cast<S>(total / static_cast<double>(rows.size()));
  }

  /// Rating r's user row (0 when the options' `shared_user` gives every user one row) and item.
  [[nodiscard]] std::uint32_t user_index(const RatingBatch& b, RowIndex r) const noexcept {
    return self().opt_.shared_user ? 0u : b.data->user(r);
  }
  [[nodiscard]] std::pair<std::uint32_t, std::uint32_t> ids(const RatingBatch& b,
                                                            RowIndex r) const noexcept {
    return {user_index(b, r), b.data->item(r)};
  }

  /// θ ← 0, then every entry of `blocks` drawn N(0, std²) in order (after the size check).
  void zero_then_normal(VectorRef<S> theta, Rng& rng, std::initializer_list<Block> blocks,
                        double std) const {
    check_size("initialize", theta.size());
    theta.setZero();
    for (const Block& b : blocks)
      for (Eigen::Index k = 0; k < b.size(); ++k)
        theta[b.offset + k] = static_cast<S>(rng.normal(0.0, std));
  }

  /// Local segments: for each distinct `key(row)` of the batch rows (first appearance order),
  /// `push(key, out)` appends that entity's segments once. (Distinctness is checked on the first
  /// segment a push appends.)
  template <class Key, class Push>
  static void append_per_entity(std::span<const RowIndex> rows, std::vector<Segment>& out,
                                Key&& key, Push&& push) {
    const std::size_t first = out.size();
    for (const RowIndex r : rows) {
      const std::size_t before = out.size();
      push(key(r), out);
      if (out.size() == before) continue;
      bool seen = false;
      for (std::size_t k = first; k < before && !seen; ++k) seen = out[k] == out[before];
      if (seen) out.resize(before);
    }
  }

  ParameterLayout layout_;

 private:
  [[nodiscard]] const Derived& self() const noexcept { return static_cast<const Derived&>(*this); }
  // What SinkModelEntryPoints calls: the model's own passes and batch check.
  template <class Sink>
  S gradient_into(const ConstVectorRef<S>& theta, const B& batch, Sink& sink) const {
    return self().gradient_into(theta, batch, sink);
  }
  template <class Sink>
  void hvp_into(const ConstVectorRef<S>& theta, const B& batch, const ConstVectorRef<S>& v,
                Sink& sink) const {
    self().hvp_into(theta, batch, v, sink);
  }
  void check_batch(const char* what, const B& batch) const {
    if constexpr (requires { self().validate_batch(what, batch); }) self().validate_batch(what, batch);
  }
};

}  // namespace metarec::detail
