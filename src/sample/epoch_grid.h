// `lathe sample --grid RUN`: the epochs x prompts contact sheet of a run. The base model loads
// once; each epoch's LoRA file is attached in turn (through LoRANetwork, as `lathe sample`
// and training attach it) and detached before the next; every prompt renders with the same
// seed in every row, so a column shows one prompt as the LoRA learns. The cells are composed
// by contact_sheet.h and written as one PNG, atomically, with A1111's `parameters` chunk of
// the first cell (as A1111 does for its grids).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "sample/sample_job.h"

namespace lathe {

struct GridRow {
  std::filesystem::path lora;  // the epoch's LoRA file, attached at strength 1
  std::string label;           // "epoch 3\nloss 0.1042"
};

struct EpochGridJob {
  // The model, prompts (one column each; the job's count is ignored), generation defaults,
  // device and dtype. Its LoRAs, if any, stay attached under every row's.
  SampleJob sampling;
  std::vector<GridRow> rows;
  std::filesystem::path out;  // the PNG
};

// A column's label: the prompt on one line.
std::string grid_column_label(const ImageRequest& request);

// Renders every cell and writes the sheet; returns the requests of the columns (with the sizes
// and seeds used). Throws lathe::Error for a model, LoRA or prompt problem before rendering,
// and lathe::Interrupted when on_step asks to stop (nothing is written then).
std::vector<ImageRequest> run_epoch_grid(const EpochGridJob& job, const SampleCallbacks& callbacks);

}  // namespace lathe
