// Loading a full-size SD 1.5 checkpoint: a single-file fp16 checkpoint with the real SD 1.5
// UNet / CLIP ViT-L / VAE key names and shapes (random values, generated once into
// $LATHE_BENCH_DIR or /tmp/lathe-bench, about 2.1 GB) is loaded to fp16, bf16 and fp32 tensors.
// Each measurement runs in a fresh child process (this binary with --child) so its peak RSS
// (ru_maxrss, from wait4) is that of one load alone; reported as GiB and as a multiple of the
// file size and of the loaded tensors' size. Target: fp16/bf16 loads peak <= 1.3x the file.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "io/atomic_writer.h"
#include "models/checkpoint.h"
#include "models/clip_text.h"
#include "models/tensor_io.h"
#include "models/unet.h"
#include "models/vae.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using lathe::Component;

fs::path bench_file() {
  const char* dir = std::getenv("LATHE_BENCH_DIR");
  return fs::path(dir ? dir : "/tmp/lathe-bench") / "sd15_random_fp16.safetensors";
}

std::string self_exe() { return fs::read_symlink("/proc/self/exe").string(); }

// Names and shapes of one module under a prefix (the modules carry the real names).
void add_shapes(torch::nn::Module& m, const std::string& prefix,
                std::vector<std::pair<std::string, std::vector<std::int64_t>>>& out) {
  for (const auto& p : m.named_parameters()) out.emplace_back(prefix + p.key(), p.value().sizes().vec());
}

// Writes the checkpoint tensor by tensor (never the whole file in memory), random finite fp16.
int generate() {
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> shapes;
  {
    lathe::UNet unet(lathe::UNetConfig::sd15());
    add_shapes(*unet, "model.diffusion_model.", shapes);
  }
  {
    lathe::CLIPTextModel te(lathe::CLIPTextConfig::vit_l14());
    add_shapes(*te, "cond_stage_model.transformer.", shapes);
  }
  {
    lathe::VAE vae(lathe::VAEConfig::sd());
    add_shapes(*vae, "first_stage_model.", shapes);
  }
  nlohmann::ordered_json header;
  header["__metadata__"] = {{"format", "pt"}, {"note", "lathe benchmark: random weights"}};
  std::uint64_t offset = 0;
  for (const auto& [name, shape] : shapes) {
    std::uint64_t n = 2;
    for (auto d : shape) n *= d;
    header[name] = {{"dtype", "F16"}, {"shape", shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string len(8, '\0');
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((std::uint64_t(json.size()) >> (8 * i)) & 0xff);
  fs::create_directories(bench_file().parent_path());
  lathe::AtomicFileWriter out(bench_file());
  out.write(len);
  out.write(json);
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  std::vector<std::uint16_t> buf;
  for (const auto& [name, shape] : shapes) {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    buf.resize(n);
    for (auto& h : buf) {
      state ^= state << 13, state ^= state >> 7, state ^= state << 17;
      h = static_cast<std::uint16_t>((state & 0x83ff) | 0x2c00);  // +-[0.0625, 0.125)
    }
    out.write(std::string_view(reinterpret_cast<const char*>(buf.data()), n * 2));
  }
  out.commit();
  std::printf("%zu tensors, %llu bytes\n", shapes.size(), static_cast<unsigned long long>(offset));
  return 0;
}

// One load in this process: every component to `dtype`, all kept alive together.
int child_load(const std::string& dtype_name) {
  torch::Dtype dtype = dtype_name == "fp32" ? torch::kFloat32 : dtype_name == "bf16" ? torch::kBFloat16 : torch::kFloat16;
  auto start = std::chrono::steady_clock::now();
  lathe::Checkpoint ck = lathe::open_checkpoint(bench_file());
  std::vector<std::map<std::string, torch::Tensor>> loaded;
  std::uint64_t bytes = 0;
  for (Component c : {Component::UNet, Component::TextEncoder, Component::VAE}) {
    loaded.push_back(lathe::load_component_tensors(ck, c, dtype));
    for (const auto& [k, t] : loaded.back()) bytes += t.nbytes();
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.6f %llu\n", seconds, static_cast<unsigned long long>(bytes));
  return 0;
}

struct ChildResult {
  double seconds = 0;
  double loaded_bytes = 0;
  double max_rss_bytes = 0;
};

ChildResult run_child(const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::vector<std::string> all = {self_exe()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) throw std::runtime_error("spawn");
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  std::string text;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) text.append(buf, n);
  ::close(fds[0]);
  int status = 0;
  struct rusage ru {};
  ::wait4(pid, &status, 0, &ru);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("child failed: " + text);
  ChildResult r;
  unsigned long long loaded = 0;
  std::sscanf(text.c_str(), "%lf %llu", &r.seconds, &loaded);
  r.loaded_bytes = static_cast<double>(loaded);
  r.max_rss_bytes = ru.ru_maxrss * 1024.0;
  return r;
}

void ensure_file() {
  if (fs::exists(bench_file())) return;
  std::fprintf(stderr, "generating %s (once)...\n", bench_file().c_str());
  run_child({"--generate"});
}

void BM_LoadSD15Fp16Checkpoint(benchmark::State& state, const char* dtype) {
  ensure_file();
  const double file = static_cast<double>(fs::file_size(bench_file()));
  ChildResult r;
  for (auto _ : state) {
    r = run_child({"--child", dtype});
    state.SetIterationTime(r.seconds);
  }
  state.counters["file_GB"] = file / 1e9;
  state.counters["peak_rss_GB"] = r.max_rss_bytes / 1e9;
  state.counters["rss_per_file"] = r.max_rss_bytes / file;
  state.counters["rss_per_loaded"] = r.max_rss_bytes / r.loaded_bytes;
  state.counters["GB_per_s"] = file / 1e9 / r.seconds;
}

BENCHMARK_CAPTURE(BM_LoadSD15Fp16Checkpoint, to_fp16, "fp16")->UseManualTime()->Iterations(1)->Repetitions(3)->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(BM_LoadSD15Fp16Checkpoint, to_bf16, "bf16")->UseManualTime()->Iterations(1)->Repetitions(3)->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(BM_LoadSD15Fp16Checkpoint, to_fp32, "fp32")->UseManualTime()->Iterations(1)->Repetitions(3)->Unit(benchmark::kSecond);

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 2 && std::string(argv[1]) == "--generate") return generate();
    if (argc >= 3 && std::string(argv[1]) == "--child") return child_load(argv[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
