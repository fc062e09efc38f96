// The training loop (trainer.h). The Trainer's State is split by lifetime: the user's choices
// (TrainConfig, const), the data (TrainingSet, latent store), the model (the frozen base and the
// LoRA network on it) and the session (optimizer, schedules, position). run() reads top to
// bottom like llm.c's main: for each optimizer step, build the batches, forward, backward,
// update, schedule, report, validate, sample and save when due, and ask the run layer what next.
// Details live in named helpers: training_batch (data), train_step (one micro-batch's loss),
// validation, lora_saving (epoch files) and checkpoint_state (resumable state).
#include "train/loop/trainer.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <functional>

#include "common/error.h"
#include "lora/lora_network.h"
#include "train/data/bad_images.h"
#include "train/model/base_model.h"
#include "train/loop/checkpoint_state.h"
#include "train/loop/embedding_training.h"
#include "train/model/compute_device.h"
#include "train/data/epoch_order.h"
#include "train/optim/gradients.h"
#include "train/optim/loss_scaler.h"
#include "train/data/latent_cache.h"
#include "train/loop/lora_param_groups.h"
#include "train/loop/lora_saving.h"
#include "train/loop/sampling_state_guard.h"
#include "train/loop/training_samples.h"
#include "train/optim/lr_schedule.h"
#include "train/optim/optimizers.h"
#include "train/model/precision.h"
#include "train/data/text_encoder_cache.h"
#include "train/config/train_config.h"
#include "train/loop/train_step.h"
#include "train/data/training_batch.h"
#include "train/data/training_set.h"
#include "train/loop/validation.h"

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

struct StepOutcome {
  double loss = 0;       // mean micro-batch loss (0 when every micro-batch overflowed)
  bool skipped = false;  // fp16 overflow: no update was made
};

// Without saving.every_n_steps, a checkpoint is also written once this many steps have passed
// since the last one, so a killed run with long epochs loses little.
constexpr std::int64_t kDefaultCheckpointSteps = 50;
constexpr int kKeepCheckpoints = 2;

// The hash a checkpoint carries: the profile keys that decide what is trained, not where the
// run folder is (render_profile_identity), so a moved or copied run resumes. Computed from the
// profile as written, before "auto" is resolved, so the same run resumes on another card.
std::string identity_hash(const TrainConfig& c) { return profile_hash(render_profile_identity(c)); }

// Checkpoints written before the identity hash hashed the whole rendered profile.toml, whose
// header names the file read (the run's own profile.toml): they still match when the run has
// not moved.
std::string legacy_hash(const TrainConfig& c) { return profile_hash(render_profile_toml(c)); }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

struct Trainer::State {
  // The user's choices.
  const TrainConfig config;  // model.dtype and training.mixed_precision resolved for `device`
  const fs::path run_dir;
  TrainCallbacks callbacks;
  const torch::Device device;
  const std::string name;
  const std::string hash, legacy;  // of the profile as written (see identity_hash)
  const std::string precision_line;
  // The data.
  TrainingSet set;
  std::unique_ptr<LatentStore> latents;
  std::unique_ptr<TextEncoderCache> text_cache;
  std::unique_ptr<BadImages> bad_images;  // dataset.on_bad_image for images met mid-run
  // The model: the frozen base and the network attached to it.
  BaseModel model;
  LoRANetwork network{nullptr};  // none for textual inversion
  bool train_text_encoder = false;
  // [[embeddings]] installed in the model; `embeddings_training`: their vectors train this step.
  std::vector<RunEmbedding> embeddings;
  bool embeddings_training = false;
  // The session.
  std::unique_ptr<Optimizer> optimizer;
  LossScaler scaler{false};
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
  double lr_report_factor = 1.0;
  // Samples ([sample]): the expanded prompts (empty when sampling is off) and the base model's
  // name and hash for the images' parameters.
  std::vector<PlannedSample> samples;
  ModelIdentity sample_model;

  State(const TrainConfig& c, fs::path dir, TrainCallbacks cb)
      : config(with_resolved_precision(c, resolve_device(c.training.device))), run_dir(std::move(dir)),
        callbacks(std::move(cb)), device(resolve_device(c.training.device)), name(output_name(c)),
        hash(identity_hash(c)), legacy(legacy_hash(c)), precision_line(describe_precision(c)) {}

