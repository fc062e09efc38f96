// Caption edit speed: remove one tag from 100,000 captions, journaled (read + plan, conflict
// check, journal batch file, batched atomic writes, commit), the `lathe tags remove` path
// minus the dataset scan. Target: <= 3 s. Each repetition undoes the batch untimed, so every
// run edits the same 100,000 files. LATHE_BENCH_FILES overrides the count for a quick try.
//
// BM_WriteRuleFloor measures what the write rule alone costs on this disk: the same
// 100,000 captions replaced with bare system calls (temp file in the same folder, one syncfs,
// rename, one fsync per folder) and nothing else, no reading, no journal, no checks. No
// implementation of that rule can edit the captions faster than this.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <fmt/format.h>

#include "common/stopwatch.h"
#include "dataset/edit_engine.h"
#include "io/atomic_file.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kFilesPerFolder = 1000;

std::size_t file_count() {
  const char* env = std::getenv("LATHE_BENCH_FILES");
  return env ? std::strtoull(env, nullptr, 10) : 100000;
}

std::string caption_text(std::size_t i) {
  return fmt::format("c{}, 1girl, solo, long hair, looking at viewer, smile, blurry, outdoors, "
                     "day, blue sky, upper body, shirt, white background, tag{}\n",
                     i / kFilesPerFolder, i % 97);
}

// LATHE_BENCH_SETTLE_S=N waits N seconds after making the corpus. ext4 without a journal (this
// VM's disk) skips inodes freed in the last 60-360 s when it allocates new ones, scanning past
// each of them: right after a batch frees 100,000 old caption files (the previous edit, or
// the previous run's clean-up), creating files costs several times more. 400 s measures a
// dataset at rest; 0 (the default) measures an edit that follows another one.
void settle() {
  const char* env = std::getenv("LATHE_BENCH_SETTLE_S");
  if (env) std::this_thread::sleep_for(std::chrono::seconds(std::strtoll(env, nullptr, 10)));
}

// Runs fn(i) for i in [0, n) on `threads` threads, each taking the next index in turn.
void on_threads(std::size_t n, std::size_t threads, const std::function<void(std::size_t)>& fn) {
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (std::size_t i = next++; i < n; i = next++) fn(i);
    });
  for (auto& th : pool) th.join();
}

// 100 concepts of 1,000 captions: realistic booru-style tag lists of about 150 bytes.
struct Corpus {
  lathe::test::TempDir dir;
  std::vector<lathe::CaptionRef> refs;
  std::vector<fs::path> folders;
  Corpus() {
    const std::size_t n = file_count();
    for (std::size_t i = 0; i < n; ++i) {
      const std::string concept_name = fmt::format("concept{:03d}", i / kFilesPerFolder);
      fs::path folder = dir / ("10_" + concept_name);
      if (i % kFilesPerFolder == 0) fs::create_directories(folder), folders.push_back(folder);
      refs.push_back({folder / fmt::format("{:06d}.txt", i), concept_name});
    }
    // Made on many threads: creating a file waits on the file system, not the CPU.
    on_threads(n, 32, [this](std::size_t i) {
      lathe::test::write_text(refs[i].path, caption_text(i));
    });
    // A user's captions are on disk long before they edit them. Without this, the timed edit
    // would also pay for writing back the 100,000 files just made (file creation stalls
    // behind that writeback here: ~3 ms instead of ~50 us per file).
    ::sync();
    settle();
  }
  // The k-th file when going through the folders in turn (first file of each folder, then
  // the second of each, ...), as Lathe's batch writer does: creating or renaming a file locks
  // its folder.
  std::size_t interleaved(std::size_t k) const {
    const std::size_t folder_count = folders.size();
    const std::size_t i = (k % folder_count) * kFilesPerFolder + k / folder_count;
    return i < refs.size() ? i : k;  // a short last folder (LATHE_BENCH_FILES): plain order
  }
};

Corpus& corpus() {
  static Corpus c;
  return c;
}

