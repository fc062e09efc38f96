// Cached VAE latents. The key is a hash of the image file's bytes, the bucket, the resized
// size, the crop offset, the flip and the VAE's identity, so a cached latent is reused only
// for exactly the same input, across runs (on disk) or across epochs (in memory). Disk entries
// are safetensors files written atomically under the cache folder; a corrupt or unreadable
// entry is re-encoded, never trusted.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <unordered_map>

#include "dataset/bucket_plan.h"
#include "train/training_image.h"

namespace lathe {

enum class LatentCache;

struct LatentCacheStats {
  std::int64_t hits = 0;
  std::int64_t misses = 0;  // encoded now
  std::int64_t disk_reads = 0;
};

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

  // The key get() uses; exposed for tests.
  std::string key(const std::filesystem::path& image, const BucketAssignment& assignment,
                  const ImageView& view) const;

 private:
  LatentCache mode_;
  std::filesystem::path folder_;
  std::string vae_identity_;
  std::unordered_map<std::string, torch::Tensor> memory_;
  std::unordered_map<std::string, std::string> file_hashes_;  // path -> content hash
  LatentCacheStats stats_;
};

}  // namespace lathe
