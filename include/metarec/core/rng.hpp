#pragma once
/// @file rng.hpp
/// @brief A small, portable, seedable random number generator.
///
/// metarec never uses `std::rand`, Eigen's `Random()` or the `<random>` distributions, whose output
/// differs between standard libraries. `Rng` is xoshiro256++ seeded through SplitMix64, with its own
/// uniform, integer and normal draws, so the same seed gives the same numbers on every platform
/// that has IEEE doubles and a correctly rounded `std::log`/`std::sqrt`/`std::cos`.

#include <metarec/core/detail/prefetch.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace metarec {

/// SplitMix64 step: mixes a 64-bit state; used to seed and to derive independent streams.
[[nodiscard]] constexpr std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// Hash of several 64-bit words into one seed: `derive_seed(seed, epoch, task)` gives each task its
/// own independent stream, whatever thread runs it.
template <class... Words>
[[nodiscard]] constexpr std::uint64_t derive_seed(std::uint64_t seed, Words... words) noexcept {
  std::uint64_t state = seed;
  std::uint64_t out = splitmix64(state);
  ((state ^= static_cast<std::uint64_t>(words) * 0xD1B54A32D192ED03ull, out ^= splitmix64(state)), ...);
  return out;
}

/// xoshiro256++ generator with portable draws.
/// @code
/// metarec::Rng rng(42);
/// double u = rng.uniform();          // [0, 1)
/// std::uint64_t i = rng.below(10);   // 0..9, unbiased
/// double z = rng.normal();           // N(0, 1)
/// @endcode
class Rng {
 public:
  using result_type = std::uint64_t;

  explicit Rng(std::uint64_t seed = 0) noexcept { reseed(seed); }

  void reseed(std::uint64_t seed) noexcept {
    std::uint64_t sm = seed;
    for (auto& word : s_) word = splitmix64(sm);
    has_spare_ = false;
  }

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return ~std::uint64_t{0}; }

  /// Next raw 64-bit output.
  result_type operator()() noexcept {
    const std::uint64_t result = rotl(s_[0] + s_[3], 23) + s_[0];
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// Uniform double in [0, 1) with 53 random bits.
  double uniform() noexcept { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

  /// Uniform double in [lo, hi).
  double uniform(double lo, double hi) noexcept { return lo + (hi - lo) * uniform(); }

  /// Uniform integer in [0, n), unbiased (Lemire's method). Requires n > 0.
  std::uint64_t below(std::uint64_t n) noexcept {
    std::uint64_t low = 0;
    std::uint64_t high = mul_wide((*this)(), n, low);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;
      while (low < threshold) high = mul_wide((*this)(), n, low);
    }
    return high;
  }

  /// Standard normal draw (Box-Muller; the second value of each pair is kept for the next call).
  double normal() noexcept {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    constexpr double two_pi = 6.283185307179586476925286766559;
    spare_ = r * std::sin(two_pi * u2);
    has_spare_ = true;
    return r * std::cos(two_pi * u2);
  }

  /// Normal draw with the given mean and standard deviation.
  double normal(double mean, double stddev) noexcept { return mean + stddev * normal(); }

  /// Complete generator state (for checkpoints): four state words, the cached normal and its flag.
  struct State {
    std::uint64_t s[4];
    double spare;
    bool has_spare;
  };
  [[nodiscard]] State state() const noexcept {
    return State{{s_[0], s_[1], s_[2], s_[3]}, spare_, has_spare_};
  }
  void set_state(const State& st) noexcept {
    for (int k = 0; k < 4; ++k) s_[k] = st.s[k];
    spare_ = st.spare;
    has_spare_ = st.has_spare;
  }

  /// Fisher-Yates shuffle of a span, in place.
  ///
  /// The swap partners j = below(i) do not depend on the values, so they are drawn `ahead` steps
  /// early (same draws, same order, same result) and values[j] is prefetched: on a training set
  /// bigger than the cache each swap would otherwise wait for a miss (a per-epoch shuffle of
  /// 750k rows took about a quarter of an MF epoch's time).
  template <class T>
  void shuffle(std::span<T> values) noexcept {
    constexpr std::size_t ahead = 16;  // power of two: ring index by mask
    std::size_t ring[ahead];
    const std::size_t n = values.size();
    if (n < 2) return;
    // ring[i % ahead] holds the partner of step i (steps i = n, n-1, ..., 2)
    std::size_t next = n;  // the next step whose partner is still to be drawn
    auto draw = [&] {
      const auto j = static_cast<std::size_t>(below(next));
      ring[next % ahead] = j;
      detail::prefetch<true>(values.data() + j);
      --next;
    };
    while (next > 1 && next + ahead > n) draw();
    for (std::size_t i = n; i > 1; --i) {
      const std::size_t j = ring[i % ahead];
      if (next > 1) draw();
      using std::swap;
      swap(values[i - 1], values[j]);
    }
  }

 private:
  // 64x64 -> 128-bit product: returns the high word, sets the low word (__int128 where the
  // compiler has it, else four 32-bit products in ISO C++; the same result either way).
  static constexpr std::uint64_t mul_wide(std::uint64_t a, std::uint64_t b,
                                          std::uint64_t& low) noexcept {
#if defined(__SIZEOF_INT128__)
    __extension__ using u128 = unsigned __int128;  // one MUL instead of four (same result)
    const u128 p = static_cast<u128>(a) * b;
    low = static_cast<std::uint64_t>(p);
    return static_cast<std::uint64_t>(p >> 64);
#else
    const std::uint64_t a_lo = a & 0xFFFFFFFFull, a_hi = a >> 32;
    const std::uint64_t b_lo = b & 0xFFFFFFFFull, b_hi = b >> 32;
    const std::uint64_t p0 = a_lo * b_lo, p1 = a_lo * b_hi, p2 = a_hi * b_lo, p3 = a_hi * b_hi;
    const std::uint64_t mid = (p0 >> 32) + (p1 & 0xFFFFFFFFull) + (p2 & 0xFFFFFFFFull);
    low = (mid << 32) | (p0 & 0xFFFFFFFFull);
    return p3 + (p1 >> 32) + (p2 >> 32) + (mid >> 32);
#endif
  }


  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept {
    return (x << k) | (x >> (64 - k));
  }

  std::uint64_t s_[4]{};
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace metarec
