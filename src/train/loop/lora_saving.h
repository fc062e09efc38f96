// The LoRA files a run leaves for users: epochs/<name>-e0003.safetensors at epoch ends,
// epochs/<name>-s000120.safetensors for step and save-now saves, epochs/<name>.safetensors at
// the end, each in kohya's format with the ss_* and modelspec.* metadata (filled here from the
// profile, the training set and the base model, whose file is hashed once when the run starts)
// and the file's own sshs_* hashes, at saving.precision. keep_last prunes old epoch files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "lora/lora_metadata.h"
#include "lora/lora_network.h"

namespace lathe {

struct TrainConfig;
struct TrainingSet;
struct BaseModel;

// Everything ss_* says about this run except the position (epoch, steps), which the caller
// sets per file.
LoRATrainingInfo make_training_info(const TrainConfig& config, const TrainingSet& set,
                                    const BaseModel& model, std::int64_t batches_per_epoch,
                                    std::int64_t total_steps, std::int64_t total_epochs);

// The metadata of a LoRA file holding `tensors` (as they will be written): kohya_metadata, then
// the sshs_model_hash / sshs_legacy_hash of those tensors with the ss_* keys (io/model_hashes.h).
std::map<std::string, std::string> lora_file_metadata(const LoRAOptions& options, const LoRATrainingInfo& info,
                                                      const std::vector<TensorToWrite>& tensors);

// Writes the network to run_dir/relative at config.saving.precision, with the metadata above and
// ss_training_finished_at set to now. `bundled` (pivotal tuning's bundle_emb.<name>.* tensors)
// are written beside the LoRA's, at the same precision, all sorted by name.
void save_lora_file(const LoRANetwork& network, const std::filesystem::path& run_dir,
                    const std::filesystem::path& relative, const TrainConfig& config,
                    const LoRATrainingInfo& info,
                    const std::vector<std::pair<std::string, torch::Tensor>>& bundled = {});

// The epochs/<name>-eNNNN files under run_dir beyond the newest `keep_last` are deleted (0 keeps
// all); returns every LoRA file left in epochs/ (relative to run_dir, sorted).
std::vector<std::filesystem::path> prune_epoch_files(const std::filesystem::path& run_dir,
                                                     const std::string& name, std::int64_t keep_last);

// The name files are saved under: saving.name, else the profile file's stem, else "lora".
std::string output_name(const TrainConfig& config);

}  // namespace lathe
