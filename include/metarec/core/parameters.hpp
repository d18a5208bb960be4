#pragma once
/// @file parameters.hpp
/// @brief Flat parameter vectors: aliases, segments, a layout helper, and sparse gradients.
///
/// The trainer owns all parameters of a model as one flat vector θ. A model lays its tensors out in
/// θ with a `ParameterLayout` and reads them through `Eigen::Map`s. Embedding tables are stored
/// column-major as (dims × entities), so the embedding of one entity is one contiguous segment.
///
/// `SparseGradient` is a full-size gradient buffer that remembers which segments were written.
/// Clearing it costs O(touched), so a step over a few ratings costs O(ratings × dims) instead of
/// O(all parameters).

#include <metarec/core/detail/prefetch.hpp>

#include <Eigen/Core>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace metarec {

/// Column vector of scalars.
template <class S>
using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;
/// Column-major dynamic matrix.
template <class S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
/// Read-only reference to a vector (θ, v, inputs).
template <class S>
using ConstVectorRef = Eigen::Ref<const Vector<S>>;
/// Writable reference to a pre-sized vector (gradients, outputs).
template <class S>
using VectorRef = Eigen::Ref<Vector<S>>;

/// A contiguous range of θ: `[offset, offset + size)`.
struct Segment {
  Eigen::Index offset = 0;
  Eigen::Index size = 0;
  friend bool operator==(const Segment&, const Segment&) = default;
};

/// One named tensor inside θ: `rows × cols`, column-major, starting at `offset`.
struct Block {
  Eigen::Index offset = 0;
  Eigen::Index rows = 0;
  Eigen::Index cols = 0;

  [[nodiscard]] Eigen::Index size() const noexcept { return rows * cols; }
  [[nodiscard]] Segment segment() const noexcept { return {offset, size()}; }
  /// Segment of column `c` (one embedding when the block is a dims × entities table).
  [[nodiscard]] Segment column(Eigen::Index c) const noexcept { return {offset + c * rows, rows}; }

  /// Read-only matrix view of this block inside θ.
  template <class S>
  [[nodiscard]] Eigen::Map<const Matrix<S>> map(const ConstVectorRef<S>& theta) const {
    return Eigen::Map<const Matrix<S>>(theta.data() + offset, rows, cols);
  }
  /// Writable matrix view of this block inside θ (or a gradient of θ's size).
  template <class S>
  [[nodiscard]] Eigen::Map<Matrix<S>> map(VectorRef<S> theta) const {
    return Eigen::Map<Matrix<S>>(theta.data() + offset, rows, cols);
  }
};

/// Assigns consecutive blocks of θ to named tensors.
/// @code
/// metarec::ParameterLayout layout;
/// const auto P = layout.add("user_factors", 32, num_users);
/// const auto Q = layout.add("item_factors", 32, num_items);
/// theta.resize(layout.size());
/// @endcode
class ParameterLayout {
 public:
  /// Appends a `rows × cols` block named `name` and returns it.
  Block add(std::string name, Eigen::Index rows, Eigen::Index cols = 1) {
    if (rows < 0 || cols < 0)
      throw std::invalid_argument("ParameterLayout::add: negative shape for '" + name + "' (" +
                                  std::to_string(rows) + " x " + std::to_string(cols) + ")");
    Block b{size_, rows, cols};
    size_ += rows * cols;
    names_.push_back(std::move(name));
    blocks_.push_back(b);
    return b;
  }
  /// Total number of parameters.
  [[nodiscard]] Eigen::Index size() const noexcept { return size_; }
  [[nodiscard]] const std::vector<Block>& blocks() const noexcept { return blocks_; }
  [[nodiscard]] const std::vector<std::string>& names() const noexcept { return names_; }

 private:
  Eigen::Index size_ = 0;
  std::vector<Block> blocks_;
  std::vector<std::string> names_;
};

/// Full-size gradient that tracks which segments were written since the last `clear()`.
///
/// Writers call `segment(offset, size)` (or `block_column`) and add into the returned view; the
/// first call for a segment since `clear()` zeroes it and records it, later calls return it as is,
/// so repeated rows in a batch accumulate. Segments starting at the same offset must have the same
/// size. `clear()` zeroes only the recorded segments. `dense()` is a valid full gradient at all
/// times (zero outside the recorded segments).
template <class S>
class SparseGradient {
 public:
  SparseGradient() = default;
  explicit SparseGradient(Eigen::Index n) { resize(n); }

  /// Sets the size (θ's size); zeroes everything. Allocates; call once, outside hot loops.
  void resize(Eigen::Index n) {
    dense_ = Vector<S>::Zero(n);
    stamp_.assign(static_cast<std::size_t>(n), 0u);
    touched_.clear();
    generation_ = 1;
  }

  [[nodiscard]] Eigen::Index size() const noexcept { return dense_.size(); }

  /// Zeroes the recorded segments and forgets them. O(touched).
  void clear() noexcept {
    for (const Segment& s : touched_) dense_.segment(s.offset, s.size).setZero();
    touched_.clear();
    if (++generation_ == 0) {  // wrapped: reset stamps (once every 2^32 clears)
      std::fill(stamp_.begin(), stamp_.end(), 0u);
      generation_ = 1;
    }
  }

  /// Writable view of `[offset, offset+size)`; zero on first access since `clear()`.
  auto segment(Eigen::Index offset, Eigen::Index size) noexcept {
    auto& st = stamp_[static_cast<std::size_t>(offset)];
    if (st != generation_) {
      st = generation_;
      touched_.push_back({offset, size});
    }
    return dense_.segment(offset, size);
  }
  auto segment(const Segment& s) noexcept { return segment(s.offset, s.size); }

  /// Cache hint: prefetches the bookkeeping and the values of segment `s` for writing (call it a
  /// few segments before `segment(s)` in random-access loops). Changes nothing.
  void prefetch(const Segment& s) const noexcept {
    detail::prefetch<true>(stamp_.data() + s.offset);
    detail::prefetch_range<true>(dense_.data() + s.offset, s.size);
  }

  /// The segments written since the last `clear()`, in first-write order.
  [[nodiscard]] const std::vector<Segment>& touched() const noexcept { return touched_; }
  /// The full gradient (zero outside `touched()`).
  [[nodiscard]] const Vector<S>& dense() const noexcept { return dense_; }
  /// Mutable full gradient; writing outside `touched()` breaks `clear()`'s contract.
  [[nodiscard]] Vector<S>& dense_mut() noexcept { return dense_; }

  /// Reserves room for `n` touched segments, so that steps do not allocate.
  void reserve(std::size_t n) { touched_.reserve(n); }

 private:
  Vector<S> dense_;
  std::vector<std::uint32_t> stamp_;
  std::vector<Segment> touched_;
  std::uint32_t generation_ = 1;
};

/// Adapter giving a dense gradient the `segment()` interface of `SparseGradient`, so a model can
/// write its gradient code once (as a template over the sink) for both.
template <class S>
class DenseGradientSink {
 public:
  explicit DenseGradientSink(VectorRef<S> g) : g_(g) { g_.setZero(); }
  auto segment(Eigen::Index offset, Eigen::Index size) noexcept { return g_.segment(offset, size); }
  auto segment(const Segment& s) noexcept { return g_.segment(s.offset, s.size); }

 private:
  VectorRef<S> g_;
};

}  // namespace metarec