  // "precision: base weights auto (bf16 on this machine's cpu), mixed precision no": what the
  // profile asked for and what this device runs, for the log.
  std::string describe_precision(const TrainConfig& asked) const {
    return fmt::format("precision: base weights {}, mixed precision {} (LoRA and optimizer state fp32)",
                       precision_choice_text(to_string(asked.model.dtype), to_string(config.model.dtype), device),
                       precision_choice_text(to_string(asked.training.mixed_precision),
                                             to_string(config.training.mixed_precision), device));
  }

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
    p.lr = optimizer ? optimizer->groups().front().lr * lr_report_factor : 0.0;
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
    configure_backends(device, {config.training.allow_tf32, config.training.deterministic});
    message(device_line());
    message(precision_line);
    set = build_training_set(config);
    for (const auto& w : set.warnings) message(w);
    model = load_base_model(config.model, device, config.training.gradient_checkpointing);
    for (const auto& note : model.notes) message(note);
    if (auto note = precision_note(config.training.mixed_precision, *config.model.dtype, device)) message(*note);
    const WeightDType weights = *config.model.dtype;  // resolved in the constructor
    if (weights != WeightDType::FP32) {
      store_base_weights(*model.unet, weights);
      for (auto& te : model.text_encoders) store_base_weights(*te, weights);
      store_base_weights(*model.vae, weights);
      message(fmt::format("base weights stored in {} (LoRA and optimizer state in fp32)",
                          weight_dtype_name(weights)));
    }
    latents = std::make_unique<LatentStore>(config.data.cache_latents, config.output.dir / ".latent_cache",
                                            model.vae_identity);
    latents->set_pinned_for_device(device.is_cuda());
    bad_images = std::make_unique<BadImages>(config.data.on_bad_image,
                                             [this](const std::string& w) { message(w); });

