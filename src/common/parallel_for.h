// Runs independent tasks over an index range on a few threads, for work that waits on the file
// system rather than the CPU (reading or renaming thousands of small files): many requests in
// flight at once share the disk's latency. Small ranges run in order on the calling thread.
#pragma once

#include <cstddef>
#include <functional>

namespace lathe {

struct ParallelOptions {
  std::size_t max_threads = 32;
  std::size_t min_per_thread = 64;  // below 2x this, everything runs on the calling thread
};

// Calls task(i) once for every i in [0, n), in any order. When tasks throw, the remaining
// unstarted indices are skipped and the exception of the lowest failing index is rethrown
// after every thread has joined, so the error a caller sees does not depend on timing.
void parallel_for(std::size_t n, const std::function<void(std::size_t)>& task,
                  const ParallelOptions& options = {});

}  // namespace lathe
