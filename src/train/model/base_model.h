// The model a LoRA is trained on, loaded once per run and never changed by training (the LoRA
// network attaches to it): the UNet, the text encoder(s), the VAE, the tokenizer, the family
// and prediction type, and the names that identify it in the log, the latent cache and the
// saved file's metadata. Built from [model]: a single-file checkpoint or diffusers folder, or
// "tiny-random:sd15|sd2|sdxl", the real block structure with tiny widths and weights from a
// fixed seed (tests and the demo; labelled as such everywhere it shows).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/clip_text.h"
#include "models/model_family.h"
#include "models/unet.h"
#include "models/vae.h"
#include "train/model/caption_tokenizer.h"
#include "diffusion/noise_schedule.h"

namespace lathe {

struct ModelConfig;
struct EmbeddingTable;  // embedding/embedding_install.h

struct BaseModel {
  ModelFamily family = ModelFamily::SD1;
  Prediction prediction = Prediction::Epsilon;
  UNet unet{nullptr};
  std::vector<CLIPTextModel> text_encoders;  // SD 1.x / 2.x: one; SDXL: two
  VAE vae{nullptr};
  std::unique_ptr<CaptionTokenizer> tokenizer;
  std::string name;         // the checkpoint's file or folder name, or "tiny-random:sd15"
  std::string vae_identity;  // names the VAE's weights for the latent cache key
  std::string tiny_random;  // "" for real checkpoints; else "tiny-random sd15 (seed 1234)"
  std::vector<std::string> notes;  // lines for the run log (what was loaded, from where)
  // Embeddings installed in the tokenizer and text encoders (embedding/embedding_install.h);
  // null until the first is installed.
  std::shared_ptr<EmbeddingTable> embeddings;
};

// The fixed seed of tiny random weights (the same base model in every run).
inline constexpr std::uint64_t kTinyRandomSeed = 1234;

// Loads (or builds) the base model in fp32 on `device`, every module in eval mode with
// requires_grad off. Throws lathe::Error naming the path and the problem; a real checkpoint
// without a tokenizer (no diffusers tokenizer/ folder, no model.tokenizer, no
// $LATHE_CLIP_VOCAB) fails with a message naming model.tokenizer. `gradient_checkpointing`
// builds the UNet with block recomputation (training.gradient_checkpointing).
BaseModel load_base_model(const ModelConfig& config, torch::Device device,
                          bool gradient_checkpointing = false);

// The tiny random model of `family` (see the header comment); tokenizes with the CLIP vocabulary
// at `tokenizer` when given, else with the word-hash tokenizer.
BaseModel build_tiny_random_model(ModelFamily family,
                                  const std::optional<std::filesystem::path>& tokenizer,
                                  bool gradient_checkpointing = false);

// Replaces the VAE's weights with a standalone VAE file ([model] vae): LDM names (with or
// without `first_stage_model.`) or diffusers names. Throws lathe::Error naming the file.
void load_vae_file(VAE& vae, const std::filesystem::path& path);

// The configuration of a standalone VAE file, from its weights' shapes (detect_vae_config) and
// the family's `scaling_factor`. Throws lathe::Error naming the file.
VAEConfig vae_file_config(const std::filesystem::path& path, double scaling_factor);

}  // namespace lathe
