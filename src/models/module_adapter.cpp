// The table of attached adapters (see module_adapter.h). Attaching happens at set-up, lookups on
// every forward (possibly from autograd threads recomputing checkpointed blocks), so reads take
// a shared lock and the empty table is checked without one.
#include "models/module_adapter.h"

#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "common/error.h"

namespace lathe {
namespace {

struct AdapterTable {
  std::shared_mutex mutex;
  std::unordered_map<const torch::nn::Module*, ModuleAdapterFn> adapters;
  std::atomic<std::size_t> count{0};
};

AdapterTable& table() {
  static AdapterTable t;
  return t;
}

}  // namespace

void attach_adapter(const torch::nn::Module& target, ModuleAdapterFn fn) {
  auto& t = table();
  std::unique_lock lock(t.mutex);
  if (!t.adapters.emplace(&target, std::move(fn)).second)
    throw Error("attaching an adapter: the module already has one (inject one network per model)");
  t.count.store(t.adapters.size(), std::memory_order_relaxed);
}

void detach_adapter(const torch::nn::Module& target) {
  auto& t = table();
  std::unique_lock lock(t.mutex);
  t.adapters.erase(&target);
  t.count.store(t.adapters.size(), std::memory_order_relaxed);
}

bool has_adapter(const torch::nn::Module& target) {
  auto& t = table();
  std::shared_lock lock(t.mutex);
  return t.adapters.count(&target) != 0;
}

torch::Tensor apply_adapter(const torch::nn::Module& target, const torch::Tensor& x,
                            const torch::Tensor& base_out) {
  auto& t = table();
  if (t.count.load(std::memory_order_relaxed) == 0) return base_out;
  const ModuleAdapterFn* fn = nullptr;
  {
    std::shared_lock lock(t.mutex);
    auto it = t.adapters.find(&target);
    if (it != t.adapters.end()) fn = &it->second;
  }
  // Entries are only erased when their network detaches, never while it runs a forward.
  return fn ? (*fn)(x, base_out) : base_out;
}

torch::Tensor adapted_forward(torch::nn::Sequential& seq, torch::Tensor x) {
  for (auto& m : *seq) x = apply_adapter(*m.ptr(), x, m.forward(x));
  return x;
}

torch::Tensor adapted_forward(torch::nn::AnyModule& m, const torch::Tensor& x) {
  return apply_adapter(*m.ptr(), x, m.forward(x));
}

}  // namespace lathe
