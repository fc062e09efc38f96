// Samples during training (see training_samples.h): expansion of {activation}, the due check,
// and rendering one image to PNG bytes.
#include "train/loop/training_samples.h"

#include <fmt/format.h>

#include <torch/torch.h>

#include <algorithm>

#include "common/error.h"
#include "dataset/activation_tag.h"
#include "dataset/dataset.h"
#include "sample/png_parameters.h"
#include "sample/png_text.h"
#include "sample/prompt_file.h"
#include "train/config/train_config.h"

namespace lathe {

namespace {

constexpr const char* kActivation = "{activation}";

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// The request of one prompt line: [sample]'s values, then the line's own options.
ImageRequest request_for(const SampleConfig& s, const std::string& line, const std::string& where, int width,
                         int height, int clip_skip, std::uint64_t seed) {
  const PromptSpec spec = parse_prompt_line(line, where);
  ImageRequest r;
  r.prompt = spec.prompt;
  r.negative = spec.negative.value_or(s.negative_prompt);
  r.width = spec.width.value_or(s.width.value_or(width));
  r.height = spec.height.value_or(s.height.value_or(height));
  r.steps = spec.steps.value_or(s.steps);
  r.cfg = spec.cfg.value_or(s.cfg);
  r.sampler = spec.sampler.value_or(s.sampler);
  r.seed = spec.seed.value_or(seed);
  r.clip_skip = clip_skip;
  return r;
}

}  // namespace

std::vector<std::string> concept_activation_tags(const Dataset& dataset) {
  std::vector<std::string> tags;
  for (const Concept& c : dataset.concepts) {
    if (c.is_regularization) continue;
    const ActivationTag tag = resolve_activation_tag(c);
    if (tag.source == ActivationSource::None || tag.tag.empty()) continue;
    if (std::find(tags.begin(), tags.end(), tag.tag) == tags.end()) tags.push_back(tag.tag);
  }
  return tags;
}

std::vector<PlannedSample> plan_samples(const SampleConfig& s, const std::vector<std::string>& activation_tags,
                                        int training_width, int training_height, int clip_skip) {
  std::vector<PlannedSample> out;
  for (std::size_t i = 0; i < s.prompts.size(); ++i) {
    const std::string& line = s.prompts[i];
    const std::string key = s.prompts_file ? fmt::format("sample.prompts_file ({}, prompt {})",
                                                         s.prompts_file->string(), i + 1)
                                           : fmt::format("sample.prompts[{}]", i + 1);
    std::vector<std::string> lines;
    if (line.find(kActivation) == std::string::npos) {
      lines.push_back(line);
    } else {
      if (activation_tags.empty())
        throw Error(fmt::format("{}: uses {} but no training concept has an activation tag; set "
                                "activation_tag in [[concepts]] (or start the captions with one)",
                                key, kActivation));
      for (const std::string& tag : activation_tags) lines.push_back(replace_all(line, kActivation, tag));
    }
    for (const std::string& expanded : lines) {
      PlannedSample p;
      p.index = static_cast<int>(out.size());
      p.line = expanded;
      p.request = request_for(s, expanded, key, training_width, training_height, clip_skip,
                              s.seed + static_cast<std::uint64_t>(p.index));
      out.push_back(std::move(p));
    }
  }
  return out;
}

bool samples_due(const SampleConfig& s, std::int64_t step, bool epoch_end, std::int64_t epochs_done) {
  if (!s.enabled()) return false;
  if (s.every_n_steps > 0 && step % s.every_n_steps == 0) return true;
  return epoch_end && s.every_n_epochs > 0 && epochs_done % s.every_n_epochs == 0;
}

std::string render_sample_png(BaseModel& model, const PlannedSample& sample, const RenderOptions& options,
                              const SampleProvenance& provenance) {
  const torch::Tensor latents = render_latents(model, sample.request, options);
  const torch::Tensor image = decode_image(model, latents, options);  // [H, W, 3] uint8
  // The LoRA is the run's, at this step: no file of it exists yet, so it has no hash.
  const LoRAIdentity lora{fmt::format("{}-step{}", provenance.lora, provenance.step), "", 1.0};
  const std::string parameters = a1111_parameters(sample.request, provenance.model, {lora});
  return encode_png(image_mat(image), {{"parameters", parameters}});
}

}  // namespace lathe
