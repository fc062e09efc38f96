// The training loop (trainer.h). The Trainer's State is split by lifetime: the user's choices
// (TrainConfig, const), the data (TrainingSet, latent store), the model (the frozen base and the
// LoRA network on it) and the session (optimizer, schedules, position). run() reads top to
// bottom like llm.c's main: for each optimizer step, validate when due, build the batches,
// forward, backward, update, schedule, report, save when due, and ask the run layer what next.
// Details live in named helpers: training_batch (data), train_step (one micro-batch's loss),
// validation, lora_saving (epoch files) and checkpoint_state (resumable state).
#include "train/trainer.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "common/error.h"
#include "lora/lora_network.h"
#include "train/base_model.h"
#include "train/checkpoint_state.h"
#include "train/epoch_order.h"
#include "train/gradients.h"
#include "train/latent_cache.h"
#include "train/lora_saving.h"
#include "train/lr_schedule.h"
#include "train/optimizers.h"
#include "train/precision.h"
#include "train/text_encoder_cache.h"
#include "train/train_config.h"
#include "train/train_step.h"
#include "train/training_batch.h"
#include "train/training_set.h"
#include "train/validation.h"

namespace lathe {
namespace fs = std::filesystem;

std::string epoch_file_name(const std::string& name, std::int64_t epoch) {
  return fmt::format("{}-e{:04d}.safetensors", name, epoch);
}

std::string step_file_name(const std::string& name, std::int64_t step) {
  return fmt::format("{}-s{:06d}.safetensors", name, step);
}

std::string checkpoint_dir_name(std::int64_t step) { return fmt::format("step-{:08d}", step); }

namespace {

// Without saving.every_n_steps, a checkpoint is also written once this many steps have passed
// since the last one, so a killed run with long epochs loses little.
constexpr std::int64_t kDefaultCheckpointSteps = 50;
constexpr int kKeepCheckpoints = 2;

torch::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  std::optional<torch::Device> device;
  try {
    device = torch::Device(name);
  } catch (const c10::Error&) {
    throw Error(fmt::format("training.device \"{}\" is not a device; use auto, cpu, cuda or cuda:N", name));
  }
  if (device->is_cuda() && !torch::cuda::is_available())
    throw Error(fmt::format("training.device \"{}\": this build or machine has no CUDA; use cpu or auto", name));
  return *device;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

struct Trainer::State {
  // The user's choices.
  const TrainConfig config;
  const fs::path run_dir;
  TrainCallbacks callbacks;
  const torch::Device device;
  const std::string name;
  std::string hash;
  // The data.
  TrainingSet set;
  std::unique_ptr<LatentStore> latents;
  std::unique_ptr<TextEncoderCache> text_cache;
  // The model: the frozen base and the network attached to it.
  BaseModel model;
  LoRANetwork network{nullptr};
  bool train_text_encoder = false;
  // The session.
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<LrSchedule> schedule;
  std::unique_ptr<NoiseSchedule> noise;
  LoRATrainingInfo info;
  std::int64_t batches_per_epoch = 0, steps_per_epoch = 0, total_steps = 0, total_epochs = 0;
  TrainPosition pos;
  std::vector<PlannedBatch> order;  // of epoch order_epoch
  std::int64_t order_epoch = -1;
  std::optional<fs::path> last_checkpoint;  // relative to run_dir
  std::int64_t last_checkpoint_step = 0;
  fs::path final_file;

  State(const TrainConfig& c, fs::path dir, TrainCallbacks cb)
      : config(c), run_dir(std::move(dir)), callbacks(std::move(cb)),
        device(resolve_device(c.training.device)), name(output_name(c)) {}

  // --- reporting ---
  TrainProgress snapshot(TrainProgress::Kind kind) const {
    TrainProgress p;
    p.kind = kind;
    p.step = pos.step;
    p.total_steps = total_steps;
    p.epoch = std::min(pos.epoch + 1, total_epochs);
    p.total_epochs = total_epochs;
    p.batch_in_epoch = pos.batch;
    p.batches_per_epoch = batches_per_epoch;
    p.lr = optimizer ? optimizer->groups().front().lr : 0.0;
    return p;
  }
  void emit(const TrainProgress& p) const {
    if (callbacks.on_progress) callbacks.on_progress(p);
  }
  void message(const std::string& text) const {
    TrainProgress p = snapshot(TrainProgress::Kind::Message);
    p.message = text;
    emit(p);
  }

