// The model hashes A1111 and kohya compute, checked against values computed once with their
// own tools: Python's hashlib and the safetensors library (0.8.0), running kohya's
// precalculate_safetensors_hashes / addnet_hash_safetensors / addnet_hash_legacy / model_hash
// steps on the same bytes (the script is in each test's comment).
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "common/error.h"
#include "io/model_hashes.h"
#include "temp_dir.h"

namespace lathe {
namespace {

// n bytes (i*a + b) mod 256; Python: bytes((i*a+b) % 256 for i in range(n)).
std::string pattern(std::size_t n, unsigned a, unsigned b) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * a + b) % 256);
  return s;
}

// Python: hashlib.sha256(f[0x100000:0x110000]).hexdigest()[:8] with f = pattern(...).
TEST(ModelHashes, LegacyHashIsThe64KiBAtOneMiB) {
  EXPECT_EQ(legacy_model_hash(pattern(0x100000 + 0x10000 + 100, 7, 3)), "510b126e");
  EXPECT_EQ(legacy_model_hash(pattern(0x100000 + 1000, 7, 3)), "1e9bc38c");  // a short window
  EXPECT_EQ(legacy_model_hash(pattern(4096, 7, 3)), "e3b0c442");            // nothing: under 1 MiB
  test::TempDir dir;
  const auto path = dir / "model.safetensors";
  std::ofstream(path, std::ios::binary) << pattern(0x100000 + 0x10000 + 100, 7, 3);
  EXPECT_EQ(legacy_model_hash_of_file(path), "510b126e");
  EXPECT_THROW(legacy_model_hash_of_file(dir / "missing.safetensors"), Error);
}

// Tensors given out of layout order, two dtypes, a 0-d alpha, metadata with characters JSON
// escapes and keys that are not ss_* (left out of the hash, as kohya filters them). The
// constants come from:
//   tensors = {name: np.frombuffer(pattern(...), dtype).reshape(shape) for the four below}
//   b = safetensors.numpy.save(tensors, metadata={k: v for k, v in meta.items() if k.startswith("ss_")})
//   n = int.from_bytes(b[:8], "little")
//   hashlib.sha256(b[8+n:]).hexdigest(); hashlib.sha256(b[0x100000:0x110000]).hexdigest()[:8]
TEST(ModelHashes, AddnetHashesMatchKohyasOnTheSafetensorsLayout) {
  const std::string b = pattern(300 * 1024 * 2, 7, 3), a = pattern(256 * 1024 * 2, 13, 1);
  const std::string alpha = pattern(4, 5, 9), bias = pattern(8, 11, 2);
  std::vector<TensorToWrite> tensors = {
      {"lora_unet_b.lora_down.weight", DType::F16, {300, 1024}, b},
      {"lora_unet_a.alpha", DType::F32, {}, alpha},
      {"lora_unet_a.lora_down.weight", DType::F16, {256, 1024}, a},
      {"extra.bias", DType::F32, {2}, bias},
  };
  std::map<std::string, std::string> meta = {{"ss_network_dim", "4"},
                                             {"ss_tag", "a\"b\\c\nd \xc3\xa9\x01"},
                                             {"modelspec.title", "x"},
                                             {"sshs_model_hash", "old"},
                                             {"lathe_base_model", "y"}};
  AddnetHashes h = addnet_hashes(tensors, meta);
  EXPECT_EQ(h.model_hash, "331b122767ac3cce18b4b901dba1a37ba527d007b759edda2008c4f05ff283e1");
  EXPECT_EQ(h.legacy_hash, "33b85384");
  // Keys outside ss_* do not count; an ss_* value does (it moves the tensors in the file).
  meta["modelspec.title"] = "another title";
  EXPECT_EQ(addnet_hashes(tensors, meta).legacy_hash, "33b85384");
  meta["ss_tag"] = "longer value that shifts the data";
  EXPECT_NE(addnet_hashes(tensors, meta).legacy_hash, "33b85384");
  EXPECT_EQ(addnet_hashes(tensors, meta).model_hash, h.model_hash);  // tensor bytes only

  // A file under 1 MiB: the legacy hash is that of no bytes.
  const std::string w = pattern(16, 3, 1);
  AddnetHashes small = addnet_hashes({{"w", DType::F16, {2, 4}, w}}, {{"ss_a", "1"}});
  EXPECT_EQ(small.model_hash, "04fd2a72494fb1ed789d190af8ae1c59b6eb56787137e684e8f9e570dc25c00a");
  EXPECT_EQ(small.legacy_hash, "e3b0c442");
}

}  // namespace
}  // namespace lathe
