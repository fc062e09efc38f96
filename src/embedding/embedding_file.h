// Embedding files as A1111, Forge and ComfyUI load them (the layouts, as their loaders read
// them, are written down in README "Embedding files"):
//   SD 1.x / SD 2.x: one tensor `emb_params`, float32 [vectors, width] (kohya-ss sd-scripts'
//                    name; the web UIs take the single tensor of a one-tensor file);
//   SDXL:            `clip_l` float32 [vectors, 768] and `clip_g` float32 [vectors, 1280];
//   metadata:        name, vectors, model_family, base_model, init_word, step, epoch (strings).
// Reading also takes what those loaders accept in safetensors files: any one-tensor file
// (`emb_params`, diffusers' `<token>` [width] or [vectors, width], `string_to_param.*`,
// `clip_h`), the clip_l + clip_g pair, and embeddings bundled in a LoRA file
// (`bundle_emb.<name>.string_to_param.*`, `bundle_emb.<name>.clip_l` / `.clip_g`). Pickles
// (.pt, .bin, .ckpt) are refused as for checkpoints: loading one can run arbitrary code.
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "embedding/embedding.h"

namespace lathe {

inline constexpr const char* kEmbParamsKey = "emb_params";  // SD 1.x / 2.x
inline constexpr const char* kClipLKey = "clip_l";          // SDXL encoder 1
inline constexpr const char* kClipGKey = "clip_g";          // SDXL encoder 2

// Reads an embedding file. Its name is the file name without extension (the word A1111 and
// Forge users type); the header's `name`, when there is one, is kept in `header`. A LoRA file
// with exactly one bundled embedding reads as that embedding (its bundled name). Throws
// lathe::Error naming the file and the problem (pickle, unknown layout, bad shapes, NaN).
Embedding read_embedding_file(const std::filesystem::path& path);

// Every embedding bundled in a LoRA file (`bundle_emb.<name>.*`), in name order; empty when
// it bundles none. Throws lathe::Error naming the file and key on malformed bundles.
std::vector<Embedding> read_bundled_embeddings(const std::filesystem::path& path);

// The tensors and header an embedding file holds (float32, contiguous, CPU): SDXL (two sets)
// `clip_g`, `clip_l`; otherwise `emb_params`. Throws lathe::Error on an invalid embedding.
std::vector<std::pair<std::string, torch::Tensor>> embedding_file_tensors(const Embedding& e);
std::map<std::string, std::string> embedding_file_metadata(const Embedding& e);

// Writes the file atomically (check_embedding_name and check_embedding_vectors first).
void write_embedding_file(const std::filesystem::path& path, const Embedding& e);

// The keys a pivotal-tuning LoRA file carries for `e`, as A1111's and ComfyUI's LoRA loaders
// read them: `bundle_emb.<name>.string_to_param.*` [vectors, width] (one set), or
// `bundle_emb.<name>.clip_l` and `bundle_emb.<name>.clip_g` (SDXL); float32, contiguous, CPU.
std::vector<std::pair<std::string, torch::Tensor>> embedding_bundle_tensors(const Embedding& e);

}  // namespace lathe
