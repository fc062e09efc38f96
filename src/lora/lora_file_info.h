// What a kohya-format LoRA file holds, read from its header only (no tensor data): the modules
// by part (unet / te / te1 / te2), each with rank, alpha, linear or conv and kernel, the dtypes,
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
  std::vector<std::int64_t> down_shape, up_shape;
};

struct LoRAFileInfo {
  std::vector<LoRAModuleInfo> modules;       // sorted by name
  std::map<std::string, std::size_t> parts;  // part -> module count
  std::map<std::string, std::size_t> dtypes; // "F16" -> tensor count
  std::vector<std::string> other_keys;       // keys that are not <module>.lora_down/up.weight/alpha
  std::map<std::string, std::string> metadata;
};

// Reads a LoRA file's structure. Throws lathe::Error naming the file when it holds no LoRA
// modules, or a module lacks lora_down / lora_up, or their ranks disagree.
LoRAFileInfo read_lora_file_info(const SafetensorsFile& file);

// SHA-256 of the file's bytes after its header: the hash A1111 gives a .safetensors LoRA, and
// what sshs_model_hash holds when the tensors are those the file was saved with
// (io/model_hashes.h). Reads every tensor once.
std::string lora_tensor_sha256(const SafetensorsFile& file);

// The part of a kohya name ("lora_te1_..." -> "te1"), or "" when it has no known prefix.
std::string lora_part_of(const std::string& name);

}  // namespace lathe
