// A Chrome trace of what runs while this object lives, through the Kineto profiler (CPU ops,
// and CUDA kernels when a GPU is in use): open the JSON in chrome://tracing or Perfetto.
#pragma once

#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/cuda.h>

#include <set>
#include <string>

namespace lathe::bench {

class KinetoTrace {
 public:
  explicit KinetoTrace(std::string path) : path_(std::move(path)) {
    using torch::profiler::impl::ActivityType;
    std::set<ActivityType> activities{ActivityType::CPU};
    if (torch::cuda::is_available()) activities.insert(ActivityType::CUDA);
    const torch::profiler::impl::ProfilerConfig config(torch::profiler::impl::ProfilerState::KINETO,
                                                        /*report_input_shapes=*/true);
    torch::autograd::profiler::prepareProfiler(config, activities);
    torch::autograd::profiler::enableProfiler(config, activities);
  }
  ~KinetoTrace() {
    if (torch::cuda::is_available()) torch::cuda::synchronize();
    auto result = torch::autograd::profiler::disableProfiler();
    if (result) result->save(path_);
  }
  KinetoTrace(const KinetoTrace&) = delete;
  KinetoTrace& operator=(const KinetoTrace&) = delete;

 private:
  std::string path_;
};

}  // namespace lathe::bench
