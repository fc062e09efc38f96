// The training loop's public face, used by the run layer (src/runs, `lathe train`) and tests.
// A Trainer owns one training session: the base model with the LoRA network injected, the
// optimizer and LR schedule, the data (TrainingSet, caches) and the position (optimizer step,
// epoch, batch index). It reports through callbacks carrying plain snapshots and never writes
// status or metrics files itself: that is the run layer's job. It does write the files that
// are its own results: epoch LoRA files and resumable checkpoints under the run directory.
// Sample images ([sample]) are rendered between steps and handed on as PNG bytes; the run
// layer writes them to samples/. Rendering restores everything training reads, so a run with
// samples ends with the same LoRA as one without.
//
// Determinism: everything random in a step is seeded from (seed, step) or (seed, epoch, batch,
// slot), so a run resumed from a checkpoint produces bit-identical LoRA tensors to one that was
// never interrupted (same machine, same device).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lathe {

struct TrainConfig;

// One sample image rendered between steps: the run layer writes it to samples/ and records it.
struct SampleImage {
  int prompt_index = 0;      // in the run's expanded prompt list
  std::uint64_t seed = 0;
  std::string prompt;        // the prompt line ({activation} replaced, inline options kept)
  std::int64_t width = 0, height = 0;
  std::int64_t epochs_done = 0;  // finished epochs when it was rendered (0 before the first)
  std::string png;           // the PNG file's bytes, with its A1111 parameters chunk
};

// One snapshot the trainer hands to on_progress.
struct TrainProgress {
  enum class Kind {
    Started,     // model loaded, caches ready; totals known
    Step,        // one optimizer step done (every step; the run layer decides what to log)
    EpochEnd,    // an epoch finished (epoch_loss set; saved_file set when it saved one)
    Validation,  // validation loss computed (validation_loss / validation_per_concept set)
    Saved,       // an epoch-style LoRA file or a checkpoint was written (saved_file set)
    Message,     // a line for the log (message set)
    Sample,      // a sample image was rendered ([sample] in the profile; sample set)
  };
  Kind kind = Kind::Message;
  std::int64_t step = 0;            // optimizer steps done so far
  std::int64_t total_steps = 0;
  std::int64_t epoch = 0;           // 1-based epoch the step belongs to
  std::int64_t total_epochs = 0;
  std::int64_t batch_in_epoch = 0;  // batches done in this epoch
  std::int64_t batches_per_epoch = 0;
  double loss = 0;                  // this step's training loss (mean over its micro-batches)
  double lr = 0;                    // UNet learning rate after the step
  double seconds = 0;               // wall seconds of this step (of the image, for Sample)
  bool skipped = false;             // fp16 overflow: the step made no update (loss_scale backed off)
  std::optional<double> loss_scale;  // fp16 dynamic loss scale after the step
  std::optional<std::int64_t> peak_memory_bytes;  // GPU memory peak of the step (CUDA only)
  std::string device;               // the training device ("cpu", "cuda:0"); set on Started
  std::optional<double> epoch_loss;
  std::optional<double> validation_loss;
  std::map<std::string, double> validation_per_concept;
  std::filesystem::path saved_file;  // relative to the run directory
  std::string message;
  std::optional<SampleImage> sample;
};

// What the run layer asks for between optimizer steps.
enum class TrainRequest { Continue, Stop, SaveNow };

struct TrainCallbacks {
  std::function<void(const TrainProgress&)> on_progress;
  // Called between optimizer steps; may block (pause) and return the next request. Stop: the
  // trainer writes a checkpoint and an epoch-style LoRA file, then run() returns with
  // stopped = true. SaveNow: it writes both and goes on.
  std::function<TrainRequest()> between_steps;
  // Called after each micro-batch's backward, inside the step, with the trainable tensors (their
  // gradients hold that micro-batch's contribution); for tests that inject faults (an overflowed
  // gradient, an out-of-memory error mid-step).
  std::function<void(const std::vector<torch::Tensor>& trainable)> after_micro_batch;
};

struct TrainResult {
  bool stopped = false;               // ended by a Stop request, not by reaching the end
  std::int64_t steps = 0;
  std::int64_t epochs = 0;            // completed epochs
  std::filesystem::path final_file;   // the last LoRA file written (relative to the run dir)
  std::vector<std::filesystem::path> epoch_files;  // every epoch file still on disk
};

// Names of what the trainer writes under the run directory.
// epochs/<name>-e0003.safetensors, epochs/<name>-s000120.safetensors (step / save-now saves),
// epochs/<name>.safetensors (final), checkpoints/step-00000120/ (complete when it holds DONE).
std::string epoch_file_name(const std::string& name, std::int64_t epoch);
std::string step_file_name(const std::string& name, std::int64_t step);
std::string checkpoint_dir_name(std::int64_t step);

// The newest complete checkpoint folder of a run (one with its DONE marker), if any.
std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& run_dir);

struct BaseModel;

class Trainer {
 public:
  // Builds everything: scans the dataset, loads (or builds the tiny random) base model, injects
  // the LoRA network, prepares caches. Throws lathe::Error naming what failed.
  Trainer(const TrainConfig& config, std::filesystem::path run_dir, TrainCallbacks callbacks);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Restores LoRA weights, optimizer state, schedule position and data position from a
  // checkpoint folder written by this trainer (same profile); no generator state is needed,
  // since every draw is seeded from its step or sample. Throws lathe::Error when the folder is
  // incomplete or belongs to another profile.
  void resume_from(const std::filesystem::path& checkpoint_dir);

  // Trains to the end (or until a Stop request). Throws lathe::Error when the loss becomes NaN
  // or infinite ("step 42: loss is nan; the last good checkpoint is checkpoints/step-...");
  // files already written are kept.
  TrainResult run();

  // Writes a checkpoint of the current state now (also used by Stop / SaveNow); returns its
  // folder. Keeps the newest `keep` complete checkpoints.
  std::filesystem::path save_checkpoint();

  std::int64_t step() const;
  std::int64_t total_steps() const;
  // The base model as training leaves it (with any [[embeddings]] installed): for tests that
  // check what training did and did not change.
  const BaseModel& base_model() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace lathe
