// Counter-based random numbers for everything a run decides per sample (epoch order, caption
// shuffle and dropout, flips, random crops). Each decision draws from a generator seeded by
// mixing the run seed with where the decision happens (epoch, batch, slot), so a resumed run
// makes the same decisions as an uninterrupted one without saving any generator state, and
// the results do not depend on the order in which samples are prepared.
#pragma once

#include <cstdint>
#include <initializer_list>

namespace lathe {

// SplitMix64's finaliser: a bijective 64-bit mix with good avalanche.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A seed for one decision: mix_seed(run_seed, {epoch, batch, slot}). Different part lists give
// unrelated streams; {1, 2} and {2, 1} differ.
inline std::uint64_t mix_seed(std::uint64_t seed, std::initializer_list<std::uint64_t> parts) {
  std::uint64_t h = mix64(seed);
  for (std::uint64_t p : parts) h = mix64(h ^ mix64(p + 0x632BE59BD9B4E019ull));
  return h;
}

// SplitMix64 generator: small, fast, and identical on every platform (unlike std::
// distributions, whose algorithms differ between standard libraries).
class SeededRng {
 public:
  explicit SeededRng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // Uniform in [0, 1) with 53 bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Uniform integer in [0, n); n must be at least 1. Lemire's rejection keeps it unbiased.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t threshold = (0 - n) % n;
    for (;;) {
      const std::uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }

  bool chance(double p) { return p > 0.0 && uniform() < p; }

  // Fisher-Yates over a random-access range.
  template <typename It>
  void shuffle(It first, It last) {
    const auto n = static_cast<std::uint64_t>(last - first);
    for (std::uint64_t i = n; i > 1; --i) {
      const std::uint64_t j = below(i);
      using std::swap;
      swap(first[i - 1], first[j]);
    }
  }

 private:
  std::uint64_t state_;
};

}  // namespace lathe
