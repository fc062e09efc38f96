// The table of attached adapters (see module_adapter.h). Attaching happens at set-up, lookups on
// every forward (possibly from autograd threads recomputing checkpointed blocks), so reads take
// a shared lock and the empty table is checked without one.
#include "models/module_adapter.h"

#include <algorithm>
#include <atomic>
#include <vector>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "common/error.h"

namespace lathe {
namespace {

struct OwnedAdapter {
  const void* owner;
  ModuleAdapterFn fn;
};

struct AdapterTable {
  std::shared_mutex mutex;
  std::unordered_map<const torch::nn::Module*, std::vector<OwnedAdapter>> adapters;
  std::atomic<std::size_t> count{0};  // modules with at least one adapter
};

AdapterTable& table() {
  static AdapterTable t;
  return t;
}

}  // namespace

void attach_adapter(const torch::nn::Module& target, const void* owner, ModuleAdapterFn fn) {
  auto& t = table();
  std::unique_lock lock(t.mutex);
  auto& stack = t.adapters[&target];
  for (const auto& a : stack)
    if (a.owner == owner) throw Error("attaching an adapter: this network already adapts the module");
  stack.push_back({owner, std::move(fn)});
  t.count.store(t.adapters.size(), std::memory_order_relaxed);
}

void detach_adapter(const torch::nn::Module& target, const void* owner) {
  auto& t = table();
  std::unique_lock lock(t.mutex);
  auto it = t.adapters.find(&target);
  if (it == t.adapters.end()) return;
  auto& stack = it->second;
  stack.erase(std::remove_if(stack.begin(), stack.end(), [owner](const OwnedAdapter& a) { return a.owner == owner; }),
              stack.end());
  if (stack.empty()) t.adapters.erase(it);
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
  const std::vector<OwnedAdapter>* stack = nullptr;
  {
    std::shared_lock lock(t.mutex);
    auto it = t.adapters.find(&target);
    if (it != t.adapters.end()) stack = &it->second;
  }
  // Entries only change when a network attaches or detaches, never while one runs a forward.
  if (!stack) return base_out;
  torch::Tensor out = base_out;
  for (const auto& a : *stack) out = a.fn(x, out);
  return out;
}

torch::Tensor adapted_forward(torch::nn::Sequential& seq, torch::Tensor x) {
  for (auto& m : *seq) x = apply_adapter(*m.ptr(), x, m.forward(x));
  return x;
}

torch::Tensor adapted_forward(torch::nn::AnyModule& m, const torch::Tensor& x) {
  return apply_adapter(*m.ptr(), x, m.forward(x));
}

}  // namespace lathe
