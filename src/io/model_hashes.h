// The hashes Stable Diffusion tools put on model files, computed the way they compute them, so
// a LoRA Lathe writes is recognised by the same hash as kohya's (A1111 takes a LoRA's hash from
// sshs_model_hash, civitai matches files by them):
//   legacy hash   first 8 hex digits of SHA-256 over the 64 KiB at offset 1 MiB (fewer bytes
//                 when the file is shorter; "e3b0c442", the hash of nothing, under 1 MiB).
//                 A1111's old "model hash"; kohya's model_hash() -> ss_sd_model_hash.
//   file SHA-256  SHA-256 of the whole file (A1111's new hash; kohya's calculate_sha256()
//                 -> ss_new_sd_model_hash). See common/sha256.h.
//   addnet hashes kohya's precalculate_safetensors_hashes(): the file as the Python safetensors
//                 library would write it with only the ss_* metadata, then
//                 sshs_model_hash  = SHA-256 of everything after the header (the tensor bytes),
//                 sshs_legacy_hash = the legacy hash of that whole serialization.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "io/safetensors.h"

namespace lathe {

// The legacy hash of bytes already in memory.
std::string legacy_model_hash(std::string_view file_bytes);

// The legacy hash of a file (reads 64 KiB). Throws lathe::Error naming the file.
std::string legacy_model_hash_of_file(const std::filesystem::path& path);

struct AddnetHashes {
  std::string model_hash;   // sshs_model_hash: 64 hex digits
  std::string legacy_hash;  // sshs_legacy_hash: 8 hex digits
};

// The addnet hashes of `tensors` with `metadata` (only its keys starting with "ss_" count).
// Tensors are laid out as safetensors does (by dtype, widest first, then by name), whatever
// their order here; Lathe's LoRA files, all one dtype and sorted by name, have that layout, so
// model_hash is also the SHA-256 of the tensor bytes of the file Lathe writes.
AddnetHashes addnet_hashes(const std::vector<TensorToWrite>& tensors,
                           const std::map<std::string, std::string>& metadata);

}  // namespace lathe
