// What a kohya-format LoRA file holds, read from its header only (no tensor data): the modules
// by part (unet / te / te1 / te2), each with its type (LoRA / LoCon, LyCORIS LoHa or LoKr, with
// or without DoRA), rank, alpha, linear or conv and kernel, the dtypes,
// the keys that are not LoRA module keys, and the metadata. `lathe lora inspect` prints it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace lathe {

struct LoRAModuleInfo {
  std::string name;   // "lora_unet_..._to_q"
  std::string part;   // "unet", "te", "te1", "te2"
  std::int64_t rank = 0;
  std::optional<double> alpha;  // absent in pre-alpha files (alpha = rank)
  bool conv = false;
  std::int64_t kernel = 1;      // conv kernel size (1 for Linear)
  std::vector<std::int64_t> down_shape, up_shape;  // LoRA / LoCon; LoHa: hada_w1_b, hada_w1_a
  std::string algo = "lora";    // "lora" (LoRA / LoCon), "loha", "lokr": told by the keys
  bool dora = false;            // has a dora_scale
  // Every tensor of the module by suffix ("lora_down.weight", "hada_w1_a", "lokr_w2",
  // "dora_scale", "alpha") -> shape.
  std::map<std::string, std::vector<std::int64_t>> shapes;
};

struct LoRAFileInfo {
  std::vector<LoRAModuleInfo> modules;       // sorted by name
  std::map<std::string, std::size_t> parts;  // part -> module count
  std::map<std::string, std::size_t> dtypes; // "F16" -> tensor count
  std::vector<std::string> other_keys;       // keys that are no module's known tensor
  std::map<std::string, std::string> metadata;
};

// Reads a LoRA file's structure. Throws lathe::Error naming the file when it holds no LoRA
// modules, or a module lacks one of its type's tensors (lora_up, hada_w2_b, lokr_w2 ...), or
// their ranks disagree.
LoRAFileInfo read_lora_file_info(const SafetensorsFile& file);

// SHA-256 of the file's bytes after its header: the hash A1111 gives a .safetensors LoRA, and
// what sshs_model_hash holds when the tensors are those the file was saved with
// (io/model_hashes.h). Reads every tensor once.
std::string lora_tensor_sha256(const SafetensorsFile& file);

// "LoRA", "LoCon" (a LoRA module on a 3x3 conv), "LoHa", "LoKr", with " + DoRA" when the
// module has a dora_scale.
std::string network_type_label(const LoRAModuleInfo& m);

// The part of a kohya name ("lora_te1_..." -> "te1"), or "" when it has no known prefix.
std::string lora_part_of(const std::string& name);

}  // namespace lathe
