#pragma once
/// @file fixed_dims.hpp
/// @brief The embedding-width dispatch of the fused MF kernels: one switch from a run-time width
/// to a compile-time one, so the per-rating loops run on fixed-size Eigen maps (unrolled, no
/// alignment peeling) for the common widths.

#include <Eigen/Core>

#include <type_traits>

namespace metarec::detail {

/// Calls `f(std::integral_constant<int, K>{})` with K = `dims` for 8, 16, 32, 64 and 128 and
/// K = Eigen::Dynamic otherwise, and returns its result. A model routes every reduction of one
/// quantity through the same K in every path (loss, gradient, fused step, prediction), so all
/// paths round the same way.
template <class F>
decltype(auto) with_fixed_dims(Eigen::Index dims, F&& f) {
  switch (dims) {
    case 8: return f(std::integral_constant<int, 8>{});
    case 16: return f(std::integral_constant<int, 16>{});
    case 32: return f(std::integral_constant<int, 32>{});
    case 64: return f(std::integral_constant<int, 64>{});
    case 128: return f(std::integral_constant<int, 128>{});
    default: return f(std::integral_constant<int, Eigen::Dynamic>{});
  }
}

}  // namespace metarec::detail
