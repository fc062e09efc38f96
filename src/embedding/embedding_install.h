// Embeddings installed in a BaseModel for training, validation and sampling. The model's
// tokenizer learns each name: wherever the name stands as a word in a caption (see
// embedding_words.h), the caption gets the embedding's own token ids, one per vector, in order,
// past the vocabulary (vocab_size, vocab_size + 1, ...). Each text encoder looks those ids up in
// rows kept beside its token embedding (CLIPTextModelImpl::extra_token_rows), one tensor per
// embedding; the vocabulary's token embedding is never changed and stays frozen. Captions
// without any installed name encode exactly as before.
//
// Training an embedding = optimizing InstalledEmbedding::vectors (requires_grad on when
// installed trainable). Install after the model is on its device; the rows follow the token
// embedding's dtype in the forward pass (the tensors themselves stay float32).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "embedding/embedding.h"

namespace lathe {

struct BaseModel;

struct InstalledEmbedding {
  std::string name;
  std::vector<long> token_ids;  // the ids the name becomes, one per vector (same in every encoder)
  // One [vectors, width] float32 tensor per text encoder, on the encoders' device: the very
  // tensors the encoders read, so an optimizer given these trains the embedding.
  std::vector<torch::Tensor> vectors;
  Embedding metadata;  // what it was installed from (its `vectors` are left empty)
};

// Shared by the model's tokenizer and the install functions; BaseModel::embeddings.
struct EmbeddingTable {
  std::vector<InstalledEmbedding> entries;  // install order
  std::int64_t vocab_size = 0;              // the first new id
  std::int64_t next_id() const;             // the id the next installed vector gets
};

// Installs `e` (its vectors are copied): the name must pass check_embedding_name and not be
// installed yet; there must be one set per text encoder, each as wide as its encoder; all
// encoders must share one vocabulary size. `trainable` turns requires_grad on for its vectors.
// Throws lathe::Error naming the embedding and the mismatch ("768 wide, the SDXL encoder 2 is
// 1280 wide"). Returns the installed entry (a copy sharing its tensors).
InstalledEmbedding install_embedding(BaseModel& model, const Embedding& e, bool trainable);

// Installed embeddings in install order; empty when none.
const std::vector<InstalledEmbedding>& installed_embeddings(const BaseModel& model);

// The installed embedding called `name` (valid until the next install); throws lathe::Error
// listing the installed names.
const InstalledEmbedding& installed_embedding(const BaseModel& model, const std::string& name);

// requires_grad on or off for every vector set of `e` (pivotal tuning's stop step).
void set_embedding_trainable(const InstalledEmbedding& e, bool trainable);

// A detached float32 CPU copy of the installed vectors with the installed metadata, ready for
// write_embedding_file / embedding_bundle_tensors (set step, epoch, base_model as needed).
Embedding embedding_snapshot(const InstalledEmbedding& e);

// A new embedding `name` of `vectors` rows per encoder, each row the token embedding of one of
// `init_word`'s tokens, cycled over the rows (init word "a b", 3 vectors: a, b, a). The init
// word is tokenized by the model's tokenizer (an installed name copies that embedding). Family,
// base model and init word are filled in. Throws lathe::Error when the init word has no tokens
// or `vectors` is outside 1..kMaxEmbeddingVectors.
Embedding embedding_from_init_word(BaseModel& model, const std::string& name,
                                   std::int64_t vectors, const std::string& init_word);

}  // namespace lathe
