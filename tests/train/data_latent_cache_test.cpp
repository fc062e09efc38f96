// LatentStore: memory hits and misses, reuse across two stores over one disk folder, keys that
// change with the file's bytes, the crop, the flip, the bucket and the VAE (and not with the
// path), corrupt or stale disk entries re-encoded and rewritten, and the random-crop rule.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "data_fixtures.h"
#include "train/data/latent_cache.h"
#include "train/config/train_config.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

BucketAssignment square_assignment() {
  BucketAssignment a;
  a.bucket = {64, 64};
  a.resized_width = 96;
  a.resized_height = 64;
  a.crop_left = 16;
  return a;
}

// An encoder that counts its calls and returns a latent derived from `value`.
struct FakeEncoder {
  int calls = 0;
  float value = 0.5f;
  std::function<torch::Tensor()> fn() {
    return [this] {
      ++calls;
      return torch::full({4, 8, 8}, value + static_cast<float>(calls));
    };
  }
};

fs::path any_entry(const fs::path& folder) {
  for (const auto& e : fs::recursive_directory_iterator(folder))
    if (e.is_regular_file() && e.path().extension() == ".safetensors") return e.path();
  return {};
}

TEST(DataLatentCache, MemoryEncodesOncePerInput) {
  TempDir dir;
  test::write_solid_image(dir / "a.png", 96, 64);
  LatentStore store(LatentCache::Memory, dir / "unused", "tiny-random:sd15:42");
  FakeEncoder enc;
  const torch::Tensor first =
      store.get(dir / "a.png", square_assignment(), ImageView{16, 0, false}, enc.fn());
  const torch::Tensor second =
      store.get(dir / "a.png", square_assignment(), ImageView{16, 0, false}, enc.fn());
  EXPECT_EQ(enc.calls, 1);
  EXPECT_TRUE(torch::equal(first, second));
  EXPECT_EQ(store.stats().hits, 1);
  EXPECT_EQ(store.stats().misses, 1);
  store.get(dir / "a.png", square_assignment(), ImageView{16, 0, true}, enc.fn());
  EXPECT_EQ(enc.calls, 2);  // the flipped view is another latent
  EXPECT_FALSE(fs::exists(dir / "unused"));
}

TEST(DataLatentCache, CallerChangesDoNotReachTheCache) {
  TempDir dir;
  test::write_solid_image(dir / "a.png", 96, 64);
  LatentStore store(LatentCache::Memory, dir.path(), "vae");
  FakeEncoder enc;
  torch::Tensor t = store.get(dir / "a.png", square_assignment(), ImageView{}, enc.fn());
  t.mul_(0.18215);
  const torch::Tensor again = store.get(dir / "a.png", square_assignment(), ImageView{}, enc.fn());
  EXPECT_FLOAT_EQ(again.index({0, 0, 0}).item<float>(), 1.5f);
}

TEST(DataLatentCache, OffAlwaysEncodes) {
  TempDir dir;
  test::write_solid_image(dir / "a.png", 96, 64);
  LatentStore store(LatentCache::Off, dir / "cache", "vae");
  FakeEncoder enc;
  for (int i = 0; i < 3; ++i) store.get(dir / "a.png", square_assignment(), ImageView{}, enc.fn());
  EXPECT_EQ(enc.calls, 3);
  EXPECT_EQ(store.stats().misses, 3);
  EXPECT_EQ(store.stats().hits, 0);
  EXPECT_FALSE(fs::exists(dir / "cache"));
}

TEST(DataLatentCache, DiskEntriesAreReusedByAnotherStore) {
  TempDir dir;
  test::write_solid_image(dir / "a.png", 96, 64);
  const fs::path folder = dir / "out" / ".latent_cache";
  FakeEncoder enc;
  torch::Tensor written;
  {
    LatentStore store(LatentCache::Disk, folder, "vae-1");
    written = store.get(dir / "a.png", square_assignment(), ImageView{}, enc.fn());
    EXPECT_EQ(store.stats().misses, 1);
  }
  const std::string key =
      LatentStore(LatentCache::Disk, folder, "vae-1").key(dir / "a.png", square_assignment(), {});
  EXPECT_TRUE(fs::exists(folder / key.substr(0, 2) / (key + ".safetensors")));

  LatentStore again(LatentCache::Disk, folder, "vae-1");
  const torch::Tensor read = again.get(dir / "a.png", square_assignment(), ImageView{}, enc.fn());
  EXPECT_EQ(enc.calls, 1);
  EXPECT_TRUE(torch::equal(read, written));
  EXPECT_EQ(again.stats().hits, 1);
  EXPECT_EQ(again.stats().disk_reads, 1);
  EXPECT_EQ(again.stats().misses, 0);
}