  // --- building ---
  void build() {
    message(fmt::format("device: {}", device.str()));
    set = build_training_set(config);
    for (const auto& w : set.warnings) message(w);
    model = load_base_model(config.model, device, config.training.gradient_checkpointing);
    for (const auto& note : model.notes) message(note);
    check_mixed_precision(config.training.mixed_precision, device);
    if (config.model.dtype != WeightDType::FP32) {
      store_base_weights(*model.unet, config.model.dtype);
      for (auto& te : model.text_encoders) store_base_weights(*te, config.model.dtype);
      store_base_weights(*model.vae, config.model.dtype);
      message(fmt::format("base weights stored in {} (LoRA and optimizer state in fp32)",
                          weight_dtype_name(config.model.dtype)));
    }
    latents = std::make_unique<LatentStore>(config.data.cache_latents, config.output.dir / ".latent_cache",
                                            model.vae_identity);

    torch::manual_seed(config.training.seed);  // LoRA's kaiming init draws from the global generator
    network = LoRANetwork(model.unet, model.text_encoders, model.family, to_lora_options(config.network));
    network->train();
    std::vector<ParamGroup> groups;
    if (auto p = network->unet_parameters(); !p.empty())
      groups.push_back(make_param_group("unet", p, config.optimizer.effective_unet_lr()));
    if (auto p = network->text_encoder_parameters(); !p.empty()) {
      groups.push_back(make_param_group("text_encoder", p, config.optimizer.effective_text_encoder_lr()));
      train_text_encoder = true;
    }
    if (groups.empty())
      throw Error("network: nothing to train; set network.train_unet or network.train_text_encoder");
    optimizer = make_optimizer(config.optimizer.config, std::move(groups));
    std::string cache_warning;
    text_cache = std::make_unique<TextEncoderCache>(text_encoder_cache_plan(config, &cache_warning) &&
                                                    !train_text_encoder);
    if (!cache_warning.empty()) message(cache_warning);
    message(fmt::format("LoRA: {} modules, rank {}, alpha {}; trainable tensors: UNet {}, text encoder {}",
                        network->targets().size(), config.network.rank, config.network.alpha,
                        network->unet_parameters().size(), network->text_encoder_parameters().size()));

    batches_per_epoch = set.plan.total_batches;
    const std::int64_t accumulation = config.training.gradient_accumulation_steps;
    steps_per_epoch = (batches_per_epoch + accumulation - 1) / accumulation;
    if (steps_per_epoch < 1) throw Error(fmt::format("dataset.path {}: no batch to train", set.dataset.root.string()));
    total_steps = config.training.max_steps > 0 ? config.training.max_steps
                                                : config.training.epochs * steps_per_epoch;
    total_epochs = (total_steps + steps_per_epoch - 1) / steps_per_epoch;
    check_total_steps(config, total_steps);
    schedule = std::make_unique<LrSchedule>(config.schedule, total_steps);
    noise = std::make_unique<NoiseSchedule>(config.noise_schedule, device);
    info = make_training_info(config, set, model, batches_per_epoch, total_steps, total_epochs);
    hash = profile_hash(render_profile_toml(config));
    message(fmt::format("{} training images ({} batches per epoch, {} steps per epoch), {} validation "
                        "images; {} steps over {} epochs",
                        set.train.size(), batches_per_epoch, steps_per_epoch, set.validation.size(),
                        total_steps, total_epochs));
  }

  // --- one optimizer step ---
  const std::vector<PlannedBatch>& epoch_order() {
    if (order_epoch != pos.epoch) {
      order = epoch_batches(set.plan, config.training.seed, pos.epoch);
      order_epoch = pos.epoch;
    }
    return order;
  }

