// Building a training batch from its planned position (see the header).
#include "train/data/training_batch.h"

#include "train/data/caption_processing.h"
#include "train/model/compute_device.h"
#include "train/config/train_config.h"
#include "train/data/training_image.h"

namespace lathe {

torch::Tensor example_latent(BaseModel& model, LatentStore& store, const TrainingExample& example,
                             const ImageView& view, torch::Device device) {
  auto encode = [&]() {
    torch::NoGradGuard no_grad;
    torch::Tensor pixels = load_training_image(example.image_path, example.assignment, view);
    torch::Tensor image = pixels.unsqueeze(0).to(device);
    return model.vae->encode_scaled(image).squeeze(0).to(torch::kCPU, torch::kFloat32);
  };
  return to_device_async(store.get(example.image_path, example.assignment, view, encode), device);
}

SizeConditioning size_conditioning(const TrainingExample& example, const ImageView& view) {
  const CropLTRB& box = example.assignment.ltrb;
  SizeConditioning s;
  s.original_height = example.image_height;
  s.original_width = example.image_width;
  s.crop_top = static_cast<int>(box.top);
  s.crop_left = view.flipped ? static_cast<int>(example.assignment.bucket.width - box.right)
                             : static_cast<int>(box.left);
  s.target_height = example.assignment.bucket.height;
  s.target_width = example.assignment.bucket.width;
  return s;
}

TrainingBatch prepare_batch(BaseModel& model, LatentStore& store,
                            const std::vector<TrainingExample>& examples, const PlannedBatch& batch,
                            const DataConfig& data, std::uint64_t seed, std::int64_t epoch,
                            std::int64_t batch_index, torch::Device device, BadImages* bad) {
  const CaptionOptions captions = caption_options(data);
  TrainingBatch b;
  std::vector<torch::Tensor> latents;
  std::vector<float> weights;
  for (std::size_t slot = 0; slot < batch.examples.size(); ++slot) {
    const TrainingExample& example = examples.at(batch.examples[slot]);
    if (bad && bad->left_out(example.image_path)) continue;
    SeededRng rng(mix_seed(seed, {static_cast<std::uint64_t>(epoch),
                                  static_cast<std::uint64_t>(batch_index), slot}));
    const ImageView view = choose_image_view(example.assignment, data.crop, data.flip, rng);
    try {
      latents.push_back(example_latent(model, store, example, view, device));
    } catch (const BadImageError& e) {
      if (!bad) throw;
      bad->handle(e);  // throws under "stop"
      continue;
    }
    b.captions.push_back(process_caption(example.caption, captions, rng));
    b.sizes.push_back(size_conditioning(example, view));
    weights.push_back(static_cast<float>(example.loss_weight));
    b.concepts.push_back(example.concept_index);
  }
  if (latents.empty()) return b;  // every image of the batch was left out
  b.latents = torch::stack(latents);
  b.loss_weights = to_device_async(torch::tensor(weights), device);
  return b;
}

}  // namespace lathe
