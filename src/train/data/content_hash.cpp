// Two independent SplitMix64-finalised lanes over 8-byte little-endian words, with the length
// folded in at both ends: fast enough to hash every image of a run once (several GB/s) and
// 128 bits wide so that distinct files practically never share a digest.
#include "train/data/content_hash.h"

#include <fmt/format.h>

#include <cstdint>
#include <cstring>

#include "common/seeded_rng.h"

namespace lathe {
namespace {

std::uint64_t load_le64(const char* p) {
  std::uint64_t w = 0;
  for (int i = 7; i >= 0; --i) w = (w << 8) | static_cast<unsigned char>(p[i]);
  return w;
}

}  // namespace

std::string content_hash(std::string_view bytes) {
  const std::uint64_t n = bytes.size();
  std::uint64_t a = mix64(n ^ 0x243F6A8885A308D3ull);
  std::uint64_t b = mix64(n ^ 0x13198A2E03707344ull);
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    const std::uint64_t w = load_le64(bytes.data() + i);
    a = mix64(a ^ w);
    b = mix64(b + (w ^ 0xA4093822299F31D0ull));
  }
  char tail[8] = {};
  if (i < bytes.size()) std::memcpy(tail, bytes.data() + i, bytes.size() - i);
  const std::uint64_t w = load_le64(tail) ^ (n << 56);
  a = mix64(a ^ w ^ b);
  b = mix64(b + w + a);
  return fmt::format("{:016x}{:016x}", a, b);
}

}  // namespace lathe
