// LatentStore: the memory map or the disk folder behind cached VAE latents. The image's bytes
// are hashed once per (path, size, mtime), so an edited or replaced image misses even at the
// same path, and a moved one still hits. Disk entries carry their key text in the metadata and
// are checked on read (key, name, dtype, rank, finite values); anything off is re-encoded and
// rewritten instead of trusted.
#include "train/data/latent_cache.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <torch/torch.h>

#include "common/error.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "models/tensor_io.h"
#include "train/data/content_hash.h"
#include "train/config/train_config.h"

namespace lathe {
namespace {

constexpr const char* kLatentName = "latent";
constexpr const char* kKeyMetadata = "lathe_latent_key";
constexpr const char* kImageMetadata = "lathe_image";

std::string hash_file(const std::filesystem::path& image) {
  return content_hash(read_file(image));
}

}  // namespace

LatentCache effective_latent_cache(const DataConfig& data, std::string* warning) {
  if (warning) warning->clear();
  if (data.cache_latents == LatentCache::Off || data.crop != CropMode::Random)
    return data.cache_latents;
  if (warning)
    *warning = fmt::format(
        "cache_latents = \"{}\" is off for this run: crop = \"random\" crops each view "
        "elsewhere, so cached latents would not be reused; set crop = \"center\" to cache",
        to_string(data.cache_latents));
  return LatentCache::Off;
}

LatentStore::LatentStore(LatentCache mode, std::filesystem::path folder, std::string vae_identity)
    : mode_(mode), folder_(std::move(folder)), vae_identity_(std::move(vae_identity)) {}

std::string LatentStore::key_text(const std::string& file_hash, const BucketAssignment& a,
                                  const ImageView& view) const {
  return fmt::format("image {} bucket {}x{} resized {}x{} crop {},{} flip {} vae {}", file_hash,
                     a.bucket.width, a.bucket.height, a.resized_width, a.resized_height,
                     view.crop_left, view.crop_top, view.flipped ? 1 : 0, vae_identity_);
}

std::string LatentStore::key(const std::filesystem::path& image, const BucketAssignment& a,
                             const ImageView& view) const {
  return content_hash(key_text(hash_file(image), a, view));
}

const std::string& LatentStore::file_hash(const std::filesystem::path& image) {
  struct stat st {};
  if (::stat(image.c_str(), &st) != 0)
    throw Error(fmt::format("{}: cannot read the image for the latent cache", image.string()));
  const std::string id = fmt::format("{}\n{}\n{}.{}", image.string(), st.st_size, st.st_mtim.tv_sec,
                                     st.st_mtim.tv_nsec);
  auto it = file_hashes_.find(id);
  if (it == file_hashes_.end()) it = file_hashes_.emplace(id, hash_file(image)).first;
  return it->second;
}

std::filesystem::path LatentStore::entry_path(const std::string& key) const {
  return folder_ / key.substr(0, 2) / (key + ".safetensors");
}

std::optional<torch::Tensor> LatentStore::read_entry(const std::filesystem::path& path,
                                                     const std::string& text) const {
  try {
    SafetensorsFile file(path);
    auto stored = file.metadata().find(kKeyMetadata);
    if (stored == file.metadata().end() || stored->second != text || !file.contains(kLatentName))
      return std::nullopt;
    const TensorView view = file.view(kLatentName);
    if (view.info->dtype != DType::F32 || view.info->shape.size() != 3) return std::nullopt;
    torch::Tensor t = tensor_from_view(view, torch::kFloat32);
    if (!torch::isfinite(t).all().item<bool>()) return std::nullopt;
    return t;
  } catch (const std::exception&) {
    return std::nullopt;  // unreadable or corrupt: re-encode
  }
}

void LatentStore::write_entry(const std::filesystem::path& path, const std::string& text,
                              const std::filesystem::path& image,
                              const torch::Tensor& latent) const {
  try {
    std::filesystem::create_directories(path.parent_path());
    write_tensors(path, {{kLatentName, latent}},
                  {{kKeyMetadata, text}, {kImageMetadata, image.string()}});
  } catch (const std::exception& e) {
    throw Error(
        fmt::format("latent cache {}: cannot write {}: {}; free space, fix the folder's "
                    "permissions or set cache_latents = \"memory\"",
                    folder_.string(), path.filename().string(), e.what()));
  }
}

torch::Tensor LatentStore::get(const std::filesystem::path& image,
                               const BucketAssignment& assignment, const ImageView& view,
                               const std::function<torch::Tensor()>& encode) {
  auto encode_cpu = [&] {
    stats_.misses += 1;
    return encode().detach().to(torch::kCPU, torch::kFloat32).contiguous();
  };
  if (mode_ == LatentCache::Off) return encode_cpu();

  const std::string text = key_text(file_hash(image), assignment, view);
  const std::string k = content_hash(text);
  if (mode_ == LatentCache::Memory) {
    auto it = memory_.find(k);
    if (it != memory_.end()) {
      stats_.hits += 1;
      // Callers on the CPU may scale the latent in place; a device copy is theirs already.
      return pinned_ ? it->second : it->second.clone();
    }
    torch::Tensor latent = encode_cpu();
    if (pinned_) latent = latent.pin_memory();
    memory_.emplace(k, pinned_ ? latent : latent.clone());
    return latent;
  }

  const std::filesystem::path path = entry_path(k);
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    if (std::optional<torch::Tensor> cached = read_entry(path, text)) {
      stats_.hits += 1;
      stats_.disk_reads += 1;
      return *cached;
    }
    stats_.rewritten += 1;
  }
  torch::Tensor latent = encode_cpu();
  write_entry(path, text, image, latent);
  return latent;
}

}  // namespace lathe
