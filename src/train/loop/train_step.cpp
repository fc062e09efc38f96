// One micro-batch's loss (see the header). The draw order is kohya's: noise, then timesteps.
#include "train/loop/train_step.h"

#include "common/seeded_rng.h"
#include "train/model/compute_device.h"
#include "diffusion/losses.h"
#include "diffusion/noise.h"
#include "train/model/precision.h"
#include "train/config/train_config.h"

namespace lathe {

Conditioning caption_conditioning(BaseModel& model, TextEncoderCache& cache,
                                  const std::vector<std::string>& captions, int clip_skip,
                                  bool train_text_encoder, torch::Device device) {
  if (!cache.enabled()) {
    torch::AutoGradMode grad(train_text_encoder);
    return encode_captions(model, captions, clip_skip, device);
  }
  torch::NoGradGuard no_grad;
  TextEncoding e = cache.get_batch(captions, [&](const std::vector<std::string>& missing) {
    Conditioning c = encode_captions(model, missing, clip_skip, device);
    return TextEncoding{c.context, c.text_embeds};
  });
  return Conditioning{e.hidden, e.pooled};
}

torch::Tensor micro_batch_loss(BaseModel& model, TextEncoderCache& cache, const TrainingBatch& batch,
                               const TrainConfig& config, const NoiseSchedule& schedule,
                               std::int64_t step, std::int64_t micro, bool train_text_encoder,
                               torch::Device device) {
  const std::uint64_t seed = config.training.seed;
  const auto s = static_cast<std::uint64_t>(step), m = static_cast<std::uint64_t>(micro);
  torch::Generator generator = seeded_generator(mix_seed(seed, {s, m}), device);
  // LoRA dropout draws from the global generator: seed it per micro-batch as well.
  torch::manual_seed(mix_seed(seed, {s, m, 1}));

  MixedPrecisionScope mixed(config.training.mixed_precision, device);
  Conditioning cond = caption_conditioning(model, cache, batch.captions, config.model.clip_skip,
                                           train_text_encoder, device);
  torch::Tensor y = added_vector(model, cond, batch.sizes, device);

  const torch::Tensor& latents = batch.latents;  // [B, 4, h, w]
  NoiseSample noise = sample_noise(latents, config.noise, generator);
  torch::Tensor timesteps = schedule.sample_timesteps(latents.size(0), config.timesteps.min,
                                                      config.timesteps.max, generator, device);
  torch::Tensor noisy = schedule.add_noise(latents, noise.input_noise, timesteps);
  torch::Tensor target = schedule.target(model.prediction, latents, noise.noise, timesteps);
  torch::Tensor pred = model.unet->forward(noisy, timesteps, cond.context, y);
  return diffusion_loss(pred.to(torch::kFloat32), target, timesteps, schedule, model.prediction,
                        config.loss, batch.loss_weights);
}

}  // namespace lathe
