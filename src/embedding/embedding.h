// An embedding (textual inversion): a word users type in captions and prompts ("jinxdef") and
// the vectors that stand in for it in each text encoder's input, in place of the pieces the
// CLIP tokenizer would split the word into. A1111, Forge and ComfyUI load them from the files
// embedding_file.h reads and writes; Lathe trains them (src/train) and uses them in the text
// encoders (embedding_install.h).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/model_family.h"

namespace lathe {

// Vectors per embedding: at least one, at most the 75 caption tokens of one 77-token row.
inline constexpr std::int64_t kMaxEmbeddingVectors = 75;

struct Embedding {
  std::string name;  // the word it answers to in captions and prompts
  // One [vectors, width] float32 CPU tensor per text encoder, in BaseModel::text_encoders order:
  // SD 1.x one (768 wide), SD 2.x one (1024), SDXL two (clip_l 768, then clip_g 1280).
  std::vector<torch::Tensor> vectors;

  // Metadata, written to the file's safetensors header and read back (unknown: empty / -1).
  std::optional<ModelFamily> family;  // the family it was trained for
  std::string base_model;             // the checkpoint it was trained on (its file name)
  std::string init_word;              // the word whose tokens started the vectors
  std::int64_t step = -1;             // optimizer steps trained
  std::int64_t epoch = -1;
  std::map<std::string, std::string> header;  // every metadata entry as read from a file

  // Rows of each set (the same in every set); 0 for an empty embedding.
  std::int64_t num_vectors() const;
};

// The family an embedding's shapes fit: one set 768 wide: SD 1.x; one set 1024 wide: SD 2.x;
// two sets 768 + 1280: SDXL; anything else (tiny test models, other models): nullopt.
std::optional<ModelFamily> family_of_shapes(const Embedding& e);

// Throws lathe::Error (prefixed with `source`) unless `name` can stand as one word in captions
// and in the `bundle_emb.<name>.*` keys of a LoRA file: 1 to 64 ASCII letters, digits, '_' and
// '-', starting and ending with a letter or digit, with at least one letter.
void check_embedding_name(const std::string& name, const std::string& source);

// Throws lathe::Error (prefixed with `source`) unless every set is a 2-D floating tensor with
// 1..kMaxEmbeddingVectors rows, all sets have the same row count, and every value is finite.
void check_embedding_vectors(const Embedding& e, const std::string& source);

}  // namespace lathe
