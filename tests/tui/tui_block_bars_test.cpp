// The run page's block bars, driven in tmux: a run folder made here (status.json, loss and
// epoch records, epoch LoRA files written by the test, no training) shows one bar per UNet
// block for its newest epoch file. The first file trains three blocks with three network types
// (a LoRA in IN01, a LoKr in MID, a LoHa in OUT05) whose delta norms are 5, 20 and 40, so the
// line has a short bar, a half bar and a full bar there and a dot for every other block; an
// epoch file saved later (a LoRA in IN04 only) replaces the bars with its own.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "run_command.h"
#include "runs/metrics_log.h"
#include "runs/run_status.h"
#include "temp_dir.h"
#include "test_paths.h"
#include "tmux_session.h"

namespace lathe::test {
namespace {

namespace fs = std::filesystem;

struct NamedTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

void write_lora(const fs::path& file, const std::vector<NamedTensor>& tensors) {
  std::vector<std::string> bytes;
  bytes.reserve(tensors.size());  // the views below point into these strings
  std::vector<TensorToWrite> t;
  for (const auto& n : tensors) {
    bytes.emplace_back(n.values.size() * 4, '\0');
    std::memcpy(bytes.back().data(), n.values.data(), bytes.back().size());
    t.push_back({n.name, DType::F32, n.shape, bytes.back()});
  }
  write_safetensors(file, t, {});
}

// A rank-1 LoRA module whose delta [[3, 4]] has norm 5.
std::vector<NamedTensor> lora_module(const std::string& name) {
  return {{name + ".lora_down.weight", {1, 2}, {3, 4}},
          {name + ".lora_up.weight", {1, 1}, {1}},
          {name + ".alpha", {}, {1}}};
}

// Epoch 1: IN01 LoRA (norm 5), MID LoKr kron([[4]], [[3, 4]]) (norm 20; two full factors, so
// scale 1 whatever alpha holds), OUT05 LoHa (2 * 5) .* (1 * 4) (norm 40).
void write_first_epoch_file(const fs::path& file) {
  auto tensors = lora_module("lora_unet_down_blocks_0_attentions_0_proj_in");
  const std::string lokr = "lora_unet_mid_block_attentions_0_proj_out";
  const std::string loha = "lora_unet_up_blocks_1_attentions_2_proj_out";
  const std::vector<NamedTensor> lycoris{
      {lokr + ".lokr_w1", {1, 1}, {4}},    {lokr + ".lokr_w2", {1, 2}, {3, 4}},  {lokr + ".alpha", {}, {9}},
      {loha + ".hada_w1_a", {1, 1}, {2}},  {loha + ".hada_w1_b", {1, 1}, {5}},   {loha + ".hada_w2_a", {1, 1}, {1}},
      {loha + ".hada_w2_b", {1, 1}, {4}},  {loha + ".alpha", {}, {1}}};
  tensors.insert(tensors.end(), lycoris.begin(), lycoris.end());
  write_lora(file, tensors);
}

fs::path make_run(const fs::path& runs) {
  const fs::path run = runs / "20261207-130000-bars";
  for (const char* sub : {"epochs", "checkpoints"}) fs::create_directories(run / sub);
  RunStatus s;
  s.run_id = run.filename().string();
  s.name = "bars";
  s.state = RunState::Done;
  s.step = s.total_steps = 20;
  s.epoch = s.total_epochs = 2;
  s.last_loss = 0.25;
  write_run_status(run / "status.json", s);
  MetricsLog log(run / "metrics.jsonl");
  for (int step = 1; step <= 10; ++step) {
    StepMetric m;
    m.step = step;
    m.loss = m.loss_smoothed = 1.0 / step;
    log.append(m);
  }
  write_first_epoch_file(run / "epochs" / "bars-e0001.safetensors");
  EpochMetric e;
  e.epoch = 1;
  e.step = 10;
  e.loss = 0.3;
  e.file = "epochs/bars-e0001.safetensors";
  log.append(e);
  return run;
}

class TuiBlockBarsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!tmux_available()) GTEST_SKIP() << "tmux is not installed (scripts/setup.sh installs it)";
  }
  void expect_screen(const TmuxSession& s, const std::string& text, int timeout_ms = 10000) {
    std::string last;
    EXPECT_TRUE(s.wait_for(text, timeout_ms, &last)) << "waiting for '" << text << "'; screen:\n" << last;
  }
  TempDir tmp_;
};

TEST_F(TuiBlockBarsTest, RunPageDrawsABarPerTrainedBlockOfTheNewestEpochFile) {
  const fs::path runs = tmp_.path() / "runs";
  const fs::path run = make_run(runs);
  TmuxSession s("env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color " + shell_quote(lathe_binary().string()) +
                    " tui " + shell_quote(runs.string()),
                tmp_.path());
  ASSERT_TRUE(s.started()) << s.start_error();
  expect_screen(s, "20261207-130000-bars");
  s.keys({"Enter"});
  expect_screen(s, "Blocks of bars-e0001.safetensors: delta norm per UNet block, most OUT05");
  // 12 IN blocks, MID, 12 OUT blocks: IN01 at 5/40 (lowest level), MID at 20/40 (level 4 of 8),
  // OUT05 full; a dot for each block without modules.
  expect_screen(s, "IN ·▁·········· MID ▄ OUT ·····█······");

  // A later epoch file trained only IN04: the bars follow it.
  write_lora(run / "epochs" / "bars-e0002.safetensors", lora_module("lora_unet_down_blocks_1_resnets_0_conv2"));
  StepMetric step;
  step.step = 20;
  step.epoch = 1;
  step.loss = step.loss_smoothed = 0.2;
  EpochMetric e;
  e.epoch = 2;
  e.step = 20;
  e.loss = 0.2;
  e.file = "epochs/bars-e0002.safetensors";
  MetricsLog log(run / "metrics.jsonl");
  log.append(step);
  log.append(e);
  expect_screen(s, "Blocks of bars-e0002.safetensors: delta norm per UNet block, most IN04");
  expect_screen(s, "IN ····█······· MID · OUT ············");
  EXPECT_EQ(s.capture().find("OUT ·····█"), std::string::npos) << s.capture();
  s.keys({"q", "q"});
}

}  // namespace
}  // namespace lathe::test
