// The [[embeddings]] of a run: installed into the base model before the first step (new vectors
// from their init word, or read from a file), trained as one optimizer group at
// optimizer.embedding_lr (textual inversion alone, or beside the LoRA in pivotal tuning, where
// optimizer.embedding_stop_step freezes them), saved as embedding files and as the LoRA file's
// bundle_emb.* keys, and kept in checkpoints so a resumed run continues bit for bit. Entries
// with train = false are installed frozen: captions use them, nothing changes them.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "embedding/embedding_install.h"
#include "train/optim/optimizers.h"

namespace lathe {

struct BaseModel;
struct TrainConfig;

// One [[embeddings]] entry as installed in the model.
struct RunEmbedding {
  InstalledEmbedding installed;
  bool train = false;
};

// Creates or reads every [[embeddings]] entry and installs it into `model` (already on its
// device). A file's embedding is renamed to the profile's name; `vectors`, when the profile gives
// it, must match the file's. Throws lathe::Error naming the key (embeddings[2].file) and problem.
std::vector<RunEmbedding> install_run_embeddings(BaseModel& model, const TrainConfig& config);

// The vectors that train, as one optimizer group "embeddings" at `lr` (no params when none do).
ParamGroup embedding_param_group(const std::vector<RunEmbedding>& embeddings, double lr);

// Whether the trained vectors still train at the optimizer step that starts after `steps_done`
// steps: always, unless optimizer.embedding_stop_step > 0 and that many steps are done.
bool embeddings_train_at(const TrainConfig& config, std::int64_t steps_done);

// requires_grad on or off for every trained embedding (the stop step, and a resume past it).
void set_run_embeddings_trainable(const std::vector<RunEmbedding>& embeddings, bool trainable);

// "textual inversion: jinxdef 4 vectors x 768 (from \"woman\") at lr 0.005; UNet, text encoder
// and VAE frozen, no LoRA" or the pivotal / frozen equivalents, for the run log.
std::string describe_run_embeddings(const std::vector<RunEmbedding>& embeddings, const TrainConfig& config);

// A trained embedding's file: its vectors now, with step, epoch and base model in the metadata,
// written atomically to run_dir / relative. Returns `relative`.
std::filesystem::path save_run_embedding(const RunEmbedding& e, const std::filesystem::path& run_dir,
                                         const std::filesystem::path& relative, std::int64_t step,
                                         std::int64_t epoch, const std::string& base_model);

// The LoRA file's bundle_emb.<name>.* tensors of every trained embedding (pivotal tuning).
std::vector<std::pair<std::string, torch::Tensor>> run_embedding_bundle(const std::vector<RunEmbedding>& embeddings,
                                                                        std::int64_t step, std::int64_t epoch,
                                                                        const std::string& base_model);

// The trained vectors for a checkpoint ("<name>.<encoder index>", fp32 CPU copies), and back:
// restore copies them into the installed tensors; throws lathe::Error naming `source` when one
// is missing or has another shape.
std::map<std::string, torch::Tensor> run_embedding_state(const std::vector<RunEmbedding>& embeddings);
void restore_run_embedding_state(const std::vector<RunEmbedding>& embeddings,
                                 const std::map<std::string, torch::Tensor>& state, const std::string& source);

}  // namespace lathe
