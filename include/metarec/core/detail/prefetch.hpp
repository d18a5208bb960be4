#pragma once
/// @file prefetch.hpp
/// @brief Software prefetch hints for the random-access loops of training (embedding gathers and
/// scatters over shuffled rows, lazy optimiser steps over touched segments). Hints only: they
/// change no result, and compile to nothing on compilers without `__builtin_prefetch`.

#include <cstddef>

namespace metarec::detail {

/// How many rows (or segments) ahead the loops below prefetch: far enough to cover a miss to
/// memory at a few ns of work per row, near enough that the lines are still in L1/L2 when used.
inline constexpr std::size_t prefetch_distance = 8;

/// Prefetches the line holding `p` into all cache levels; `Write` when the line is about to be
/// written (PREFETCHW where the target has it, else a read prefetch: the line then arrives
/// exclusive when no other core holds it, and the store that follows does not miss).
///
/// On x86-64 this is an `asm volatile` PREFETCHT0/PREFETCHW rather than `__builtin_prefetch`:
/// GCC 12 at -O2 was seen to delete `__builtin_prefetch` calls reached through a lambda in the
/// embedding scatter, leaving the loop without its hints.
template <bool Write = false>
inline void prefetch(const void* p) noexcept {
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
  if constexpr (Write) {
#if defined(__PRFCHW__)
    asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
#else
    asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#endif
  } else {
    asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
  }
#elif defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, Write ? 1 : 0, 3);
#else
  (void)p;
#endif
}

/// Prefetches every 64-byte line of the `n` elements from `p` (p need not be line-aligned).
template <bool Write = false, class T>
inline void prefetch_range(const T* p, std::ptrdiff_t n) noexcept {
  if (n <= 0) return;
  const char* first = reinterpret_cast<const char*>(p);
  const char* last = reinterpret_cast<const char*>(p + (n - 1));
  for (const char* c = first; c < last; c += 64) prefetch<Write>(c);
  prefetch<Write>(last);
}

}  // namespace metarec::detail
