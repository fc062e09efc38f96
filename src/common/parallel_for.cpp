// Thread fan-out for file-bound loops (see parallel_for.h).
#include "common/parallel_for.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

namespace lathe {

void parallel_for(std::size_t n, const std::function<void(std::size_t)>& task,
                  const ParallelOptions& options) {
  const std::size_t per = std::max<std::size_t>(options.min_per_thread, 1);
  const std::size_t n_threads = std::clamp<std::size_t>(n / per, 1, std::max<std::size_t>(options.max_threads, 1));
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::size_t failed_index = std::numeric_limits<std::size_t>::max();
  std::exception_ptr error;
  auto worker = [&] {
    for (std::size_t i; !failed && (i = next++) < n;) {
      try {
        task(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        failed = true;
        if (i < failed_index) failed_index = i, error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < n_threads; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace lathe
