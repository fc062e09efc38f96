// `lathe sample --grid RUN` (see sample_grid.h): the run's epoch files become rows labelled
// with their losses, the prompts (flags, else the run's [sample] section) columns; the model,
// clip skip and sampling defaults come from the run's frozen profile.
#include "cli/sample_grid.h"

#include <fmt/format.h>
#include <unistd.h>

#include <iostream>

#include "common/error.h"
#include "common/terminal_text.h"
#include "dataset/profile_concepts.h"
#include "io/atomic_file.h"
#include "runs/epoch_files.h"
#include "runs/metrics_log.h"
#include "runs/run_dir.h"
#include "sample/epoch_grid.h"
#include "train/config/train_config.h"
#include "train/loop/training_samples.h"

namespace fs = std::filesystem;

namespace lathe::cli {
namespace {

// "epoch 3" and its loss: validation loss when the run validates, else the epoch's mean
// training loss (as `lathe runs best` ranks them).
std::string row_label(const EpochFile& f) {
  std::string label = fmt::format("epoch {}", f.epoch);
  if (f.validation_loss) label += fmt::format("\nval loss {:.4f}", *f.validation_loss);
  if (f.training_loss) label += fmt::format("\nloss {:.4f}", *f.training_loss);
  return label;
}

// The run's [sample] prompts as the trainer renders them ({activation} replaced, seed + index,
// the section's sampler, steps, guidance and size), so the grid's last row matches the run's
// last samples.
std::vector<PromptSpec> run_sample_prompts(const TrainConfig& config, const RunPaths& run) {
  if (!config.sample.enabled())
    throw UsageError(fmt::format(
        "run {} has no [sample] prompts in its profile: give --prompt TEXT or --prompts FILE",
        terminal_safe(run.run_id())));
  std::vector<std::string> tags;
  for (const std::string& line : config.sample.prompts)
    if (line.find("{activation}") != std::string::npos) {
      tags = concept_activation_tags(scan_profile_dataset(config.dataset, config.dataset.options));
      break;
    }
  std::vector<PromptSpec> prompts;
  for (const PlannedSample& s :
       plan_samples(config.sample, tags, config.training.width, config.training.height, config.model.clip_skip)) {
    PromptSpec p;
    p.prompt = s.request.prompt;
    p.negative = s.request.negative;
    p.width = s.request.width;
    p.height = s.request.height;
    p.steps = s.request.steps;
    p.cfg = s.request.cfg;
    p.seed = s.request.seed;
    p.sampler = s.request.sampler;
    p.where = fmt::format("{} [sample] prompt {}", run.profile().string(), s.index + 1);
    prompts.push_back(std::move(p));
  }
  return prompts;
}

}  // namespace

std::vector<Option> sample_grid_options() {
  return {{"grid", "", "RUN instead of MODEL: an epochs x prompts contact sheet of the run's epoch files"}};
}

int run_sample_grid(const Args& args, SampleJob job, const SampleCallbacks& callbacks) {
  const RunPaths run = find_run("runs", args.positional(0));
  const TrainConfig config = parse_train_config(read_file(run.profile(), 16u << 20), run.profile());
  job.model = config.model.path;
  job.defaults.clip_skip = config.model.clip_skip;
  if (!args.has("prompt") && !args.has("prompts")) job.prompts = run_sample_prompts(config, run);
  if (!args.has("seed") && !args.has("prompt") && !args.has("prompts")) job.defaults.seed = config.sample.seed;

  EpochGridJob grid;
  grid.sampling = std::move(job);
  for (const EpochFile& f : list_epoch_files(run.dir, read_metrics(run.metrics())))
    grid.rows.push_back({f.path, row_label(f)});
  if (grid.rows.empty())
    throw Error(fmt::format("run {} has no epoch files in {} yet (one is saved at each epoch end)",
                            terminal_safe(run.run_id()), terminal_safe(run.epochs().string())));
  grid.out = args.value_or("out", run.run_id() + "-grid.png");
  if (fs::path(grid.out).extension() != ".png")
    throw UsageError(fmt::format("--out {}: with --grid, --out names the PNG file (e.g. grid.png)",
                                 terminal_safe(grid.out.string())));

  SampleCallbacks quiet = callbacks;
  quiet.on_image = nullptr;  // cells are not files; the sheet is written once at the end
  std::vector<ImageRequest> columns = run_epoch_grid(grid, quiet);
  if (::isatty(STDERR_FILENO) == 1) std::cerr << "\r\x1b[K";  // the progress line
  std::cout << fmt::format("wrote {}: {} epochs x {} prompts, seeds {}\n", terminal_safe(grid.out.string()),
                           grid.rows.size(), columns.size(), [&] {
                             std::string seeds;
                             for (const ImageRequest& r : columns)
                               seeds += (seeds.empty() ? "" : ", ") + std::to_string(r.seed);
                             return seeds;
                           }());
  return kExitOk;
}

}  // namespace lathe::cli
