// SHA-256 against the FIPS 180-2 example vectors (empty, "abc", the 448- and 896-bit messages,
// one million 'a'), the same digest whatever the chunking, and whole-file hashing; each through
// the portable rounds and, where the CPU has them, the SHA extensions.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "common/error.h"
#include "common/sha256.h"
#include "temp_dir.h"

namespace lathe {
namespace {

// Runs a test body once with whatever the CPU offers and once with the portable rounds.
class Sha256Paths : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { detail::sha256_portable_only = GetParam(); }
  void TearDown() override { detail::sha256_portable_only = false; }
};
INSTANTIATE_TEST_SUITE_P(Sha256, Sha256Paths, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "portable" : "cpu"; });

TEST_P(Sha256Paths, StandardVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
                       "lmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Bytes (7i + 3) mod 256 for i < 1000; the digest is Python's
// hashlib.sha256(bytes((i*7+3)%256 for i in range(1000))).hexdigest().
std::string pattern() {
  std::string s;
  for (int i = 0; i < 1000; ++i) s += static_cast<char>((i * 7 + 3) % 256);
  return s;
}
constexpr const char* kPatternDigest = "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371";

TEST_P(Sha256Paths, ChunkingDoesNotChangeTheDigest) {
  const std::string s = pattern();
  for (std::size_t chunk : {1u, 3u, 55u, 56u, 63u, 64u, 65u, 128u, 999u}) {
    Sha256 h;
    for (std::size_t at = 0; at < s.size(); at += chunk) h.update(std::string_view(s).substr(at, chunk));
    EXPECT_EQ(h.finish_hex(), kPatternDigest) << "chunk " << chunk;
  }
}

TEST_P(Sha256Paths, FilesHashAsTheirBytes) {
  test::TempDir dir;
  const auto path = dir / "bytes.bin";
  std::ofstream(path, std::ios::binary) << pattern();
  EXPECT_EQ(sha256_file_hex(path), kPatternDigest);
  try {
    sha256_file_hex(dir / "missing.bin");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.bin"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lathe
