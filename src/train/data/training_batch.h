// One batch as the step consumes it: latents (from the latent store, encoding on a miss),
// the captions as the text encoder sees them this time, SDXL's size conditioning and the
// per-sample loss weights. Every random choice of a slot (crop, flip, caption shuffle and
// dropout) draws from SeededRng(mix_seed(seed, {epoch, batch, slot})), so a batch is a pure
// function of its position and a resumed run rebuilds it exactly.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "train/data/bad_images.h"
#include "train/model/base_model.h"
#include "train/data/epoch_order.h"
#include "train/data/latent_cache.h"
#include "train/model/text_conditioning.h"
#include "train/data/training_set.h"

namespace lathe {

struct DataConfig;

struct TrainingBatch {
  torch::Tensor latents;       // [B, 4, h, w] scaled latents on the device
  std::vector<std::string> captions;
  std::vector<SizeConditioning> sizes;
  torch::Tensor loss_weights;  // [B] on the device
  std::vector<std::size_t> concepts;  // concept index per sample
};

// The latent of one example as `view` prepares it (VAE mean x scaling factor), via `store`.
torch::Tensor example_latent(BaseModel& model, LatentStore& store, const TrainingExample& example,
                             const ImageView& view, torch::Device device);

// SDXL's size conditioning for an example seen through `view` (kohya: crop top-left from the
// bucket's crop box; mirrored when flipped).
SizeConditioning size_conditioning(const TrainingExample& example, const ImageView& view);

// An image that cannot be used goes to `bad` (dataset.on_bad_image: it throws the stop error,
// or leaves the image out of this batch and of later ones; without `bad`, the BadImageError
// propagates). A batch whose every image is left out has undefined `latents`: no step trains
// on it. The other slots draw exactly what they draw without the bad one.
TrainingBatch prepare_batch(BaseModel& model, LatentStore& store,
                            const std::vector<TrainingExample>& examples, const PlannedBatch& batch,
                            const DataConfig& data, std::uint64_t seed, std::int64_t epoch,
                            std::int64_t batch_index, torch::Device device,
                            BadImages* bad = nullptr);

}  // namespace lathe
