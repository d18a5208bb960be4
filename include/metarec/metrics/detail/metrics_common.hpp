#pragma once
/// @file metrics_common.hpp
/// @brief Internals shared by the metric headers: boundary checks and message building.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>

namespace metarec::detail {

/// Quiet NaN, the value every metric returns when it is undefined on its input.
inline constexpr double metric_nan = std::numeric_limits<double>::quiet_NaN();

/// Throws `std::invalid_argument` with the house message format
/// `<function>: <what> (<observed>); <hint>`.
[[noreturn]] inline void throw_invalid(const char* function, const std::string& what,
                                       const std::string& observed, const std::string& hint) {
  throw std::invalid_argument(std::string(function) + ": " + what + " (" + observed + "); " +
                              hint);
}

/// Throws unless two inputs have the same length.
inline void require_same_size(const char* function, const char* name_a, std::size_t a,
                              const char* name_b, std::size_t b) {
  if (a != b)
    throw_invalid(function, std::string(name_a) + " and " + name_b + " differ in size",
                  std::string(name_a) + " " + std::to_string(a) + ", " + name_b + " " +
                      std::to_string(b),
                  "pass exactly one entry of each per row");
}

/// Throws unless every label is 0 or 1.
inline void require_binary_labels(const char* function, std::span<const std::uint8_t> labels) {
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] > 1)
      throw_invalid(function, "labels must be 0 or 1",
                    "labels[" + std::to_string(i) + "] = " + std::to_string(labels[i]),
                    "binarise ratings first, e.g. label = rating > 3");
}

/// Throws when a score is NaN (NaN has no place in an ordering).
template <class S>
void require_no_nan(const char* function, const char* name, std::span<const S> values) {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (std::isnan(values[i]))
      throw_invalid(function, std::string(name) + " contains NaN",
                    std::string(name) + "[" + std::to_string(i) + "] = nan",
                    "scores must be ordered; replace or drop NaN predictions");
}

/// Throws when k is zero.
inline void require_positive_k(const char* function, std::size_t k) {
  if (k == 0) throw_invalid(function, "k must be at least 1", "k = 0", "use a cut-off such as 10");
}

}  // namespace metarec::detail