  [[noreturn]] void loss_not_finite(double loss) const {
    const std::string last = last_checkpoint ? fmt::format("the last good checkpoint is {}", last_checkpoint->string())
                                             : std::string("no checkpoint was written yet");
    throw Error(fmt::format("step {}: loss is {}; {} (lower optimizer.lr, or check the data and "
                            "training.mixed_precision)",
                            pos.step + 1, std::isnan(loss) ? "nan" : "infinite", last));
  }

  // Accumulates up to gradient_accumulation_steps micro-batches (fewer at an epoch's end, as
  // accelerate does), then clips, schedules and steps. Returns the mean micro-batch loss.
  double optimizer_step() {
    const auto& batches = epoch_order();
    const GradAccumulator accumulator(config.training.gradient_accumulation_steps);
    double sum = 0;
    std::int64_t micro = 0;
    optimizer->zero_grad();
    for (; micro < accumulator.steps() && pos.batch < static_cast<std::int64_t>(batches.size()); ++micro) {
      TrainingBatch batch = prepare_batch(model, *latents, set.train, batches[pos.batch], config.data,
                                          config.training.seed, pos.epoch, pos.batch, device);
      torch::Tensor loss = micro_batch_loss(model, *text_cache, batch, config, *noise, pos.step, micro,
                                            train_text_encoder, device);
      const double value = loss.item<double>();
      if (!std::isfinite(value)) loss_not_finite(value);
      (loss * accumulator.loss_scale()).backward();
      sum += value;
      ++pos.batch;
    }
    clip_grad_norm(optimizer->all_params(), config.optimizer.max_grad_norm);
    apply_lr_schedule(*optimizer, *schedule, optimizer->steps_taken());
    optimizer->step();
    optimizer->zero_grad();
    ++pos.step;
    return sum / static_cast<double>(micro);
  }

  // --- validation and saving ---
  void validate() {
    network->eval();
    ValidationResult r = validation_loss(model, *latents, *text_cache, set, config, *noise, device);
    network->train();
    TrainProgress p = snapshot(TrainProgress::Kind::Validation);
    p.validation_loss = r.loss;
    p.validation_per_concept = r.per_concept;
    emit(p);
  }

  fs::path save_lora(const fs::path& relative, std::int64_t epoch) {
    LoRATrainingInfo file_info = info;
    file_info.epoch = epoch;
    file_info.steps = pos.step;
    save_lora_file(network, run_dir, relative, config, file_info);
    final_file = relative;
    TrainProgress p = snapshot(TrainProgress::Kind::Saved);
    p.saved_file = relative;
    emit(p);
    return relative;
  }

  fs::path save_step_file() {
    return save_lora(fs::path("epochs") / step_file_name(name, pos.step), pos.epoch);
  }

  fs::path checkpoint() {
    CheckpointContents c;
    c.position = pos;
    c.profile_hash = hash;
    for (auto& [key, tensor] : network->kohya_state(torch::kFloat32)) c.lora[key] = tensor;
    c.optimizer = optimizer->state_dict();
    const fs::path dir = write_checkpoint(run_dir, c, kKeepCheckpoints);
    last_checkpoint = fs::path("checkpoints") / dir.filename();
    last_checkpoint_step = pos.step;
    TrainProgress p = snapshot(TrainProgress::Kind::Saved);
    p.saved_file = *last_checkpoint;
    emit(p);
    return dir;
  }

  bool checkpoint_is_current() const {
    return last_checkpoint && last_checkpoint->filename() == checkpoint_dir_name(pos.step);
  }

  // Epoch end: the epoch's mean loss, validation, the epoch file when due, a checkpoint.
  void finish_epoch() {
    const std::int64_t epoch = pos.epoch + 1;  // 1-based, as users count
    TrainProgress end = snapshot(TrainProgress::Kind::EpochEnd);
    end.epoch = epoch;
    if (pos.epoch_loss_steps > 0) end.epoch_loss = pos.epoch_loss_sum / static_cast<double>(pos.epoch_loss_steps);
    if (config.validation.enabled()) validate();
    const std::int64_t every = config.saving.every_n_epochs;
    if ((every > 0 && epoch % every == 0) || epoch == total_epochs) {
      end.saved_file = save_lora(fs::path("epochs") / epoch_file_name(name, epoch), epoch);
      prune_epoch_files(run_dir, name, config.saving.keep_last);
    }
    pos.epoch += 1;
    pos.batch = 0;
    pos.epoch_loss_sum = 0;
    pos.epoch_loss_steps = 0;
    checkpoint();
    emit(end);
  }

