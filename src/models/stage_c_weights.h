// A Stable Cascade Stage C prior on disk, opened for loading: Stability's single file
// (`stage_c.safetensors`, `stage_c_lite.safetensors`, bf16 or f32 as shipped) or a diffusers
// prior folder (`prior/` or `prior_lite/` with config.json and diffusion_pytorch_model*.
// safetensors, possibly sharded behind an index json; the pipeline folder holding `prior/`
// works too). Every tensor is named by Lathe's canonical Stage C key, which is Stability's
// single-file key with the attention split as ComfyUI splits it:
//
//   Stability  ...attention.attn.in_proj_weight/bias (rows q, k, v)  -> attn.to_q/to_k/to_v
//   diffusers  ...attention.to_q|to_k|to_v                          -> attention.attn.to_q|to_k|to_v
//   diffusers  ...attention.to_out.0                                -> attention.attn.out_proj
//
// every other key being the same in all three. LoRA module names follow the canonical names
// (`lora_prior_unet_down_blocks_1_2_attention_attn_out_proj`). Torch-free.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "models/checkpoint.h"
#include "models/stage_c_config.h"

namespace lathe {

enum class StageCLayout { Stability, Diffusers };
const char* stage_c_layout_name(StageCLayout l);  // "Stability single file", "diffusers prior"

struct StageCOpenOptions {
  // Attention heads per level; empty: config.json (diffusers folder, or a StableCascadeUNet
  // config.json beside a single file), else width / 64.
  std::vector<std::int64_t> heads;
};

struct StageCWeights {
  std::filesystem::path path;                     // what the user gave
  StageCLayout layout = StageCLayout::Stability;
  std::vector<std::unique_ptr<SafetensorsFile>> files;  // one, or the shards
  std::optional<std::filesystem::path> config_json;     // used for heads / dropout
  std::string heads_source;                       // "config.json", "stated", "width / 64"
  StageCConfig config;
  std::map<std::string, TensorRef> tensors;       // canonical key -> stored tensor (or a q/k/v third)

  std::uint64_t parameters() const;               // values across the canonical tensors
  std::map<std::string, std::size_t> stored_dtypes() const;  // dtype name -> stored tensor count
  std::uint64_t stored_bytes() const;
};

// The canonical key of a diffusers key (the rename rule above); other keys unchanged.
std::string stage_c_key_from_diffusers(const std::string& key);

// Whether `path` (file or folder) holds a Stage C prior, from headers only; nullopt when it
// does not look like one (so SD detection can go on). Errors reading a file that does look
// like Stage C propagate.
std::optional<std::filesystem::path> find_stage_c_prior(const std::filesystem::path& path);

// Opens a Stage C prior. Throws lathe::Error naming the file and the problem: not Stage C,
// missing shards, a fused in_proj whose rows are not 3 x width, keys of another model.
StageCWeights open_stage_c(const std::filesystem::path& path, const StageCOpenOptions& options = {});

// Compares the stored canonical keys with the names a module expects; throws lathe::Error
// naming the file and the missing / unexpected keys (the first few and the counts).
void check_stage_c_keys(const StageCWeights& weights, const std::vector<std::string>& expected);

}  // namespace lathe
