// Peak bytes libtorch's CPU allocator holds while a scope runs, from its own bookkeeping: the
// default CPU allocator reports every allocation and free to the memory reporter installed in
// the thread's debug info (the hook torch.profiler's profile_memory uses), with the running total
// of live bytes allocated under a reporter. Tensors allocated before the scope are not counted.
#pragma once

#include <c10/core/Allocator.h>
#include <c10/util/ThreadLocalDebugInfo.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>

namespace lathe::test {

class AllocationPeak {
 public:
  AllocationPeak() : reporter_(std::make_shared<Reporter>()), guard_(c10::DebugInfoKind::PROFILER_STATE, reporter_) {}
  // Highest live total seen, minus the live total at the first report (bytes).
  std::int64_t peak_bytes() const {
    std::lock_guard<std::mutex> lock(reporter_->mutex);
    return reporter_->peak - reporter_->base;
  }

 private:
  struct Reporter : c10::MemoryReportingInfoBase {
    std::mutex mutex;  // intra-op worker threads may allocate under the same reporter
    std::int64_t base = -1, peak = 0;
    void reportMemoryUsage(void*, int64_t alloc_size, size_t total_allocated, size_t, c10::Device device) override {
      if (!device.is_cpu()) return;
      const auto total = static_cast<std::int64_t>(total_allocated);
      std::lock_guard<std::mutex> lock(mutex);
      if (base < 0) base = total - std::max<std::int64_t>(alloc_size, 0);  // live bytes before this allocation
      peak = std::max(peak, total);
    }
    bool memoryProfilingEnabled() const override { return true; }
  };
  std::shared_ptr<Reporter> reporter_;
  c10::DebugInfoGuard guard_;
};

}  // namespace lathe::test
