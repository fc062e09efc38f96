// Batched atomic writes: every target gets its new bytes and keeps (or gets) its permission
// bits whether the caller passes them or they are looked up, whatever the umask strips, on the
// single-thread path (small batches) and the many-thread one; no temp file stays behind.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include "io/atomic_batch.h"
#include "io/atomic_file.h"
#include "temp_dir.h"

using namespace lathe;
namespace fs = std::filesystem;

namespace {

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

std::size_t entries_in(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

constexpr unsigned kModes[] = {0600, 0644, 0666, 0755, 0640, 0604};

// Writes `count` files with varied modes, then replaces them all in one batch.
void check_batch(std::size_t count, bool pass_modes) {
  lathe::test::TempDir dir;
  const mode_t old_umask = ::umask(022);  // strips 0666's group/other write: needs fchmod
  std::vector<fs::path> paths;
  std::vector<std::string> bytes;
  std::vector<AtomicBatchEntry> entries;
  for (std::size_t i = 0; i < count; ++i) {
    paths.push_back(dir / fmt::format("{:04d}.txt", i));
    lathe::test::write_text(paths[i], "old\n");
    ::chmod(paths[i].c_str(), kModes[i % std::size(kModes)]);
    bytes.push_back(fmt::format("new {}\n", i));
  }
  for (std::size_t i = 0; i < count; ++i)
    entries.push_back({paths[i], bytes[i], pass_modes ? kModes[i % std::size(kModes)] : 0u});
  AtomicBatchTimings timings;
  write_files_atomic(entries, "t", {}, &timings);
  ::umask(old_umask);
  for (std::size_t i = 0; i < count; ++i) {
    EXPECT_EQ(read_file(paths[i]), bytes[i]);
    EXPECT_EQ(mode_of(paths[i]), kModes[i % std::size(kModes)]) << paths[i];
  }
  EXPECT_EQ(entries_in(dir.path()), count);  // no temp file left
  EXPECT_GT(timings.temp_files_s, 0.0);
  EXPECT_GT(timings.renames_s, 0.0);
}

}  // namespace

TEST(AtomicBatch, KeepsEachTargetsModeWhenLookedUp) {
  check_batch(12, false);
  check_batch(300, false);
}

TEST(AtomicBatch, GivesTheModesPassedIn) {
  check_batch(12, true);
  check_batch(300, true);
}

TEST(AtomicBatch, NewFileGetsTheDefaultMode) {
  lathe::test::TempDir dir;
  const mode_t old_umask = ::umask(022);
  const fs::path p = dir / "new.txt";
  const std::string bytes = "fresh\n";
  write_files_atomic({{p, bytes}}, "t");
  ::umask(old_umask);
  EXPECT_EQ(read_file(p), bytes);
  EXPECT_EQ(mode_of(p), 0644u);
}