TEST(DataLatentCache, KeyFollowsEverythingThatShapesTheLatent) {
  TempDir dir;
  test::write_solid_image(dir / "a.png", 96, 64);
  test::write_solid_image(dir / "b.png", 96, 64, cv::Scalar(1, 2, 3));
  fs::copy_file(dir / "a.png", dir / "copy of a.png");
  const LatentStore store(LatentCache::Disk, dir / "c", "vae-1");
  const BucketAssignment a = square_assignment();
  const std::string base = store.key(dir / "a.png", a, ImageView{16, 0, false});
  EXPECT_EQ(base.size(), 32u);
  EXPECT_EQ(store.key(dir / "a.png", a, ImageView{16, 0, false}), base);
  EXPECT_EQ(store.key(dir / "copy of a.png", a, ImageView{16, 0, false}), base);
  EXPECT_NE(store.key(dir / "b.png", a, ImageView{16, 0, false}), base);
  EXPECT_NE(store.key(dir / "a.png", a, ImageView{15, 0, false}), base);
  EXPECT_NE(store.key(dir / "a.png", a, ImageView{16, 1, false}), base);
  EXPECT_NE(store.key(dir / "a.png", a, ImageView{16, 0, true}), base);
  BucketAssignment other = a;
  other.resized_width = 97;
  EXPECT_NE(store.key(dir / "a.png", other, ImageView{16, 0, false}), base);
  other = a;
  other.bucket = {64, 128};
  EXPECT_NE(store.key(dir / "a.png", other, ImageView{16, 0, false}), base);
  EXPECT_NE(
      LatentStore(LatentCache::Disk, dir / "c", "vae-2").key(dir / "a.png", a, {16, 0, false}),
      base);
}

TEST(DataLatentCache, ChangedImageBytesMissAtTheSamePath) {
  TempDir dir;
  const fs::path image = dir / "a.png";
  test::write_solid_image(image, 96, 64);
  LatentStore store(LatentCache::Memory, dir.path(), "vae");
  FakeEncoder enc;
  store.get(image, square_assignment(), ImageView{}, enc.fn());
  test::write_solid_image(image, 96, 64, cv::Scalar(9, 9, 9));  // edited in place
  store.get(image, square_assignment(), ImageView{}, enc.fn());
  EXPECT_EQ(enc.calls, 2);
  EXPECT_EQ(store.stats().hits, 0);
}

TEST(DataLatentCache, CorruptDiskEntryIsReencodedAndRewritten) {
  TempDir dir;
  test::write_solid_image(dir / "a.png", 96, 64);
  const fs::path folder = dir / "cache";
  FakeEncoder enc;
  LatentStore(LatentCache::Disk, folder, "vae")
      .get(dir / "a.png", square_assignment(), {}, enc.fn());
  const fs::path entry = any_entry(folder);
  ASSERT_FALSE(entry.empty());
  const auto size = fs::file_size(entry);
  test::write_text(entry, std::string(static_cast<std::size_t>(size / 2), 'x'));  // truncated junk

  LatentStore second(LatentCache::Disk, folder, "vae");
  const torch::Tensor t = second.get(dir / "a.png", square_assignment(), {}, enc.fn());
  EXPECT_EQ(enc.calls, 2);
  EXPECT_EQ(second.stats().rewritten, 1);
  EXPECT_EQ(second.stats().misses, 1);
  EXPECT_FLOAT_EQ(t.index({0, 0, 0}).item<float>(), 2.5f);

  LatentStore third(LatentCache::Disk, folder, "vae");
  EXPECT_TRUE(torch::equal(third.get(dir / "a.png", square_assignment(), {}, enc.fn()), t));
  EXPECT_EQ(enc.calls, 2);
  EXPECT_EQ(third.stats().disk_reads, 1);
}

TEST(DataLatentCache, NonFiniteDiskEntryIsNotTrusted) {
  TempDir dir;
  test::write_solid_image(dir / "a.png", 96, 64);
  const fs::path folder = dir / "cache";
  FakeEncoder enc;
  enc.value = std::numeric_limits<float>::quiet_NaN();
  LatentStore(LatentCache::Disk, folder, "vae")
      .get(dir / "a.png", square_assignment(), {}, enc.fn());
  enc.value = 0.5f;
  LatentStore second(LatentCache::Disk, folder, "vae");
  second.get(dir / "a.png", square_assignment(), {}, enc.fn());
  EXPECT_EQ(enc.calls, 2);
  EXPECT_EQ(second.stats().rewritten, 1);
}

TEST(DataLatentCache, RandomCropTurnsTheCacheOff) {
  DataConfig d;
  std::string warning;
  d.cache_latents = LatentCache::Disk;
  EXPECT_EQ(effective_latent_cache(d, &warning), LatentCache::Disk);
  EXPECT_TRUE(warning.empty());
  d.crop = CropMode::Random;
  EXPECT_EQ(effective_latent_cache(d, &warning), LatentCache::Off);
  EXPECT_NE(warning.find("crop"), std::string::npos) << warning;
  d.cache_latents = LatentCache::Off;
  EXPECT_EQ(effective_latent_cache(d, &warning), LatentCache::Off);
  EXPECT_TRUE(warning.empty());
}

}  // namespace
}  // namespace lathe
