// The run-time device layer: what `training.device` resolves to, seeded generators, backend
// switches, memory counters and host-to-device copies. The CUDA tests skip with a message on a
// machine without a GPU (CI); on a GPU machine they check the same promises on the device.
#include "train/model/compute_device.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "common/error.h"
#include "models/attention.h"
#include "trainer_fixtures.h"

namespace lathe {
namespace {

#define SKIP_WITHOUT_GPU()                                                                  \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA GPU visible: this test runs on a GPU machine"

TEST(ComputeDevice, ResolvesNamesAndExplainsBadOnes) {
  EXPECT_EQ(resolve_device("cpu"), torch::Device(torch::kCPU));
  EXPECT_EQ(resolve_device("auto").is_cuda(), torch::cuda::is_available());
  try {
    resolve_device("gpu0");
    FAIL() << "expected lathe::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("use auto, cpu, cuda or cuda:N"), std::string::npos) << e.what();
  }
  if (!torch::cuda::is_available()) {
    try {
      resolve_device("cuda:1");
      FAIL() << "expected lathe::Error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("no CUDA GPU is visible"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("lathe doctor"), std::string::npos) << e.what();
    }
  } else {
    const std::string past = "cuda:" + std::to_string(cuda_device_count());
    EXPECT_THROW(resolve_device(past), Error);
  }
}

TEST(ComputeDevice, CudaIsCompiledIntoThisBuild) {
  // The build links the CUDA libtorch, so every CUDA path compiles and the hooks are there.
  EXPECT_TRUE(at::detail::getCUDAHooks().isBuilt());
}

TEST(ComputeDevice, CpuGeneratorsAreSeededAndRepeatable) {
  auto a = seeded_generator(7), b = seeded_generator(7), c = seeded_generator(8);
  auto x = torch::randn({16}, a), y = torch::randn({16}, b), z = torch::randn({16}, c);
  EXPECT_TRUE(torch::equal(x, y));
  EXPECT_FALSE(torch::equal(x, z));
  EXPECT_TRUE(a.device().is_cpu());
}

TEST(ComputeDevice, BackendSwitchesFollowTheProfile) {
  configure_backends(torch::kCPU, {true, true});
  EXPECT_TRUE(at::globalContext().deterministicAlgorithms());
  EXPECT_TRUE(at::globalContext().deterministicAlgorithmsWarnOnly());
  configure_backends(torch::kCPU, {true, false});
  EXPECT_FALSE(at::globalContext().deterministicAlgorithms());
  configure_backends(torch::kCPU, {true, true});
}

TEST(ComputeDevice, CpuHasNoGpuMemoryCounterAndCopiesNothing) {
  reset_peak_memory(torch::kCPU);
  EXPECT_FALSE(peak_memory_bytes(torch::kCPU));
  auto t = torch::ones({4});
  EXPECT_TRUE(to_device_async(t, torch::kCPU).is_same(t));
  EXPECT_TRUE(pinned_for(t, torch::kCPU).is_same(t));
  EXPECT_FALSE(describe_device(torch::kCPU).name.empty());
}

TEST(ComputeDeviceCuda, GeneratorsCopiesAndMemoryCounters) {
  SKIP_WITHOUT_GPU();
  const torch::Device gpu(torch::kCUDA, 0);
  auto a = seeded_generator(7, gpu), b = seeded_generator(7, gpu);
  auto opts = torch::TensorOptions().device(gpu);
  auto x = torch::randn({1024}, a, opts), y = torch::randn({1024}, b, opts);
  EXPECT_TRUE(x.is_cuda());
  EXPECT_TRUE(torch::equal(x, y));
  auto host = torch::arange(1000, torch::kFloat32);
  EXPECT_TRUE(pinned_for(host, gpu).is_pinned());
  auto moved = to_device_async(host, gpu);
  EXPECT_TRUE(moved.is_cuda());
  EXPECT_TRUE(torch::equal(moved.cpu(), host));
  reset_peak_memory(gpu);
  auto big = torch::empty({64 << 20}, torch::TensorOptions().device(gpu).dtype(torch::kUInt8));
  ASSERT_TRUE(peak_memory_bytes(gpu));
  EXPECT_GE(*peak_memory_bytes(gpu), 64 << 20);
  const DeviceDescription d = describe_device(gpu);
  EXPECT_GT(d.total_memory, 0);
  EXPECT_GE(d.compute_major, 7);
}

TEST(ComputeDeviceCuda, FusedAttentionEqualsTheSlicedPathOnTheGpu) {
  SKIP_WITHOUT_GPU();
  torch::manual_seed(3);
  auto opts = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kBFloat16);
  auto q = torch::randn({2, 1024, 320}, opts), k = torch::randn({2, 77, 320}, opts), v = torch::randn({2, 77, 320}, opts);
  EXPECT_TRUE(fused_attention_available(q, k, v, 8));
  auto fused = multi_head_attention(q, k, v, 8);
  attention_settings().use_fused = false;
  auto sliced = multi_head_attention(q, k, v, 8);
  attention_settings().use_fused = true;
  EXPECT_LT((fused.to(torch::kFloat32) - sliced.to(torch::kFloat32)).abs().max().item<double>(), 3e-2);
}

TEST(ComputeDeviceCuda, TinyRunTrainsOnTheGpuWithPeakMemoryAndResumesIdentically) {
  SKIP_WITHOUT_GPU();
  test::TempDir tmp;
  test::write_dataset(tmp.path());
  const std::vector<std::string> set = {"training.device=cuda", "training.mixed_precision=bf16", "training.max_steps=6"};
  TrainConfig config = test::tiny_config(tmp.path(), "tiny-random:sd15", set);
  std::map<std::string, torch::Tensor> whole;
  {
    test::Recorded rec;
    Trainer trainer(config, tmp / "whole", test::recording(rec));
    whole = test::read_lora(tmp / "whole" / trainer.run().final_file);
    bool memory = false;
    for (const auto& e : rec.events) memory |= e.kind == TrainProgress::Kind::Step && e.peak_memory_bytes && *e.peak_memory_bytes > 0;
    EXPECT_TRUE(memory);
  }
  {
    test::Recorded rec;
    const Trainer* self = nullptr;
    Trainer trainer(config, tmp / "split", test::recording(rec, 3, &self));
    self = &trainer;
    trainer.run();
  }
  test::Recorded rec;
  Trainer resumed(config, tmp / "split", test::recording(rec));
  resumed.resume_from(*latest_checkpoint(tmp / "split"));
  // Same seed, same GPU, deterministic algorithms: the same LoRA.
  EXPECT_TRUE(test::identical(whole, test::read_lora(tmp / "split" / resumed.run().final_file)));
}

}  // namespace
}  // namespace lathe
