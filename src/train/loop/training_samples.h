// Samples during training ([sample] in the profile): the prompts expanded for the run's
// concepts, when they are due, and one image rendered with the training LoRA attached, as a
// PNG carrying its generation parameters. The trainer calls these between optimizer steps
// inside a SamplingStateGuard, so rendering changes nothing that training reads, and hands the
// PNG to the run layer, which writes it to samples/ (runs/sample_files.h names it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sample/png_parameters.h"
#include "sample/text_to_image.h"

namespace lathe {

struct Dataset;
struct SampleConfig;

// One image to render at every sampling point.
struct PlannedSample {
  int index = 0;         // in the expanded list: the file name's prompt index
  std::string line;      // the prompt line after {activation} was replaced (messages, metrics)
  ImageRequest request;  // [sample] values with the line's own options (--n, --w, ...) over them
};

// The activation tags of the dataset's training concepts (regularisation concepts left out):
// the profile's activation_tag, else the one inferred from the captions; unique, in concept
// order.
std::vector<std::string> concept_activation_tags(const Dataset& dataset);

// [sample]'s prompt lines with "{activation}" replaced: a line holding it gives one prompt per
// tag (in the tags' order), others one prompt. Each prompt's seed is sample.seed + its index
// unless the line sets --d. Width and height default to `training_width` x `training_height`.
// Throws lathe::Error naming sample.prompts when a line uses {activation} and no concept has
// an activation tag, or when a line does not parse.
std::vector<PlannedSample> plan_samples(const SampleConfig& sample, const std::vector<std::string>& activation_tags,
                                        int training_width, int training_height, int clip_skip);

// Whether samples are due after optimizer step `step`. `epoch_end`: that step ended epoch
// `epochs_done` (1-based count of finished epochs). A step both ends an epoch and is a multiple
// of every_n_steps renders once.
bool samples_due(const SampleConfig& sample, std::int64_t step, bool epoch_end, std::int64_t epochs_done);

// What the PNG's parameters name beside the request.
struct SampleProvenance {
  ModelIdentity model;  // the base model (name, A1111 short hash when known)
  std::string lora;     // the training LoRA's name (saving.name)
  std::int64_t step = 0;
};

// Renders `sample` to a PNG file's bytes whose `parameters` text chunk holds its generation
// parameters in A1111's format. Throws lathe::Error (or c10::Error from the model) when
// rendering fails.
std::string render_sample_png(BaseModel& model, const PlannedSample& sample, const RenderOptions& options,
                              const SampleProvenance& provenance);

}  // namespace lathe
