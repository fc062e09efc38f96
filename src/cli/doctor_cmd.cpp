// `lathe doctor`: what a user needs to know before a long run, each problem with its next step:
// the libtorch build (version, CUDA compiled in), the GPUs it sees (name, memory, compute
// capability, bf16, driver), the CPU side (threads, BLAS), the CLIP vocabulary a command would
// use, and the free disk where runs go.
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <cuda_runtime_api.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/statvfs.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/command.h"
#include "cli/runs_common.h"
#include "text/vocab_locator.h"
#include "train/model/compute_device.h"

namespace lathe::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kLowDiskGiB = 5.0;  // an SDXL run with checkpoints and epoch files needs more

struct Finding {
  std::string level;  // "ok", "warning", "problem"
  std::string what;
  std::string next;   // the next step; empty when ok
};

std::string version_text(long v) {  // CUDA's encoding: 13000 -> "13.0"
  if (v <= 0) return "none";
  return fmt::format("{}.{}", v / 1000, (v % 1000) / 10);
}

std::string cudnn_text(long v) {  // 91900 -> 9.19.0
  if (v <= 0) return "none";
  return fmt::format("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100);
}

// The lines of at::show_config() that say which BLAS and CPU kernels libtorch uses.
std::string blas_summary() {
  std::istringstream in(at::show_config());
  std::string line, blas, capability;
  while (std::getline(in, line)) {
    const auto start = line.find_first_not_of(" -");
    const std::string trimmed = start == std::string::npos ? line : line.substr(start);
    if (trimmed.rfind("CPU capability usage:", 0) == 0) capability = trimmed.substr(22);
    const auto b = line.find("BLAS_INFO=");
    if (b != std::string::npos) blas = line.substr(b + 10, line.find(',', b) - b - 10);
  }
  return fmt::format("BLAS {}, CPU kernels {}", blas.empty() ? "?" : blas, capability.empty() ? "?" : capability);
}

struct Report {
  json j = json::object();
  std::vector<Finding> findings;
  void add(std::string level, std::string what, std::string next = "") {
    findings.push_back({std::move(level), std::move(what), std::move(next)});
  }
};

void check_build(Report& r) {
  const bool built = at::detail::getCUDAHooks().isBuilt();
  r.j["lathe"] = LATHE_VERSION_STRING;
  r.j["libtorch"] = TORCH_VERSION;
  r.j["cuda_compiled_in"] = built;
  r.j["cuda_runtime"] = built ? version_text(at::detail::getCUDAHooks().versionCUDART()) : "none";
  r.j["cudnn"] = built ? cudnn_text(at::detail::getCUDAHooks().versionCuDNN()) : "none";
  if (!built)
    r.add("problem", "this libtorch has no CUDA compiled in: training can only run on the CPU",
          "rebuild against the PyTorch wheel (scripts/setup.sh) or point LATHE_TORCH_DIR at a CUDA libtorch 2.7+");
}

void check_gpus(Report& r) {
  json gpus = json::array();
  int driver = 0;
  const bool built = at::detail::getCUDAHooks().isBuilt();
  if (built && cudaDriverGetVersion(&driver) != cudaSuccess) driver = 0;
  r.j["driver_cuda_version"] = driver > 0 ? fmt::format("{}.{}", driver / 1000, (driver % 1000) / 10) : "none";
  const int count = built ? cuda_device_count() : 0;
  for (int i = 0; i < count; ++i) {
    const torch::Device device(torch::kCUDA, static_cast<c10::DeviceIndex>(i));
    const DeviceDescription d = describe_device(device);
    gpus.push_back({{"device", device.str()}, {"name", d.name}, {"memory_gib", d.total_memory / kGiB},
                    {"compute_capability", fmt::format("{}.{}", d.compute_major, d.compute_minor)},
                    {"bf16", d.bf16}, {"tf32", d.tf32},
                    {"mixed_precision", d.bf16 ? "bf16" : "fp16"}});
    if (d.compute_major < 7 || (d.compute_major == 7 && d.compute_minor < 5))
      r.add("warning", fmt::format("{} ({}) is older than Turing (compute {}.{}); Lathe's kernels start at 7.5",
                                   device.str(), d.name, d.compute_major, d.compute_minor),
            "expect PTX JIT compilation at start and slow training; an RTX 20xx or newer is supported");
    if (d.total_memory < 6 * kGiB)
      r.add("warning", fmt::format("{} has {:.1f} GiB: SD 1.5 LoRA needs about 6 GiB, SDXL about 10 GiB",
                                   device.str(), d.total_memory / kGiB),
            "turn on training.gradient_checkpointing, training.mixed_precision and batch_size = 1");
  }
  r.j["gpus"] = gpus;
  if (built && count == 0)
    r.add("warning",
          driver > 0 ? "no CUDA GPU is visible (the driver answers, but shows no device)"
                     : "no CUDA GPU is visible: no NVIDIA driver answered",
          "training runs on the CPU (slow). On a GPU machine: check `nvidia-smi`, CUDA_VISIBLE_DEVICES, "
          "and that the driver supports CUDA " + r.j["cuda_runtime"].get<std::string>() + " or newer");
  else if (driver > 0 && driver < at::detail::getCUDAHooks().versionCUDART())
    r.add("problem",
          fmt::format("the driver supports CUDA {} but libtorch needs {}", r.j["driver_cuda_version"].get<std::string>(),
                      r.j["cuda_runtime"].get<std::string>()),
          "update the NVIDIA driver, or build against a libtorch for an older CUDA (LATHE_TORCH_DIR)");
}

void check_cpu(Report& r) {
  r.j["cpu"] = {{"name", describe_device(torch::kCPU).name},
                {"threads", at::get_num_threads()},
                {"bf16", describe_device(torch::kCPU).bf16},
                {"libraries", blas_summary()}};
}

// The vocabulary every command would use with no --vocab, and where it came from.
void check_vocab(Report& r) {
  auto vocab = text::find_clip_vocab(std::nullopt);
  r.j["clip_vocab"] = vocab ? vocab->path.string() : "";
  r.j["clip_vocab_source"] = vocab ? vocab->source : "";
  if (!vocab)
    r.add("problem", "no CLIP vocabulary found (needed by the audit's token checks and training from single-file checkpoints)",
          text::clip_vocab_missing_message());
  else if (!fs::exists(vocab->path))
    r.add("problem", fmt::format("LATHE_CLIP_VOCAB names {}, which does not exist", vocab->path.string()),
          "unset it to use the vocabulary installed with Lathe, or point it at bpe_simple_vocab_16e6.txt.gz "
          "or a tokenizer/ folder with vocab.json + merges.txt");
}

void check_disk(Report& r, const fs::path& runs_dir) {
  fs::path probe = runs_dir;
  while (!probe.empty() && !fs::exists(probe)) probe = probe.parent_path();
  if (probe.empty()) probe = ".";
  struct statvfs st {};
  if (statvfs(probe.c_str(), &st) != 0) {
    r.add("warning", fmt::format("cannot read the free space of {}", probe.string()));
    return;
  }
  const double free_gib = static_cast<double>(st.f_bavail) * static_cast<double>(st.f_frsize) / kGiB;
  r.j["runs_dir"] = runs_dir.string();
  r.j["runs_dir_free_gib"] = free_gib;
  if (free_gib < kLowDiskGiB)
    r.add("problem", fmt::format("{:.1f} GiB free where runs go ({})", free_gib, probe.string()),
          "free space or pass --runs-dir to a larger disk: checkpoints, epoch files and the latent cache need several GiB");
}

int run_doctor(const Args& args) {
  Report r;
  check_build(r);
  check_gpus(r);
  check_cpu(r);
  check_vocab(r);
  check_disk(r, runs_root(args));
  bool problem = false;
  json findings = json::array();
  for (const auto& f : r.findings) {
    problem = problem || f.level == "problem";
    findings.push_back({{"level", f.level}, {"what", f.what}, {"next", f.next}});
  }
  r.j["findings"] = findings;
  if (args.has("json")) {
    std::cout << r.j.dump(2) << "\n";
    return problem ? kExitInputErrors : kExitOk;
  }
  const json& j = r.j;
  std::cout << fmt::format("lathe {}, libtorch {}\n", j["lathe"].get<std::string>(), j["libtorch"].get<std::string>());
  std::cout << fmt::format("  CUDA        {}\n", j["cuda_compiled_in"].get<bool>()
                                                   ? fmt::format("compiled in (runtime {}, cuDNN {}); driver {}",
                                                                 j["cuda_runtime"].get<std::string>(),
                                                                 j["cudnn"].get<std::string>(),
                                                                 j["driver_cuda_version"].get<std::string>())
                                                   : std::string("not compiled in"));
  for (const auto& g : j["gpus"])
    std::cout << fmt::format("  {:<11} {}, {:.1f} GiB, compute {}, bf16 {}: use mixed_precision = \"{}\"\n",
                             g["device"].get<std::string>(), g["name"].get<std::string>(), g["memory_gib"].get<double>(),
                             g["compute_capability"].get<std::string>(), g["bf16"].get<bool>() ? "yes" : "no",
                             g["mixed_precision"].get<std::string>());
  if (j["gpus"].empty()) std::cout << "  GPUs        none visible\n";
  const json& cpu = j["cpu"];
  std::cout << fmt::format("  CPU         {}, {} threads, bf16 {}; {}\n", cpu["name"].get<std::string>(),
                           cpu["threads"].get<int>(), cpu["bf16"].get<bool>() ? "yes" : "no",
                           cpu["libraries"].get<std::string>());
  std::cout << fmt::format("  vocabulary  {}\n", j["clip_vocab"].get<std::string>().empty()
                                                   ? std::string("none found")
                                                   : fmt::format("{} ({})", j["clip_vocab"].get<std::string>(),
                                                                 j["clip_vocab_source"].get<std::string>()));
  if (j.contains("runs_dir_free_gib"))
    std::cout << fmt::format("  disk        {:.1f} GiB free for {}\n", j["runs_dir_free_gib"].get<double>(),
                             j["runs_dir"].get<std::string>());
  if (r.findings.empty()) std::cout << "\nall good\n";
  for (const auto& f : r.findings) {
    std::cout << fmt::format("\n{}: {}\n", f.level, f.what);
    if (!f.next.empty()) std::cout << fmt::format("  next: {}\n", f.next);
  }
  return problem ? kExitInputErrors : kExitOk;
}

CommandSpec doctor_spec() {
  CommandSpec s;
  s.name = "doctor";
  s.summary = "what this machine can train on: libtorch, CUDA, GPUs, CPU, vocabulary, disk";
  s.usage = "[--json] [--runs-dir DIR]";
  s.details =
      "Prints the libtorch version and whether CUDA is compiled in, each visible GPU (name,\n"
      "memory, compute capability, bf16 support and the mixed precision to use), the driver,\n"
      "the CPU's threads and BLAS, the CLIP vocabulary commands would use, and the free disk\n"
      "where runs go. Each problem comes with its next step. Exit 1 when a problem would stop\n"
      "a run (no CUDA compiled in, a driver older than the CUDA runtime, little disk, no CLIP\n"
      "vocabulary).";
  s.options = {{"json", "", "print one JSON object"}, runs_dir_option()};
  s.max_positionals = 0;
  s.run = run_doctor;
  return s;
}

}  // namespace

LATHE_REGISTER_COMMAND(doctor_spec)

}  // namespace lathe::cli
