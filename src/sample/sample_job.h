// One `lathe sample` invocation as data: the model, the LoRA files and their strengths, the
// prompts, the generation defaults, how many images per prompt and where they go. run_sample_job
// loads the model once, attaches every LoRA through LoRANetwork (the code path training uses),
// renders each image and writes `<out>/<index>-<seed>.png` (A1111's numbering: five digits,
// continuing after the highest index already in the folder, never overwriting) with its
// parameters chunk, and a `.txt` caption beside it for regularisation images.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sample/prompt_file.h"
#include "sample/sample_progress.h"
#include "sample/text_to_image.h"

namespace lathe {

struct BaseModel;
enum class WeightDType;

struct LoRAChoice {
  std::filesystem::path path;
  double scale = 1.0;
};

// "FILE" or "FILE:SCALE" (the last ':' splits only when what follows is a number, so paths
// with ':' still work). Throws lathe::Error naming the text when the scale is not finite.
LoRAChoice parse_lora_choice(const std::string& text);

// "WxH" ("512x768"). Throws lathe::Error naming `text` and the expected form.
std::pair<int64_t, int64_t> parse_image_size(const std::string& text);

struct SampleJob {
  std::string model;               // checkpoint file, diffusers folder or "tiny-random:sd15"
  std::vector<LoRAChoice> loras;
  std::vector<std::filesystem::path> embeddings;  // --embedding files (LoRA-bundled ones come too)
  std::vector<PromptSpec> prompts;  // at least one; unset fields take the defaults below
  // Defaults for every prompt; width/height 0 mean the family's native size (SD 1.x 512,
  // SD 2.x 768 for v-prediction else 512, SDXL 1024).
  ImageRequest defaults;
  int64_t count = 1;               // images per prompt, seeds seed, seed + 1, ...
  std::filesystem::path out_dir = "samples";
  bool captions = false;           // a .txt caption (the prompt) beside each image
  std::string device = "auto";     // as training.device
  std::string dtype = "auto";      // compute dtype: auto (bf16 where it runs), fp32, bf16, fp16
  bool tiled_decode = false;       // --tiled-decode (CUDA also tiles by itself when memory is short)
};

// The model, its dtype and its native image side, as run_sample_job and the epoch grid
// (epoch_grid.h) load them: the job's model (file, folder or tiny-random) on `device` with the
// UNet and text encoders in `dtype` (the VAE stays fp32). Throws lathe::Error naming the model.
BaseModel load_sample_model(const SampleJob& job, const torch::Device& device, WeightDType dtype);
// --dtype: "auto" (bf16 where the device runs it, else fp16 on CUDA), fp32, bf16 or fp16.
WeightDType sample_compute_dtype(const std::string& name, const torch::Device& device);
// SD 1.x 512, SD 2.x v-prediction 768 (else 512), SDXL 1024.
int64_t native_image_side(const BaseModel& model);

// Whether a folder name is a kohya concept folder ("1_woman": repeats, '_', a name), where
// regularisation images go with their captions.
bool is_concept_folder(const std::filesystem::path& dir);

// The images of a job in order: for each prompt, `count` requests with seeds seed + i (the
// prompt's own --d seed, else the job's). `native_side` fills width/height left at 0.
std::vector<ImageRequest> expand_requests(const SampleJob& job, int64_t native_side);

// The first free index in `dir`: one past the highest `<index>-<seed>.png` there (0 if none).
int64_t next_image_index(const std::filesystem::path& dir);

// "<dir>/<index:05>-<seed>.png".
std::filesystem::path image_path(const std::filesystem::path& dir, int64_t index, std::uint64_t seed);

struct SampleCallbacks {
  std::function<void(const std::string&)> on_note;            // model loaded, LoRA attached, ...
  std::function<bool(const SampleProgress&)> on_step;         // false stops (Ctrl-C)
  std::function<void(const std::filesystem::path&, double seconds)> on_image;  // after each file
};

// Renders and writes every image of `job`; returns the paths written. Throws lathe::Error for a
// model, LoRA or prompt problem (before anything is written where it can be told early), and
// lathe::Interrupted when on_step asks to stop (images finished so far stay; no partial file).
std::vector<std::filesystem::path> run_sample_job(const SampleJob& job, const SampleCallbacks& callbacks);

}  // namespace lathe
