// Resumable training state on disk: checkpoints/step-XXXXXXXX/ under the run directory, holding
//   lora.safetensors       the LoRA network's kohya state in fp32 (exact weights; no tensors
//                          for textual inversion)
//   embeddings.safetensors the trained [[embeddings]] vectors in fp32, "<name>.<encoder>"
//                          (only when embeddings train)
//   optimizer.safetensors  the optimizer's tensors; its type and scalars in the metadata
//   state.json             position (step, epoch, batch), the profile hash, running epoch loss,
//                          the fp16 loss scale
//   DONE                   written last: a folder without it is incomplete and never read
// A checkpoint is written into step-XXXXXXXX.tmp/ and renamed when complete (llm.c's
// DONE-marker-last idea), so a crash at any moment leaves the previous checkpoint intact.
// Noise, timesteps, dropout and data order are all seeded from the position, so no generator
// state needs saving. A complete checkpoint can still be damaged afterwards (a disk error, a
// file cut short by a full disk or a copy): resuming takes the newest one whose files read
// (find_resume_point), and the worker sets damaged ones aside as step-XXXXXXXX.damaged.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "train/optim/loss_scaler.h"
#include "train/optim/optimizers.h"

namespace lathe {

// Where the run is, between optimizer steps.
struct TrainPosition {
  std::int64_t step = 0;     // optimizer steps done
  std::int64_t epoch = 0;    // 0-based epoch the next batch belongs to
  std::int64_t batch = 0;    // index of the next batch within that epoch's order
  double epoch_loss_sum = 0;  // sum of this epoch's step losses so far
  std::int64_t epoch_loss_steps = 0;
};

struct CheckpointContents {
  TrainPosition position;
  std::string profile_hash;
  std::map<std::string, torch::Tensor> lora;  // kohya names, fp32
  std::map<std::string, torch::Tensor> embeddings;  // "<name>.<encoder index>", fp32; may be empty
  OptimizerState optimizer;
  LossScalerState loss_scaler;  // fp16 dynamic loss scaling (defaults when the run has none)
};

// Writes `contents` as checkpoint_dir_name(step) under run_dir/checkpoints, then removes the
// oldest complete checkpoints beyond `keep`. Returns the folder.
std::filesystem::path write_checkpoint(const std::filesystem::path& run_dir,
                                       const CheckpointContents& contents, int keep);

// Reads a complete checkpoint folder. Throws lathe::Error naming the folder and what is
// missing or malformed.
CheckpointContents read_checkpoint(const std::filesystem::path& dir);

// Complete checkpoint folders of a run (those holding DONE), newest first.
std::vector<std::filesystem::path> complete_checkpoints(const std::filesystem::path& run_dir);

// Why resuming from a complete checkpoint folder would fail on its files (state.json missing,
// malformed or disagreeing with DONE; a tensor file missing, cut short or with a damaged
// header; no optimizer type), or empty when they read. Reads state.json and the safetensors
// headers, not the tensor data, so it is quick on big checkpoints. Sets `*step` when it reads.
std::string checkpoint_defect(const std::filesystem::path& dir, std::int64_t* step = nullptr);

// Where `lathe train --resume` continues a run.
struct ResumePoint {
  std::optional<std::filesystem::path> checkpoint;  // the newest complete checkpoint that reads
  std::int64_t step = 0;                            // its step (0: none, training starts over)
  // Newer complete checkpoints that do not read, newest first, each with why.
  std::vector<std::pair<std::filesystem::path, std::string>> damaged;
};
ResumePoint find_resume_point(const std::filesystem::path& run_dir);

// Renames a damaged checkpoint folder to step-XXXXXXXX.damaged (or .damaged-2, ...) so it is
// neither read nor counted among the kept checkpoints, and nothing of it is deleted. Returns
// the new folder; throws lathe::Error when it cannot be renamed.
std::filesystem::path set_checkpoint_aside(const std::filesystem::path& dir);

// A stable hash of the rendered profile (16 hex digits).
std::string profile_hash(const std::string& rendered_profile);

}  // namespace lathe
