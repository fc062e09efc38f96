// Baking a kohya-format LoRA into a base checkpoint (`lathe lora merge`): every LoRA module is
// mapped back to the base tensor it adapts (the reverse of kohya's names: SD 1.x / 2.x UNet
// modules carry diffusers names, mapped through models/key_maps.h to the checkpoint's LDM
// keys; SDXL UNet modules carry LDM names; lora_te / lora_te1 / lora_te2 the Hugging Face CLIP
// names, which may sit in a fused OpenCLIP q/k/v tensor), W += scale * (alpha / rank) * up @
// down is added in fp32 and stored back in the base tensor's dtype, and every other tensor and
// the metadata are copied byte for byte into a new single-file checkpoint, written atomically.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>

namespace lathe {

struct LoRAMergeReport {
  std::string family;                        // the base checkpoint's family ("SD 1.x", ...)
  std::size_t modules = 0;                   // LoRA modules merged
  std::map<std::string, std::size_t> parts;  // "unet" / "te" / "te1" / "te2" -> modules
  std::size_t tensors_changed = 0;           // base tensors written with a LoRA added
  std::size_t tensors_copied = 0;            // base tensors copied unchanged
};

// Merges `lora` into `base` (a single-file .safetensors checkpoint) with strength `scale` and
// writes `out` (which must not be `base`). Throws lathe::Error, writing nothing, when the base
// is not a single file, the LoRA is not kohya LoRA / LoCon, any LoRA module has no base tensor
// (listing the first unmatched modules and saying how many match; another model family is named
// only when the LoRA's own names, metadata or text-encoder depth point to one), or a module's
// shape does not fit its base tensor.
LoRAMergeReport merge_lora(const std::filesystem::path& base, const std::filesystem::path& lora,
                           const std::filesystem::path& out, double scale);

}  // namespace lathe