    embeddings = install_run_embeddings(model, config);  // before the network: its words tokenize from here on
    std::vector<ParamGroup> groups;
    if (!config.textual_inversion()) {
      torch::manual_seed(config.training.seed);  // LoRA's kaiming init draws from the global generator
      network = LoRANetwork(model.unet, model.text_encoders, model.family, to_lora_options(config.network));
      network->train();
      groups = unet_param_groups(*network, config.optimizer.effective_unet_lr());
      // The progress line's lr is the UNet's: the first group's lr over its block weight.
      if (!groups.empty()) lr_report_factor = config.optimizer.effective_unet_lr() / groups.front().base_lr;
      if (auto p = network->text_encoder_parameters(); !p.empty()) {
        groups.push_back(make_param_group("text_encoder", p, config.optimizer.effective_text_encoder_lr()));
        train_text_encoder = true;
      }
    }
    // Textual inversion's only group, pivotal tuning's last: the progress line's lr stays the UNet's.
    if (config.trains_embeddings())
      groups.push_back(embedding_param_group(embeddings, config.optimizer.effective_embedding_lr()));
    if (groups.empty())
      throw Error("network: nothing to train; set network.train_unet or network.train_text_encoder");
    update_embeddings_trainable();
    optimizer = make_optimizer(config.optimizer.config, std::move(groups));
    // fp16 activations (fp16 autocast, or fp16 base weights) give fp16 gradients, which underflow
    // without a loss scale; bf16 and fp32 have the range.
    scaler = LossScaler(config.training.mixed_precision == MixedPrecision::FP16 ||
                        config.model.dtype == WeightDType::FP16);
    if (scaler.enabled()) message(fmt::format("fp16: dynamic loss scaling from {}", scaler.scale()));
    std::string cache_warning;
    // Trained vectors change the text encoders' outputs: those are encoded every step, never cached.
    text_cache = std::make_unique<TextEncoderCache>(text_encoder_cache_plan(config, &cache_warning) &&
                                                    !train_text_encoder && !config.trains_embeddings());
    if (!cache_warning.empty()) message(cache_warning);
    if (network)
      message(fmt::format("LoRA: {} modules, rank {}, alpha {}; trainable tensors: UNet {}, text encoder {}",
                          network->targets().size(), config.network.rank, config.network.alpha,
                          network->unet_parameters().size(), network->text_encoder_parameters().size()));
    if (!embeddings.empty()) message(describe_run_embeddings(embeddings, config));

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
    message(fmt::format("{} training images ({} batches per epoch, {} steps per epoch), {} validation "
                        "images; {} steps over {} epochs",
                        set.train.size(), batches_per_epoch, steps_per_epoch, set.validation.size(),
                        total_steps, total_epochs));
    if (config.sample.enabled()) plan_sampling();
  }

  // The [sample] prompts for this dataset's activation tags; a bad prompt stops the run here,
  // before the first step, rather than at the first sampling point.
  void plan_sampling() {
    samples = plan_samples(config.sample, concept_activation_tags(set.dataset), config.training.width,
                           config.training.height, config.model.clip_skip);
    // As A1111 names the model: a file's stem, a diffusers folder's name; tiny-random as is.
    std::error_code ec;
    const fs::path model_path(config.model.path);
    sample_model.name = !model.tiny_random.empty()            ? config.model.path
                        : fs::is_directory(model_path, ec) ? model_path.filename().string()
                                                           : model_path.stem().string();
    sample_model.hash = info.new_sd_model_hash.substr(0, 10);  // A1111's short hash: SHA-256's first 10
    const SampleConfig& s = config.sample;
    std::string when;
    if (s.at_start) when += "at the start, ";
    if (s.every_n_steps > 0) when += fmt::format("every {} steps, ", s.every_n_steps);
    if (s.every_n_epochs > 0) when += fmt::format("every {} epochs, ", s.every_n_epochs);
    message(fmt::format("samples: {} images {}{} {} steps, CFG {}, to samples/ (sampling time is not "
                        "training time)",
                        samples.size(), when, to_string(s.sampler), s.steps, s.cfg));
  }

  // Pivotal tuning's stop step: the vectors train while fewer than embedding_stop_step steps are
  // done, then keep their values (requires_grad off: no gradient, so no optimizer update and no
  // weight decay). Called before every step and after a resume, so a resumed run agrees.
  void update_embeddings_trainable() {
    const bool now = embeddings_train_at(config, pos.step);
    if (now == embeddings_training) return;
    set_run_embeddings_trainable(embeddings, now);
    embeddings_training = now;
    if (!now && config.optimizer.embedding_stop_step > 0 && pos.step >= config.optimizer.embedding_stop_step)
      message(fmt::format("embeddings frozen after step {} (optimizer.embedding_stop_step); the LoRA trains on",
                          config.optimizer.embedding_stop_step));
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

  std::string device_line() const {
    if (!device.is_cuda()) return fmt::format("device: {}", device.str());
    const DeviceDescription d = describe_device(device);
    return fmt::format("device: {} ({}, {:.1f} GiB, compute {}.{}{}{})", device.str(), d.name,
                       static_cast<double>(d.total_memory) / (1 << 30), d.compute_major, d.compute_minor,
                       d.tf32 && config.training.allow_tf32 ? ", TF32 on" : "",
                       config.training.deterministic ? ", deterministic" : "");
  }

  // Accumulates up to gradient_accumulation_steps micro-batches (fewer at an epoch's end, as
  // accelerate does), then unscales (fp16), clips, schedules and steps. Returns the mean
  // micro-batch loss. An fp16 step whose loss or gradients overflowed is skipped (the scale
  // backs off); the data position still moves on, as accelerate's GradScaler step does.
  StepOutcome optimizer_step() {
    const auto& batches = epoch_order();
    const GradAccumulator accumulator(config.training.gradient_accumulation_steps);
    update_embeddings_trainable();
    // The text encoders run in grad mode when their LoRA or the vectors in their input train.
    const bool text_grad = train_text_encoder || embeddings_training;
    StepOutcome out;
    double sum = 0;
    std::int64_t micro = 0, counted = 0;
    bool finite = true;
    optimizer->zero_grad();
    for (; micro < accumulator.steps() && pos.batch < static_cast<std::int64_t>(batches.size()); ++micro) {
      TrainingBatch batch = prepare_batch(model, *latents, set.train, batches[pos.batch], config.data,
                                          config.training.seed, pos.epoch, pos.batch, device,
                                          bad_images.get());
      if (!batch.latents.defined()) {  // every image of it left out (on_bad_image = "skip")
        ++pos.batch;
        continue;
      }
      torch::Tensor loss = micro_batch_loss(model, *text_cache, batch, config, *noise, pos.step, micro,
                                            text_grad, device);
      const double value = loss.item<double>();
      if (!std::isfinite(value)) {
        if (!scaler.enabled()) loss_not_finite(value);
        finite = false;  // an fp16 overflow: this step is skipped below
      } else {
        scaler.scale_loss(loss * accumulator.loss_scale()).backward();
        sum += value;
        ++counted;
      }
      ++pos.batch;
      if (callbacks.after_micro_batch) callbacks.after_micro_batch(optimizer->all_params());
    }
    if (counted == 0 && finite) {  // no image of this step could be used: no update
      ++pos.step;
      out.skipped = true;
      return out;
    }
    finite = scaler.unscale_and_check(optimizer->all_params()) && finite;
    if (finite) {
      clip_grad_norm(optimizer->all_params(), config.optimizer.max_grad_norm);
      apply_lr_schedule(*optimizer, *schedule, optimizer->steps_taken());
      optimizer->step();
    } else {
      out.skipped = true;
      check_scale_not_collapsed();
    }
    scaler.update(finite);
    optimizer->zero_grad();
    ++pos.step;
    out.loss = counted > 0 ? sum / static_cast<double>(counted) : 0.0;
    return out;
  }

  void check_scale_not_collapsed() const {
    if (scaler.scale() * LossScaler::kBackoffFactor >= LossScaler::kMinScale) return;
    throw Error(fmt::format("step {}: fp16 gradients overflow at every loss scale down to {}; train with "
                            "training.mixed_precision = \"bf16\" (RTX 30xx and newer) or \"no\", or "
                            "lower optimizer.lr",
                            pos.step + 1, scaler.scale()));
  }

  // An out-of-memory error inside a step: the step is dropped (its gradients freed, the data
  // position put back), a checkpoint of the last complete step is written so nothing is lost,
  // and the message says what to lower.
  [[noreturn]] void out_of_memory(const TrainPosition& before, const std::string& what) {
    optimizer->zero_grad();
    pos = before;
    release_cached_memory(device);
    std::string saved;
    try {
      if (!checkpoint_is_current()) checkpoint();
      saved = fmt::format("checkpoint {} holds step {}: `lathe train --resume RUN` continues it once the GPU "
                          "has that memory free; a changed profile starts a new run",
                          last_checkpoint->string(), pos.step);
    } catch (const std::exception& e) {
      saved = last_checkpoint ? fmt::format("writing a checkpoint failed too ({}); {} is the last one",
                                            e.what(), last_checkpoint->string())
                              : fmt::format("writing a checkpoint failed too ({})", e.what());
    }
    throw Error(fmt::format(
        "step {}: out of memory on {} ({}). Lower one of: training.batch_size ({}), training.resolution "
        "({}x{}), or turn on training.gradient_checkpointing{}{}{}; {}",
        pos.step + 1, device.str(), first_line(what), config.training.batch_size, config.training.width,
        config.training.height, config.training.gradient_checkpointing ? " (on already)" : "",
        train_text_encoder ? ", set network.train_text_encoder = false" : "",
        config.training.mixed_precision == MixedPrecision::No ? ", use training.mixed_precision = \"bf16\"" : "",
        saved));
  }

  static std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

  // --- validation and saving ---
  void validate() {
    if (network) network->eval();
    ValidationResult r = validation_loss(model, *latents, *text_cache, set, config, *noise, device,
                                         bad_images.get());
    if (network) network->train();
    TrainProgress p = snapshot(TrainProgress::Kind::Validation);
    p.validation_loss = r.loss;
    p.validation_per_concept = r.per_concept;
    emit(p);
  }

  // --- samples ---
  std::vector<std::shared_ptr<torch::nn::Module>> sampling_modules() const {
    std::vector<std::shared_ptr<torch::nn::Module>> modules = {model.unet.ptr(), model.vae.ptr()};
    if (network) modules.push_back(network.ptr());
    for (const auto& te : model.text_encoders) modules.push_back(te.ptr());
    return modules;
  }

  torch::Dtype sampling_dtype() const {
    switch (config.training.mixed_precision) {
      case MixedPrecision::BF16: return torch::kBFloat16;
      case MixedPrecision::FP16: return torch::kHalf;
      default: return torch::kFloat32;
    }
  }

  // Renders every [sample] prompt with the LoRA as trained so far and hands each PNG to the run
  // layer. Whatever training reads is restored afterwards (SamplingStateGuard; the LoRA's
  // dropouts are off while rendering). A failed image is logged and training goes on: samples
  // are for looking at, never a reason to lose a run.
  void render_samples(std::int64_t epochs_done) {
    const auto round_start = std::chrono::steady_clock::now();
    int rendered = 0;
    {
      SamplingStateGuard guard(sampling_modules(), device);
      if (network) network->eval();
      RenderOptions options;
      options.device = device;
      options.dtype = sampling_dtype();
      const SampleProvenance provenance{sample_model, name, pos.step};
      for (const PlannedSample& planned : samples) {
        const auto t0 = std::chrono::steady_clock::now();
        TrainProgress p = snapshot(TrainProgress::Kind::Sample);
        SampleImage image{planned.index, planned.request.seed, planned.line, planned.request.width,
                          planned.request.height, epochs_done, {}};
        try {
          image.png = render_sample_png(model, planned, options, provenance);
        } catch (const std::exception& e) {  // lathe::Error, c10::Error (out of memory included)
          release_cached_memory(device);
          message(fmt::format("sample {} at step {} was not rendered: {}; training goes on", planned.index,
                              pos.step, first_line(e.what())));
          continue;
        }
        p.seconds = seconds_since(t0);
        p.sample = std::move(image);
        emit(p);
        ++rendered;
      }
    }
    message(fmt::format("samples at step {}: {} of {} images in {:.1f} s (not counted as training time)", pos.step,
                        rendered, samples.size(), seconds_since(round_start)));
  }

  void render_samples_if_due(bool epoch_end) {
    if (!samples.empty() && samples_due(config.sample, pos.step, epoch_end, pos.epoch)) render_samples(pos.epoch);
  }

  // The run's files at this point, each named by `file_name` from its stem: the LoRA file
  // (epochs/<name>..., carrying pivotal tuning's bundle_emb.* keys) and, with
  // saving.embedding_file, each trained embedding as embeddings/<word>...; for textual inversion
  // each trained embedding as epochs/<word>... (the word is the file's stem, which A1111 and Forge
  // make the word users type). Returns the primary file (the LoRA, or the first embedding).
  fs::path save_outputs(const std::function<std::string(const std::string&)>& file_name, std::int64_t epoch) {
    fs::path primary;
    if (config.textual_inversion()) {
      for (const RunEmbedding& e : embeddings) {
        if (!e.train) continue;
        const fs::path relative = fs::path("epochs") / file_name(e.installed.name);
        save_run_embedding(e, run_dir, relative, pos.step, epoch, model.name);
        if (primary.empty()) primary = relative;
      }
    } else {
      LoRATrainingInfo file_info = info;
      file_info.epoch = epoch;
      file_info.steps = pos.step;
      primary = fs::path("epochs") / file_name(name);
      save_lora_file(network, run_dir, primary, config, file_info,
                     run_embedding_bundle(embeddings, pos.step, epoch, model.name));
      if (config.saving.embedding_file)
        for (const RunEmbedding& e : embeddings)
          if (e.train) save_run_embedding(e, run_dir, fs::path("embeddings") / file_name(e.installed.name), pos.step,
                                          epoch, model.name);
    }
    final_file = primary;
    TrainProgress p = snapshot(TrainProgress::Kind::Saved);
    p.saved_file = primary;
    emit(p);
    return primary;
  }

  fs::path save_step_file() {
    const std::int64_t step = pos.step;
    return save_outputs([step](const std::string& stem) { return step_file_name(stem, step); }, pos.epoch);
  }

  // keep_last over the epoch files of every name the run saves under; returns epochs/'s files.
  std::vector<fs::path> prune_outputs() {
    if (!config.textual_inversion()) return prune_epoch_files(run_dir, name, config.saving.keep_last);
    std::vector<fs::path> all;
    for (const RunEmbedding& e : embeddings)
      if (e.train) all = prune_epoch_files(run_dir, e.installed.name, config.saving.keep_last);
    return all;
  }

  fs::path checkpoint() {
    CheckpointContents c;
    c.position = pos;
    c.profile_hash = hash;
    if (network)
      for (auto& [key, tensor] : network->kohya_state(torch::kFloat32)) c.lora[key] = tensor;
    c.embeddings = run_embedding_state(embeddings);
    c.optimizer = optimizer->state_dict();
    c.loss_scaler = scaler.state();
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
      end.saved_file =
          save_outputs([epoch](const std::string& stem) { return epoch_file_name(stem, epoch); }, epoch);
      prune_outputs();
    }
    pos.epoch += 1;
    pos.batch = 0;
    pos.epoch_loss_sum = 0;
    pos.epoch_loss_steps = 0;
    // Before the checkpoint of this step: a run killed after it resumes past these samples,
    // one killed before it renders them again.
    render_samples_if_due(/*epoch_end=*/true);
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
  if (c.profile_hash != s.hash && c.profile_hash != s.legacy)
    throw Error(fmt::format("{}: this checkpoint was written with a different profile (hash {}, this "
                            "profile {}); resume with the run's own profile.toml",
                            checkpoint_dir.string(), c.profile_hash, s.hash));
  if (c.position.step > s.total_steps)
    throw Error(fmt::format("{}: step {} is past this run's {} steps", checkpoint_dir.string(),
                            c.position.step, s.total_steps));
  if (s.network) s.network->load_state(c.lora, (checkpoint_dir / "lora.safetensors").string());
  restore_run_embedding_state(s.embeddings, c.embeddings, (checkpoint_dir / "embeddings.safetensors").string());
  s.optimizer->load_state_dict(c.optimizer);
  s.scaler.restore(c.loss_scaler);
  s.pos = c.position;
  s.last_checkpoint = fs::path("checkpoints") / checkpoint_dir.filename();
  s.last_checkpoint_step = s.pos.step;
  s.update_embeddings_trainable();  // a resume past embedding_stop_step keeps them frozen
  s.message(fmt::format("resumed from {} at step {} (epoch {}, batch {})", checkpoint_dir.string(),
                        s.pos.step, s.pos.epoch + 1, s.pos.batch));
}

