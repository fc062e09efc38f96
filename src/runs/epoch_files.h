// The LoRA files a run saved at epoch ends (epochs/<name>-e0003.safetensors), in epoch order,
// each with the losses metrics.jsonl recorded for its epoch: what the epoch grid renders one
// row per, labelled as `lathe runs best` would rank them. Step saves (-s000120) and the final
// file without a number are not epochs and are left out.
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

#include "runs/metrics_log.h"

namespace lathe {

struct EpochFile {
  int epoch = 0;
  std::filesystem::path path;             // full path
  std::optional<double> training_loss;    // mean training loss over the epoch
  std::optional<double> validation_loss;  // when the run validates
};

// The epoch number of "<name>-e0003.safetensors" (any name; more digits past 9999), or nullopt.
std::optional<int> epoch_of_file_name(const std::filesystem::path& file);

// Every epoch file in run_dir/epochs/, sorted by epoch, losses from `metrics`. An absent
// folder gives an empty list.
std::vector<EpochFile> list_epoch_files(const std::filesystem::path& run_dir,
                                        const RunMetrics& metrics);

}  // namespace lathe
