// The loss of one micro-batch: noise and timesteps drawn from a generator on the training
// device seeded with mix_seed(seed, {step, micro}) (compute_device.h; a resumed run needs no
// generator state), LoRA dropout seeded the same way through torch's global generator, the
// noisy latents through the UNet, and kohya's loss (MSE / Huber, min-SNR, per-sample weights).
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "train/model/base_model.h"
#include "diffusion/noise_schedule.h"
#include "train/data/text_encoder_cache.h"
#include "train/data/training_batch.h"

namespace lathe {

struct TrainConfig;

// The conditioning of `captions`: through `cache` when it is enabled (the text encoders are
// frozen then), else encoded now, in grad mode when `train_text_encoder`.
Conditioning caption_conditioning(BaseModel& model, TextEncoderCache& cache,
                                  const std::vector<std::string>& captions, int clip_skip,
                                  bool train_text_encoder, torch::Device device);

// Scalar loss with its graph (backward is the caller's), the forward under
// training.mixed_precision.
torch::Tensor micro_batch_loss(BaseModel& model, TextEncoderCache& cache, const TrainingBatch& batch,
                               const TrainConfig& config, const NoiseSchedule& schedule,
                               std::int64_t step, std::int64_t micro, bool train_text_encoder,
                               torch::Device device);

}  // namespace lathe
