// Batched atomic writes: every target gets its new bytes and keeps (or gets) its permission
// bits whether the caller passes them or they are looked up, whatever the umask strips, on the
// single-thread path (small batches) and the many-thread one; no temp file stays behind. A
// target changed right before its rename is left alone; run as root, owners are kept.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "io/atomic_batch.h"
#include "io/atomic_file.h"
#include "io/file_owner.h"
#include "io/file_stamp.h"
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

// The last check before each rename (#14): a target another program changes between the
// caller's check and its rename is left with that program's bytes and reported; the others
// are written. The hook stands for the other program, landing at the worst moment.
namespace {

struct CheckedBatch {
  lathe::test::TempDir dir;
  std::vector<fs::path> paths;
  std::vector<std::string> old_bytes, new_bytes;
  std::vector<FileStamp> stamps;

  explicit CheckedBatch(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      paths.push_back(dir / fmt::format("{:03d}.txt", i));
      old_bytes.push_back(fmt::format("old {}\n", i));
      new_bytes.push_back(fmt::format("new {}\n", i));
      lathe::test::write_text(paths[i], old_bytes[i]);
    }
    stamps.resize(count);
    for (std::size_t i = 0; i < count; ++i)
      EXPECT_EQ(read_file_stamped(paths[i], 1 << 20, stamps[i]), old_bytes[i]);
  }
  std::vector<AtomicBatchEntry> entries() const {
    std::vector<AtomicBatchEntry> out;
    for (std::size_t i = 0; i < paths.size(); ++i)
      out.push_back({paths[i], new_bytes[i], 0u, &stamps[i], old_bytes[i]});
    return out;
  }
};

}  // namespace

TEST(AtomicBatchRecheck, FileChangedBeforeItsRenameIsLeftAlone) {
  for (std::size_t count : {4u, 300u}) {  // the single-thread path and the many-thread one
    CheckedBatch b(count);
    const std::size_t victim = count / 2;
    const std::string theirs = "written by another program meanwhile\n";
    auto skipped = write_files_atomic(b.entries(), "t", {}, nullptr, [&](std::size_t i) {
      if (i == victim) lathe::test::write_text(b.paths[i], theirs);
    });
    ASSERT_EQ(skipped.size(), 1u);
    EXPECT_EQ(skipped[0].index, victim);
    EXPECT_NE(skipped[0].change.find("size"), std::string::npos) << skipped[0].change;
    EXPECT_EQ(read_file(b.paths[victim]), theirs);
    for (std::size_t i = 0; i < count; ++i)
      if (i != victim) {
        EXPECT_EQ(read_file(b.paths[i]), b.new_bytes[i]) << i;
      }
    EXPECT_EQ(entries_in(b.dir.path()), count);  // the victim's temp file is gone too
  }
}

TEST(AtomicBatchRecheck, SameSizeRewriteAndReplacementAndDeletionAreCaught) {
  CheckedBatch b(3);
  // Same size, other bytes (only the times tell): caught by the content read.
  const std::string same_size = "OLD 0\n";
  ASSERT_EQ(same_size.size(), b.old_bytes[0].size());
  auto skipped = write_files_atomic(b.entries(), "t", {}, nullptr, [&](std::size_t i) {
    if (i == 0) lathe::test::write_text(b.paths[0], same_size);
    if (i == 1) {  // replaced by a rename, as editors save
      lathe::test::write_text(b.dir / "other", "theirs\n");
      fs::rename(b.dir / "other", b.paths[1]);
    }
    if (i == 2) fs::remove(b.paths[2]);
  });
  ASSERT_EQ(skipped.size(), 3u);
  EXPECT_EQ(read_file(b.paths[0]), same_size);
  EXPECT_EQ(read_file(b.paths[1]), "theirs\n");
  EXPECT_FALSE(fs::exists(b.paths[2]));
  EXPECT_EQ(skipped[2].change, "it was deleted or renamed");
  EXPECT_EQ(entries_in(b.dir.path()), 2u);
}

TEST(AtomicBatchRecheck, TouchedOrRewrittenWithTheSameBytesIsStillWritten) {
  CheckedBatch b(2);
  auto skipped = write_files_atomic(b.entries(), "t", {}, nullptr, [&](std::size_t i) {
    if (i == 0) {
      const timespec times[2] = {{0, UTIME_NOW}, {12345, 0}};
      ASSERT_EQ(::utimensat(AT_FDCWD, b.paths[0].c_str(), times, 0), 0);
    }
    if (i == 1) lathe::test::write_text(b.paths[1], b.old_bytes[1]);
  });
  EXPECT_TRUE(skipped.empty());
  EXPECT_EQ(read_file(b.paths[0]), b.new_bytes[0]);
  EXPECT_EQ(read_file(b.paths[1]), b.new_bytes[1]);
}

// Run as root, a rewritten file keeps its owner and group, with a stamp and without one.
TEST(AtomicBatchOwner, RewrittenFilesKeepTheirOwnerUnderRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to make files owned by another user";
  CheckedBatch b(3);
  for (const auto& p : b.paths) ASSERT_EQ(::chown(p.c_str(), 12345, 12346), 0);
  ASSERT_EQ(::chmod(b.paths[1].c_str(), 0640), 0);
  for (std::size_t i = 0; i < 3; ++i) ASSERT_EQ(read_file_stamped(b.paths[i], 1 << 20, b.stamps[i]), b.old_bytes[i]);
  auto entries = b.entries();
  entries[2].expect = nullptr;  // looked up from the target instead
  EXPECT_TRUE(write_files_atomic(entries, "t").empty());
  for (std::size_t i = 0; i < 3; ++i) {
    struct stat st {};
    ASSERT_EQ(::stat(b.paths[i].c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 12345u) << i;
    EXPECT_EQ(st.st_gid, 12346u) << i;
    EXPECT_EQ(read_file(b.paths[i]), b.new_bytes[i]);
  }
  EXPECT_EQ(mode_of(b.paths[1]), 0640u);
}

TEST(AtomicBatchOwner, OwnedAtomicWriteGivesTheFileToTheOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give files to another user";
  lathe::test::TempDir dir;
  const fs::path p = dir / "state.json";
  write_file_atomic_owned(p, "{}\n", FileOwner{12345, 12346});
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 12345u);
  EXPECT_EQ(st.st_gid, 12346u);
  EXPECT_EQ(read_file(p), "{}\n");
  EXPECT_EQ(entries_in(dir.path()), 1u);
}
