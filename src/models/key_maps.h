// Two-way key maps between the checkpoint layouts people have and Lathe's canonical module
// names (the names named_parameters() yields): UNet and VAE use the original LDM names
// without prefix, the CLIP text encoders use the Hugging Face names. Table-driven, as
// stable-diffusion.cpp's name_conversion does: each layout's structure (levels, layers per
// block) is read from the keys, a table of module-path pairs is built from it, and a key is
// converted by its longest matching prefix, so the same table serves both directions.
// Torch-free: shape handling (fused q/k/v rows, transposes, 1x1 convs) is described here and
// done by tensor_io.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lathe {

// Pairs of dotted module paths in two layouts ("a" and "b"). A key converts through the row
// with the longest prefix that ends on a '.' boundary; the rest of the key is kept.
class NameTable {
 public:
  // Adds a row. When several a-paths share one b-path (legacy names), the first added is the
  // one b_to_a() returns.
  void add(const std::string& a, const std::string& b);
  std::optional<std::string> a_to_b(const std::string& key) const;
  std::optional<std::string> b_to_a(const std::string& key) const;
  std::size_t size() const { return a_to_b_.size(); }

 private:
  static std::optional<std::string> convert(const std::map<std::string, std::string>& rows,
                                            const std::string& key);
  std::map<std::string, std::string> a_to_b_, b_to_a_;
};

// The structure a UNet key map depends on.
struct UNetTopology {
  int levels = 0;            // down (and up) blocks
  int layers_per_block = 0;  // resnets per down block; up blocks have one more
  std::vector<bool> up_attention;  // per up block: has transformers (moves its upsampler index)
};

// Keys are component-relative: diffusers `down_blocks.0...`, LDM `input_blocks.1.0...`.
UNetTopology unet_topology_from_diffusers(const std::vector<std::string>& keys);
UNetTopology unet_topology_from_ldm(const std::vector<std::string>& keys);
NameTable unet_name_table(const UNetTopology& t);  // a = diffusers, b = LDM

// VAE: a = diffusers (modern names first, legacy query/key/value/proj_attn accepted), b = LDM.
// `levels` is the number of encoder down blocks (decoder levels are numbered in reverse in LDM).
int vae_levels_from_diffusers(const std::vector<std::string>& keys);
int vae_levels_from_ldm(const std::vector<std::string>& keys);
NameTable vae_name_table(int levels);
// True for the LDM mid-attention projections stored as 1x1 convs ([C, C, 1, 1]) that diffusers
// stores as Linear ([C, C]); LDM key without prefix.
bool vae_is_conv_attention_weight(const std::string& ldm_key);

// OpenCLIP text-tower names (under `cond_stage_model.model.` in SD 2.x, `conditioner.
// embedders.1.model.` in SDXL) against Hugging Face CLIP names. One OpenCLIP tensor can hold
// three HF tensors (attn.in_proj_weight = q, k, v stacked along rows), and text_projection
// is stored transposed ([in, out]) against HF's Linear weight ([out, in]).
struct ClipKeyPart {
  std::string key;
  int qkv_part = -1;        // 0, 1, 2: rows [part*n/3, (part+1)*n/3) of the fused tensor
  bool transposed = false;  // the two layouts store this tensor transposed
};
// HF names an OpenCLIP key holds, in q, k, v order for fused tensors; nullopt when unknown.
std::optional<std::vector<ClipKeyPart>> openclip_to_hf(const std::string& key);
// The OpenCLIP tensor holding an HF key (and which rows); nullopt when unknown.
std::optional<ClipKeyPart> hf_to_openclip(const std::string& key);
// OpenCLIP tensors no Lathe module uses (logit_scale, attn_mask).
bool openclip_key_is_unused(const std::string& key);

// The EMA copy of an LDM UNet weight in a non-pruned single file: LitEma registers each
// parameter of the LDM `model` wrapper as a buffer named without its dots, so
// `input_blocks.1.1.norm.weight` (under `model.diffusion_model.`) is stored as
// `model_ema.diffusion_modelinput_blocks11normweight`. `unet_key` is without prefix.
std::string ldm_ema_key(const std::string& unet_key);

// HF CLIP as stored under `cond_stage_model.transformer.` by old transformers versions, with no
// `text_model.` level: returns the modern name (unchanged when already modern).
std::string hf_clip_modern_name(const std::string& key);

}  // namespace lathe
