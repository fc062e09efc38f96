// A run's sample images arranged for viewing: one row per sampling point (the step the images
// were rendered at, with its epoch), one column per prompt of the profile's [sample] list, so
// the same prompt can be followed down the rows as the LoRA trains. Built from list_samples
// (sample_files.h); the TUI's samples view and the run page draw it and nothing else.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "runs/metrics_log.h"
#include "runs/sample_files.h"

namespace lathe {

struct SampleRow {
  std::int64_t step = 0;
  int epoch = 0;
  std::vector<std::optional<SampleFile>> cells;  // by prompt index; nullopt: not rendered
};

struct SampleTable {
  int columns = 0;              // highest prompt index + 1 over all rows
  std::vector<SampleRow> rows;  // oldest step first

  bool empty() const { return rows.empty(); }
  // The image at (row, column), or nullptr when out of range or not rendered.
  const SampleFile* at(int row, int column) const;
};

// Groups samples by step; a step and prompt with several seeds keeps the lowest seed (the
// trainer renders one seed per prompt; a hand-made folder may hold more).
SampleTable make_sample_table(const std::vector<SampleFile>& samples);

// The images of the newest row (what the run page shows), in prompt order.
std::vector<SampleFile> newest_samples(const SampleTable& table);

// "epoch 2, step 250" ("start" for images rendered before the first step).
std::string sample_row_label(const SampleRow& row);

// The prompt an image was rendered from, read from its PNG's `parameters` chunk (A1111's
// format, as the trainer writes it) without the <lora:...> tags A1111 adds; "" when the file
// has no such chunk or cannot be read. Reads the file: call it once per column, not per frame.
std::string sample_prompt(const std::filesystem::path& png);

// The prompt of each column, from the newest image of that column ("" where unknown).
std::vector<std::string> column_prompts(const SampleTable& table);

// The smoothed training loss logged at the last step record at or before `step` (a row's
// label: how far training had come when its images were rendered); nullopt before any.
std::optional<double> smoothed_loss_at(const RunMetrics& metrics, std::int64_t step);

}  // namespace lathe
