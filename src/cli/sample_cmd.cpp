// `lathe sample MODEL --prompt TEXT [...]`: text to image with a base model and any LoRA files
// (sample/sample_job.h does the work). This file only turns flags into a SampleJob (all option
// parsing in sample_job_from_args), shows progress on stderr and handles Ctrl-C: the first
// stops after the current step with every finished image kept and no partial file, a second
// one kills at once.
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <random>
#include <tuple>

#include <signal.h>

#include "cli/command.h"
#include "common/error.h"
#include "common/interrupted.h"
#include "cli/sample_grid.h"
#include "sample/sample_job.h"

namespace lathe::cli {
namespace {

std::atomic<bool> g_stop{false};

void on_sigint(int) {
  if (g_stop.exchange(true)) {
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
  }
}

// SIGINT asks for a clean stop while it lives; the previous handler comes back after.
class StopOnCtrlC {
 public:
  StopOnCtrlC() {
    g_stop = false;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &previous_);
  }
  ~StopOnCtrlC() { sigaction(SIGINT, &previous_, nullptr); }

 private:
  struct sigaction previous_ {};
};

CommandSpec sample_spec() {
  CommandSpec s;
  s.name = "sample";
  s.summary = "text to image with a base model and LoRA files: PNGs with A1111's parameters";
  s.usage = "MODEL (--prompt TEXT | --prompts FILE) [options]";
  s.details =
      "MODEL is a .safetensors checkpoint, a diffusers folder or tiny-random:sd15|sd2|sdxl. Each image is\n"
      "written as OUT/<index>-<seed>.png (five-digit index after the highest already there; nothing is\n"
      "overwritten) with the generation parameters in A1111's `parameters` text chunk, so A1111's PNG Info,\n"
      "ComfyUI and civitai read them. --count N renders seeds SEED, SEED+1, ... for each prompt.\n"
      "--prompts FILE: one prompt per line with kohya's options (--n negative, --w, --h, --s steps,\n"
      "--l guidance, --d seed, --ss sampler; # comments), or a .toml file ([[prompt]] tables or kohya's\n"
      "[prompt] + [[prompt.subset]]). An --out folder named like a kohya concept (reg/1_woman) gets a .txt\n"
      "caption per image, as for regularisation images (--caption does so anywhere).\n"
      "Samplers: ddim, euler, euler_a, dpmpp_2m, dpmpp_2m_karras, ddpm. Ctrl-C stops after the current step.\n"
      "--grid RUN (a run folder or id under ./runs, in MODEL's place): one PNG, epochs x prompts: a row per\n"
      "epoch file of the run (labelled with its loss), a column per prompt (--prompt/--prompts, else the\n"
      "run's [sample] prompts and seeds), the same seed down each column, on the run's base model;\n"
      "--out FILE.png (default <run-id>-grid.png).";
  s.options = {
      {"prompt", "TEXT", "the prompt"},
      {"prompts", "FILE", "prompts file (text with kohya's inline options, or .toml)"},
      {"negative", "TEXT", "negative prompt (default none)"},
      {"lora", "FILE[:SCALE]", "LoRA file at a strength (default 1); repeat to stack several", true},
      {"embedding", "FILE", "embedding file whose word prompts may use (LoRA-bundled ones load too); repeatable", true},
      {"seed", "N", "first seed (default: a random one, printed)"},
      {"count", "N", "images per prompt (default 1)"},
      {"steps", "N", "sampler steps (default 20)"},
      {"cfg", "X", "classifier-free guidance scale (default 7; 1 or less turns it off)"},
      {"sampler", "NAME", "ddim, euler, euler_a (default), dpmpp_2m, dpmpp_2m_karras, ddpm"},
      {"size", "WxH", "image size (default: the model's, 512x512 SD 1.x, 1024x1024 SDXL)"},
      {"clip-skip", "N", "CLIP layers to skip from the end (default 1; 2 for anime SD 1.x models)"},
      {"out", "DIR", "output folder (default samples)"},
      {"caption", "", "write a .txt caption (the prompt) beside each image"},
      {"device", "NAME", "auto (default), cpu, cuda, cuda:N"},
      {"dtype", "NAME", "compute dtype: auto (default: bf16 where the device runs it), fp32, bf16, fp16"},
      {"tiled-decode", "", "decode the VAE in 512 px tiles (bounded memory; CUDA tiles by itself when free memory is short)"},
  };
  for (Option& o : sample_grid_options()) s.options.push_back(std::move(o));
  s.min_positionals = 1;
  s.max_positionals = 1;
  return s;
}

// Every flag into the job (the one place sample options are read).
SampleJob sample_job_from_args(const Args& args) {
  SampleJob job;
  job.model = args.positional(0);
  // --grid takes the run's [sample] prompts when neither is given.
  if (args.has("prompt") && args.has("prompts"))
    throw UsageError("sample: give either --prompt TEXT or --prompts FILE");
  if (!args.has("prompt") && !args.has("prompts") && !args.has("grid"))
    throw UsageError("sample: give either --prompt TEXT or --prompts FILE");
  if (auto p = args.value("prompt")) job.prompts.push_back(parse_prompt_line(*p, "--prompt"));
  if (auto f = args.value("prompts")) job.prompts = read_prompt_file(*f);
  for (const auto& l : args.values("lora")) job.loras.push_back(parse_lora_choice(l));
  for (const auto& e : args.values("embedding")) job.embeddings.emplace_back(e);
  job.defaults.negative = args.value_or("negative", "");
  if (args.has("seed")) {
    long long seed = args.int_or("seed", 0);
    if (seed < 0) throw UsageError(fmt::format("--seed {}: must be 0 or more", seed));
    job.defaults.seed = static_cast<std::uint64_t>(seed);
  } else {
    job.defaults.seed = std::random_device{}();
  }
  job.count = args.int_or("count", 1);
  if (job.count < 1) throw UsageError(fmt::format("--count {}: must be 1 or more", job.count));
  job.defaults.steps = args.int_or("steps", 20);
  job.defaults.cfg = args.double_or("cfg", 7.0);
  job.defaults.clip_skip = static_cast<int>(args.int_or("clip-skip", 1));
  if (auto name = args.value("sampler")) job.defaults.sampler = sampler_from_string(*name, "--sampler");
  job.defaults.width = job.defaults.height = 0;  // the model's native size unless --size
  if (auto size = args.value("size")) std::tie(job.defaults.width, job.defaults.height) = parse_image_size(*size);
  job.out_dir = args.value_or("out", "samples");
  job.captions = args.has("caption") || is_concept_folder(job.out_dir);
  job.device = args.value_or("device", "auto");
  job.dtype = args.value_or("dtype", "auto");
  job.tiled_decode = args.has("tiled-decode");
  return job;
}

int run_sample(const Args& args) {
  SampleJob job = sample_job_from_args(args);
  if (!args.has("seed") && !args.has("grid")) std::cerr << fmt::format("seed {} (random; --seed {} repeats it)\n", job.defaults.seed, job.defaults.seed);
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  std::chrono::steady_clock::time_point first_step;
  bool started = false;
  SampleCallbacks callbacks;
  callbacks.on_note = [](const std::string& text) { std::cerr << text << "\n"; };
  callbacks.on_step = [&](const SampleProgress& p) {
    if (!started) first_step = std::chrono::steady_clock::now(), started = true;
    if (tty) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - first_step).count();
      std::cerr << "\r" << format_sample_progress(p, elapsed) << "\x1b[K" << std::flush;
    }
    return !g_stop.load();
  };
  int written_images = 0;
  callbacks.on_image = [&](const std::filesystem::path& path, double seconds) {
    ++written_images;
    if (tty) std::cerr << "\r\x1b[K";
    std::cout << fmt::format("wrote {} ({:.1f} s)\n", path.string(), seconds) << std::flush;
  };
  StopOnCtrlC stop_on_ctrl_c;
  try {
    if (args.has("grid")) return run_sample_grid(args, job, callbacks);
    auto written = run_sample_job(job, callbacks);
    std::cerr << fmt::format("{} image{} in {}\n", written.size(), written.size() == 1 ? "" : "s", job.out_dir.string());
  } catch (const Interrupted&) {
    if (tty) std::cerr << "\r\x1b[K";
    std::cerr << fmt::format("stopped (Ctrl-C): {} complete image{} written; the one in progress was not\n",
                             written_images, written_images == 1 ? "" : "s");
    return 130;
  }
  return kExitOk;
}

CommandSpec sample_command() {
  CommandSpec s = sample_spec();
  s.run = run_sample;
  return s;
}

}  // namespace

LATHE_REGISTER_COMMAND(sample_command)

}  // namespace lathe::cli