TrainResult Trainer::run() {
  State& s = *state_;
  TrainProgress started = s.snapshot(TrainProgress::Kind::Started);
  started.device = s.device.str();
  s.emit(started);
  if (s.pos.step == 0 && s.config.validation.enabled()) s.validate();  // the base model's loss
  if (s.pos.step == 0 && !s.samples.empty() && s.config.sample.at_start) s.render_samples(0);

  TrainResult result;
  while (s.pos.step < s.total_steps) {
    const auto t0 = std::chrono::steady_clock::now();
    reset_peak_memory(s.device);
    const TrainPosition before = s.pos;
    StepOutcome outcome;
    try {
      outcome = s.optimizer_step();
    } catch (const c10::OutOfMemoryError& e) {
      s.out_of_memory(before, e.what_without_backtrace());
    }
    if (!outcome.skipped) {
      s.pos.epoch_loss_sum += outcome.loss;
      s.pos.epoch_loss_steps += 1;
    }
    TrainProgress step = s.snapshot(TrainProgress::Kind::Step);
    step.loss = outcome.loss;
    step.skipped = outcome.skipped;
    step.seconds = seconds_since(t0);
    step.peak_memory_bytes = peak_memory_bytes(s.device);
    if (s.scaler.enabled()) step.loss_scale = s.scaler.scale();
    s.emit(step);

    if (s.pos.batch >= static_cast<std::int64_t>(s.epoch_order().size())) {
      s.finish_epoch();  // validation, epoch file, checkpoint
    } else {
      const std::int64_t every = s.config.validation.every_n_steps;
      if (s.config.validation.enabled() && every > 0 && s.pos.step % every == 0) s.validate();
      s.render_samples_if_due(/*epoch_end=*/false);
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
  // The final file carries the epoch it reached: the one in progress when max_steps ends the
  // run inside it (as kohya's ceil(max_train_steps / steps per epoch)), else the last ended.
  if (!result.stopped)
    s.save_outputs([](const std::string& stem) { return stem + ".safetensors"; },
                   s.pos.epoch + (s.pos.batch > 0 ? 1 : 0));
  result.steps = s.pos.step;
  result.epochs = s.pos.epoch;
  result.final_file = s.final_file;
  result.epoch_files = s.prune_outputs();
  return result;
}

fs::path Trainer::save_checkpoint() { return state_->checkpoint(); }

std::int64_t Trainer::step() const { return state_->pos.step; }

std::int64_t Trainer::total_steps() const { return state_->total_steps; }

const BaseModel& Trainer::base_model() const { return state_->model; }

}  // namespace lathe
