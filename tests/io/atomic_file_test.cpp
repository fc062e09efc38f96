// Atomic writes: content replaced whole, mode kept, no temp files left, clear errors.
#include "io/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/error.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using lathe::test::TempDir;

TEST(AtomicFile, WritesAndReadsBack) {
  TempDir dir;
  lathe::write_file_atomic(dir / "a.txt", "hello");
  EXPECT_EQ(lathe::read_file(dir / "a.txt"), "hello");
  lathe::write_file_atomic(dir / "a.txt", std::string("x\0y", 3));
  EXPECT_EQ(lathe::read_file(dir / "a.txt"), std::string("x\0y", 3));
}

TEST(AtomicFile, LeavesNoTempFiles) {
  TempDir dir;
  for (int i = 0; i < 5; ++i) lathe::write_file_atomic(dir / "a.txt", std::to_string(i));
  int count = 0;
  for (auto& e : fs::directory_iterator(dir.path())) (void)e, ++count;
  EXPECT_EQ(count, 1);
}

TEST(AtomicFile, KeepsMode) {
  TempDir dir;
  lathe::write_file_atomic(dir / "a.txt", "1");
  ::chmod((dir / "a.txt").c_str(), 0600);
  lathe::write_file_atomic(dir / "a.txt", "2");
  struct stat st {};
  ::stat((dir / "a.txt").c_str(), &st);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(AtomicFile, MissingFolderIsAClearError) {
  TempDir dir;
  try {
    lathe::write_file_atomic(dir / "no/such/a.txt", "x");
    FAIL() << "expected an error";
  } catch (const lathe::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no/such/a.txt"), std::string::npos) << e.what();
  }
}

TEST(AtomicFile, ReadErrorsNameTheFile) {
  TempDir dir;
  EXPECT_THROW(lathe::read_file(dir / "missing.txt"), lathe::Error);
  EXPECT_THROW(lathe::read_file(dir.path()), lathe::Error);
  lathe::write_file_atomic(dir / "big.txt", std::string(100, 'x'));
  EXPECT_THROW(lathe::read_file(dir / "big.txt", 10), lathe::Error);
}
