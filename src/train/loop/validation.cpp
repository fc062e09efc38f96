// Validation loss at fixed timesteps and noise (see the header). Each example runs as one
// batch holding every validation timestep, so a call costs one forward per example.
#include "train/loop/validation.h"

#include <fmt/format.h>

#include "common/error.h"
#include "common/seeded_rng.h"
#include "train/model/compute_device.h"
#include "diffusion/losses.h"
#include "train/data/caption_processing.h"
#include "diffusion/noise.h"
#include "train/model/precision.h"
#include "train/model/text_conditioning.h"
#include "train/config/train_config.h"
#include "train/loop/train_step.h"
#include "train/data/training_batch.h"
#include "train/data/training_image.h"

namespace lathe {
namespace {

double example_loss(BaseModel& model, LatentStore& store, TextEncoderCache& cache,
                    const TrainingExample& example,
                    std::size_t index, const TrainConfig& config, const NoiseSchedule& schedule,
                    torch::Device device) {
  SeededRng unused(0);  // centre crop without flip draws nothing
  const ImageView view = choose_image_view(example.assignment, CropMode::Center, false, unused);
  const auto& ts = config.validation.timesteps;
  const auto n = static_cast<std::int64_t>(ts.size());

  torch::Tensor latent = example_latent(model, store, example, view, device);  // [4, h, w]
  torch::Tensor latents = latent.unsqueeze(0).expand({n, -1, -1, -1}).contiguous();
  torch::Generator generator = seeded_generator(mix_seed(config.validation.seed, {index}), device);
  torch::Tensor noise = randn_from(latents.sizes(), generator, latents);
  torch::Tensor timesteps = torch::tensor(ts, torch::kLong).to(device);

  MixedPrecisionScope mixed(config.training.mixed_precision, device);
  // The caption as written (tags re-joined as training joins them), no shuffle, no dropout.
  const std::string caption = process_caption(example.caption, CaptionOptions{}, unused);
  Conditioning cond = caption_conditioning(model, cache, {caption}, config.model.clip_skip, false, device);
  cond.context = cond.context.expand({n, -1, -1});
  if (cond.text_embeds.defined()) cond.text_embeds = cond.text_embeds.expand({n, -1});
  torch::Tensor y = added_vector(model, cond, std::vector<SizeConditioning>(n, size_conditioning(example, view)), device);

  torch::Tensor noisy = schedule.add_noise(latents, noise, timesteps);
  torch::Tensor target = schedule.target(model.prediction, latents, noise, timesteps);
  torch::Tensor pred = model.unet->forward(noisy, timesteps, cond.context, y);
  return diffusion_loss(pred.to(torch::kFloat32), target, timesteps, schedule, model.prediction, config.loss)
      .item<double>();
}

}  // namespace

ValidationResult validation_loss(BaseModel& model, LatentStore& store, TextEncoderCache& cache,
                                 const TrainingSet& set, const TrainConfig& config,
                                 const NoiseSchedule& schedule, torch::Device device,
                                 BadImages* bad) {
  if (set.validation.empty())
    throw Error("validation: no validation image (check validation.split / validation.concept)");
  torch::NoGradGuard no_grad;
  std::map<std::string, std::pair<double, int>> sums;
  double total = 0;
  std::size_t counted = 0;
  for (std::size_t i = 0; i < set.validation.size(); ++i) {
    const TrainingExample& example = set.validation[i];
    if (bad && bad->left_out(example.image_path)) continue;
    double loss = 0;
    try {
      loss = example_loss(model, store, cache, example, i, config, schedule, device);
    } catch (const BadImageError& e) {
      if (!bad) throw;
      bad->handle(e);  // throws under "stop"
      continue;
    }
    ++counted;
    total += loss;
    auto& sum = sums[set.concept_names.at(example.concept_index)];
    sum.first += loss;
    sum.second += 1;
  }
  ValidationResult r;
  if (counted == 0)
    throw Error("validation: every validation image was left out as unusable; fix or replace "
                "them, or turn validation off");
  r.loss = total / static_cast<double>(counted);
  for (const auto& [name, sum] : sums) r.per_concept[name] = sum.first / sum.second;
  return r;
}

}  // namespace lathe
