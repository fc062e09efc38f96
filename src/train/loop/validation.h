// Validation loss: the same diffusion loss as training, on the validation examples (a held-out
// split or a validation concept), at fixed timesteps (validation.timesteps) with fixed noise
// (seeded from validation.seed, the example and the timestep), the centred crop, no flip, the
// caption as written and the LoRA's dropouts off. Nothing random is left, so two calls on the
// same weights give the same number and epochs compare fairly; raw training loss, dominated by
// the random timestep of each step, does not.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "train/data/bad_images.h"
#include "train/model/base_model.h"
#include "train/data/latent_cache.h"
#include "diffusion/noise_schedule.h"
#include "train/data/text_encoder_cache.h"
#include "train/data/training_set.h"

namespace lathe {

struct TrainConfig;

struct ValidationResult {
  double loss = 0;                            // mean over every example and timestep
  std::map<std::string, double> per_concept;  // concept name -> mean over its examples
};

// Call with the LoRA network in eval mode (the caller switches it back). Throws lathe::Error
// when there is no validation example.
// An image that cannot be used goes to `bad` as in prepare_batch: the run stops, or the example
// is left out of the mean (an error when every one is).
ValidationResult validation_loss(BaseModel& model, LatentStore& store, TextEncoderCache& cache,
                                 const TrainingSet& set, const TrainConfig& config,
                                 const NoiseSchedule& schedule, torch::Device device,
                                 BadImages* bad = nullptr);

}  // namespace lathe