void BM_RemoveTagJournaled(benchmark::State& state) {
  Corpus& c = corpus();
  lathe::EditOp op;
  op.kind = lathe::EditOp::Kind::Remove;
  op.tag = "blurry";
  double plan_s = 0;
  lathe::EditTimings t;
  for (auto _ : state) {
    lathe::EditEngine engine(c.dir.path(), true);
    lathe::Stopwatch watch;
    auto plan = engine.plan(op, c.refs, {});
    plan_s += watch.lap();
    auto result = engine.apply(std::move(plan));
    t = result.timings;
    if (result.files_written != c.refs.size()) state.SkipWithError("not every caption changed");
    state.PauseTiming();
    engine.journal().undo();
    state.ResumeTiming();
  }
  state.counters["files"] = static_cast<double>(c.refs.size());
  state.counters["plan_s"] = plan_s / static_cast<double>(state.iterations());
  // Phases of the last apply.
  state.counters["check_s"] = t.check_s;
  state.counters["journal_s"] = t.journal_s;
  state.counters["temps_s"] = t.writes.temp_files_s;
  state.counters["syncfs_s"] = t.writes.flush_s;
  state.counters["renames_s"] = t.writes.renames_s;
  state.counters["dirsync_s"] = t.writes.folder_sync_s + t.commit_s;
}

void write_or_die(const fs::path& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 || ::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()) ||
      ::close(fd) != 0)
    throw std::runtime_error("cannot write " + path.string());
}

void BM_WriteRuleFloor(benchmark::State& state) {
  Corpus& c = corpus();
  const std::size_t n = c.refs.size(), threads = static_cast<std::size_t>(state.range(0));
  // The same bytes again: the file system does the same work whatever they are, and the
  // corpus stays ready for the journaled benchmark.
  std::vector<std::string> bytes(n);
  std::vector<fs::path> temps(n);
  for (std::size_t i = 0; i < n; ++i) {
    bytes[i] = caption_text(i);
    temps[i] = c.refs[i].path.parent_path() / ("." + c.refs[i].path.filename().string() + ".tmp");
  }
  double create_s = 0, syncfs_s = 0, rename_s = 0;
  for (auto _ : state) {
    lathe::Stopwatch watch;
    on_threads(n, threads, [&](std::size_t k) {
      const std::size_t i = c.interleaved(k);
      write_or_die(temps[i], bytes[i]);
    });
    create_s += watch.lap();
    const int root = ::open(c.dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ::syncfs(root);
    ::close(root);
    syncfs_s += watch.lap();
    on_threads(n, threads, [&](std::size_t k) {
      const std::size_t i = c.interleaved(k);
      if (::rename(temps[i].c_str(), c.refs[i].path.c_str()) != 0)
        throw std::runtime_error("cannot rename " + temps[i].string());
    });
    for (const auto& folder : c.folders) lathe::fsync_directory(folder);
    rename_s += watch.lap();
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["files"] = static_cast<double>(n);
  state.counters["temps_s"] = create_s / iters;
  state.counters["syncfs_s"] = syncfs_s / iters;
  state.counters["renames_s"] = rename_s / iters;
}

// The same, with every caption's old file kept alive by a second hard link (made untimed), so
// no rename frees an inode: what the rule costs when freeing the old files is left out.
void BM_WriteRuleFloorKeepOld(benchmark::State& state) {
  Corpus& c = corpus();
  static bool linked = false;
  if (!linked) {
    const fs::path keep = c.dir / "kept";
    fs::create_directories(keep);
    on_threads(c.refs.size(), 32, [&](std::size_t i) {
      ::link(c.refs[i].path.c_str(), (keep / std::to_string(i)).c_str());
    });
    ::sync();
    linked = true;
  }
  BM_WriteRuleFloor(state);
}

BENCHMARK(BM_RemoveTagJournaled)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();
BENCHMARK(BM_WriteRuleFloorKeepOld)->Arg(32)->ArgName("threads")->Unit(benchmark::kSecond)
    ->Iterations(1)->UseRealTime();
BENCHMARK(BM_WriteRuleFloor)->Arg(2)->Arg(8)->Arg(32)->Arg(64)->ArgName("threads")
    ->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