  void after_step_saves() {
    const std::int64_t every = config.saving.every_n_steps;
    if (every > 0 && pos.step % every == 0 && pos.step < total_steps) save_step_file();
    const bool due = every > 0 ? pos.step % every == 0 : pos.step - last_checkpoint_step >= kDefaultCheckpointSteps;
    if (due && !checkpoint_is_current()) checkpoint();
  }
};

Trainer::Trainer(const TrainConfig& config, fs::path run_dir, TrainCallbacks callbacks)
    : state_(std::make_unique<State>(config, std::move(run_dir), std::move(callbacks))) {
  state_->build();
}

Trainer::~Trainer() = default;

void Trainer::resume_from(const fs::path& checkpoint_dir) {
  State& s = *state_;
  CheckpointContents c = read_checkpoint(checkpoint_dir);
  if (c.profile_hash != s.hash)
    throw Error(fmt::format("{}: this checkpoint was written with a different profile (hash {}, this "
                            "profile {}); resume with the run's own profile.toml",
                            checkpoint_dir.string(), c.profile_hash, s.hash));
  if (c.position.step > s.total_steps)
    throw Error(fmt::format("{}: step {} is past this run's {} steps", checkpoint_dir.string(),
                            c.position.step, s.total_steps));
  s.network->load_state(c.lora, (checkpoint_dir / "lora.safetensors").string());
  s.optimizer->load_state_dict(c.optimizer);
  s.pos = c.position;
  s.last_checkpoint = fs::path("checkpoints") / checkpoint_dir.filename();
  s.last_checkpoint_step = s.pos.step;
  s.message(fmt::format("resumed from {} at step {} (epoch {}, batch {})", checkpoint_dir.string(),
                        s.pos.step, s.pos.epoch + 1, s.pos.batch));
}

TrainResult Trainer::run() {
  State& s = *state_;
  s.emit(s.snapshot(TrainProgress::Kind::Started));
  if (s.pos.step == 0 && s.config.validation.enabled()) s.validate();  // the base model's loss

  TrainResult result;
  while (s.pos.step < s.total_steps) {
    const auto t0 = std::chrono::steady_clock::now();
    const double loss = s.optimizer_step();
    s.pos.epoch_loss_sum += loss;
    s.pos.epoch_loss_steps += 1;
    TrainProgress step = s.snapshot(TrainProgress::Kind::Step);
    step.loss = loss;
    step.seconds = seconds_since(t0);
    s.emit(step);

    if (s.pos.batch >= static_cast<std::int64_t>(s.epoch_order().size())) {
      s.finish_epoch();  // validation, epoch file, checkpoint
    } else {
      const std::int64_t every = s.config.validation.every_n_steps;
      if (s.config.validation.enabled() && every > 0 && s.pos.step % every == 0) s.validate();
      s.after_step_saves();  // step file, checkpoint when due
    }

    if (s.pos.step >= s.total_steps || !s.callbacks.between_steps) continue;  // the end saves below
    const TrainRequest request = s.callbacks.between_steps();
    if (request == TrainRequest::Stop || request == TrainRequest::SaveNow) {
      if (!s.checkpoint_is_current()) s.checkpoint();
      s.save_step_file();
      if (request == TrainRequest::Stop) {
        result.stopped = true;
        break;
      }
    }
  }
  if (!result.stopped) s.save_lora(fs::path("epochs") / (s.name + ".safetensors"), s.pos.epoch);
  result.steps = s.pos.step;
  result.epochs = s.pos.epoch;
  result.final_file = s.final_file;
  result.epoch_files = prune_epoch_files(s.run_dir, s.name, s.config.saving.keep_last);
  return result;
}

fs::path Trainer::save_checkpoint() { return state_->checkpoint(); }

std::int64_t Trainer::step() const { return state_->pos.step; }

std::int64_t Trainer::total_steps() const { return state_->total_steps; }

}  // namespace lathe
