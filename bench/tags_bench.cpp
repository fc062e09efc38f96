// Caption edit speed: remove one tag from 100,000 captions, journaled (read + plan, conflict
// check, journal batch file, batched atomic writes, commit), the `lathe tags remove` path
// minus the dataset scan. Target: <= 3 s. Each repetition undoes the batch untimed, so every
// run edits the same 100,000 files. LATHE_BENCH_FILES overrides the count for a quick try.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <fmt/format.h>

#include "dataset/edit_engine.h"
#include "io/atomic_file.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;

std::size_t file_count() {
  const char* env = std::getenv("LATHE_BENCH_FILES");
  return env ? std::strtoull(env, nullptr, 10) : 100000;
}

// 100 concepts of 1,000 captions: realistic booru-style tag lists of about 150 bytes.
struct Corpus {
  lathe::test::TempDir dir;
  std::vector<lathe::CaptionRef> refs;
  Corpus() {
    const std::size_t n = file_count();
    for (std::size_t i = 0; i < n; ++i) {
      fs::path folder = dir / fmt::format("10_concept{:03d}", i / 1000);
      if (i % 1000 == 0) fs::create_directories(folder);
      refs.push_back({folder / fmt::format("{:06d}.txt", i), fmt::format("concept{:03d}", i / 1000)});
    }
    // Made on many threads: creating a file waits on the file system, not the CPU.
    std::vector<std::thread> writers;
    for (std::size_t t = 0; t < 32; ++t)
      writers.emplace_back([this, t, n] {
        for (std::size_t i = t; i < n; i += 32)
          lathe::test::write_text(refs[i].path,
                                  fmt::format("c{}, 1girl, solo, long hair, looking at viewer, "
                                              "smile, blurry, outdoors, day, blue sky, upper "
                                              "body, shirt, white background, tag{}\n",
                                              i / 1000, i % 97));
      });
    for (auto& w : writers) w.join();
    // A user's captions are on disk long before they edit them. Without this, the timed edit
    // would also pay for writing back the 100,000 files just made (file creation stalls
    // behind that writeback here: ~3 ms instead of ~50 us per file).
    ::sync();
  }
};

void BM_RemoveTagJournaled(benchmark::State& state) {
  static Corpus corpus;
  lathe::EditOp op;
  op.kind = lathe::EditOp::Kind::Remove;
  op.tag = "blurry";
  double plan_s = 0, apply_s = 0;
  for (auto _ : state) {
    lathe::EditEngine engine(corpus.dir.path(), true);
    auto t0 = std::chrono::steady_clock::now();
    auto plan = engine.plan(op, corpus.refs, {});
    auto t1 = std::chrono::steady_clock::now();
    auto result = engine.apply(std::move(plan));
    auto t2 = std::chrono::steady_clock::now();
    plan_s += std::chrono::duration<double>(t1 - t0).count();
    apply_s += std::chrono::duration<double>(t2 - t1).count();
    if (result.files_written != corpus.refs.size()) state.SkipWithError("not every caption changed");
    state.PauseTiming();
    engine.journal().undo();
    state.ResumeTiming();
  }
  state.counters["files"] = static_cast<double>(corpus.refs.size());
  state.counters["plan_s"] = plan_s / static_cast<double>(state.iterations());
  state.counters["apply_s"] = apply_s / static_cast<double>(state.iterations());
}

BENCHMARK(BM_RemoveTagJournaled)->Unit(benchmark::kSecond)->Iterations(1)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
