// Cached VAE latents. The key is a hash of the image file's bytes, the bucket, the resized
// size, the crop offset, the flip and the VAE's identity, so a cached latent is reused only
// for exactly the same input, across runs (on disk) or across epochs (in memory). Disk entries
// are safetensors files written atomically under the cache folder; a corrupt or unreadable
// entry is re-encoded, never trusted. With random crop the cache is turned off for the run
// (effective_latent_cache): every step would crop elsewhere and the cache would only grow.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

#include "dataset/bucket_plan.h"
#include "train/data/training_image.h"

namespace lathe {

enum class LatentCache;
struct DataConfig;

struct LatentCacheStats {
  std::int64_t hits = 0;
  std::int64_t misses = 0;  // encoded now
  std::int64_t disk_reads = 0;
  std::int64_t rewritten = 0;  // disk entries found corrupt or stale, re-encoded and rewritten
};

// The cache mode a run uses: the profile's cache_latents, except Off when crop = "random"
// (kohya refuses cache_latents with random_crop; Lathe runs uncached and says why in
// `warning`, which is left empty otherwise).
LatentCache effective_latent_cache(const DataConfig& data, std::string* warning);

class LatentStore {
 public:
  // mode Off: get() always encodes. Disk: entries live in `folder` (created on first write).
  // `vae_identity` names the VAE's weights (e.g. a hash of the file, or "tiny-random:sd15:42").
  LatentStore(LatentCache mode, std::filesystem::path folder, std::string vae_identity);

  // The latent [4, h/8, w/8] (CPU, float32) for the image as `view` prepares it; calls
  // `encode` (pixels -> latent) on a miss.
  torch::Tensor get(const std::filesystem::path& image, const BucketAssignment& assignment,
                    const ImageView& view, const std::function<torch::Tensor()>& encode);

  const LatentCacheStats& stats() const { return stats_; }

  // For training on a GPU: memory entries are kept in page-locked host memory and handed out
  // without a copy, because the caller copies them to the device anyway (asynchronously, which
  // needs a pinned source). Off (the default): a hit returns a copy the caller may change.
  void set_pinned_for_device(bool pinned) { pinned_ = pinned; }

  // The key get() uses (32 hex digits; a disk entry is <folder>/<key[0..2]>/<key>.safetensors);
  // exposed for tests.
  std::string key(const std::filesystem::path& image, const BucketAssignment& assignment,
                  const ImageView& view) const;

 private:
  // What the key digests, as readable text (also stored in each disk entry and checked on
  // read, so an entry is only used for the input it was made from).
  std::string key_text(const std::string& file_hash, const BucketAssignment& assignment,
                       const ImageView& view) const;
  const std::string& file_hash(const std::filesystem::path& image);  // cached per path+size+mtime
  std::filesystem::path entry_path(const std::string& key) const;
  std::optional<torch::Tensor> read_entry(const std::filesystem::path& path,
                                          const std::string& text) const;
  void write_entry(const std::filesystem::path& path, const std::string& text,
                   const std::filesystem::path& image, const torch::Tensor& latent) const;

  LatentCache mode_;
  std::filesystem::path folder_;
  std::string vae_identity_;
  std::unordered_map<std::string, torch::Tensor> memory_;
  std::unordered_map<std::string, std::string> file_hashes_;  // path, size, mtime -> hash
  LatentCacheStats stats_;
  bool pinned_ = false;
};

}  // namespace lathe
