// The edit engine and its journal: apply/undo/redo restore exact bytes, history, conflicts,
// read-only and unwritable files, a write failing mid-batch, crashes (a forked child that
// dies mid-batch) rolled back on the next open, the lock, a damaged journal, and the property
// that any random sequence of edits undone in full gives back every original byte.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>

#include "common/error.h"
#include "dataset/edit_engine.h"
#include "io/atomic_batch.h"
#include "io/atomic_file.h"
#include "temp_dir.h"

using namespace lathe;
namespace fs = std::filesystem;
using lathe::test::TempDir;
using lathe::test::write_text;

namespace {

using K = EditOp::Kind;

EditOp op_of(K kind, std::string tag = {}, std::string new_tag = {}) {
  EditOp op;
  op.kind = kind;
  op.tag = std::move(tag);
  op.new_tag = std::move(new_tag);
  return op;
}

struct Fixture {
  TempDir dir;
  std::vector<CaptionRef> refs;
  std::vector<std::string> original;

  explicit Fixture(const std::vector<std::string>& captions) {
    for (std::size_t i = 0; i < captions.size(); ++i) {
      fs::path p = dir / ("10_c/" + std::to_string(i) + ".txt");
      write_text(p, captions[i]);
      refs.push_back({p, "c"});
      original.push_back(captions[i]);
    }
  }
  std::vector<std::string> bytes() const {
    std::vector<std::string> out;
    for (const auto& r : refs) out.push_back(read_file(r.path));
    return out;
  }
};

ApplyResult apply_op(EditEngine& engine, const Fixture& f, const EditOp& op,
                     const EditScope& scope = {}, const AfterWriteHook& hook = {}) {
  return engine.apply(engine.plan(op, f.refs, scope), hook);
}

std::size_t temp_files_in(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp") != std::string::npos) ++n;
  return n;
}

const std::vector<std::string> kCaptions = {
    "1girl, blurry, solo\n", "\xEF\xBB\xBF" "blurry,smile\r\n", "solo, smile", "  blurry  \n",
    "a, b\nblurry, c\n"};

}  // namespace

TEST(EditEngine, PlanCountsChangesAndFilters) {
  Fixture f(kCaptions);
  EditEngine engine(f.dir.path(), true);
  auto plan = engine.plan(op_of(K::Remove, "blurry"), f.refs, {});
  EXPECT_EQ(plan.files_in_scope, 5u);
  EXPECT_EQ(plan.files_matched, 5u);
  EXPECT_EQ(plan.changes.size(), 4u);
  EXPECT_EQ(plan.changes[0].rel_path, "10_c/0.txt");
  EXPECT_EQ(plan.changes[0].after, "1girl, solo\n");
  EditScope scope;
  scope.where_tags = {"smile"};
  scope.where_no_tags = {"solo"};
  auto filtered = engine.plan(op_of(K::Remove, "blurry"), f.refs, scope);
  EXPECT_EQ(filtered.files_matched, 1u);
  ASSERT_EQ(filtered.changes.size(), 1u);
  EXPECT_EQ(filtered.changes[0].after, "\xEF\xBB\xBF" "smile\r\n");
  EXPECT_EQ(f.bytes(), f.original);  // planning writes nothing
}

TEST(EditEngine, ApplyUndoRedoRestoreExactBytes) {
  Fixture f(kCaptions);
  EditEngine engine(f.dir.path(), true);
  auto r = apply_op(engine, f, op_of(K::Remove, "blurry"));
  EXPECT_EQ(r.batch, 1);
  EXPECT_EQ(r.files_written, 4u);
  const std::vector<std::string> after = {"1girl, solo\n", "\xEF\xBB\xBF" "smile\r\n", "solo, smile",
                                          "  \n", "a, b\nc\n"};
  EXPECT_EQ(f.bytes(), after);
  auto undone = engine.journal().undo();
  ASSERT_TRUE(undone);
  EXPECT_EQ(undone->id, 1);
  EXPECT_EQ(f.bytes(), f.original);
  EXPECT_FALSE(engine.journal().undo());  // nothing left
  ASSERT_TRUE(engine.journal().redo());
  EXPECT_EQ(f.bytes(), after);
  EXPECT_FALSE(engine.journal().redo());
  auto h = engine.journal().history();
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].status, BatchStatus::Applied);
  EXPECT_EQ(h[0].header.files, 4u);
  EXPECT_EQ(h[0].header.summary, "remove \"blurry\"");
  EXPECT_EQ(temp_files_in(f.dir.path()), 0u);
}

TEST(EditEngine, ApplyReportsWhereItsTimeWent) {
  std::vector<std::string> captions(200, "1girl, blurry, solo\n");  // the parallel write path
  Fixture f(captions);
  EditEngine engine(f.dir.path(), true);
  auto plan = engine.plan(op_of(K::Remove, "blurry"), f.refs, {});
  const auto start = std::chrono::steady_clock::now();
  const ApplyResult result = engine.apply(std::move(plan));
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const EditTimings& t = result.timings;
  for (double phase : {t.check_s, t.journal_s, t.writes.temp_files_s, t.writes.flush_s,
                       t.writes.renames_s, t.writes.folder_sync_s, t.commit_s})
    EXPECT_GT(phase, 0.0);
  const double sum = t.check_s + t.journal_s + t.writes.temp_files_s + t.writes.flush_s +
                     t.writes.renames_s + t.writes.folder_sync_s + t.commit_s;
  EXPECT_LE(sum, wall);
  EXPECT_GT(sum, 0.5 * wall);  // the phases cover the apply, not a part of it
}

TEST(EditEngine, NothingToChangeWritesNoBatch) {
  Fixture f(kCaptions);
  EditEngine engine(f.dir.path(), true);
  auto r = apply_op(engine, f, op_of(K::Remove, "absent"));
  EXPECT_EQ(r.batch, 0);
  EXPECT_TRUE(engine.journal().history().empty());
}

TEST(EditEngine, NewEditDiscardsRedoChainButKeepsHistory) {
  Fixture f(kCaptions);
  EditEngine engine(f.dir.path(), true);
  apply_op(engine, f, op_of(K::Remove, "blurry"));
  engine.journal().undo();
  apply_op(engine, f, op_of(K::Add, "new"));
  EXPECT_FALSE(engine.journal().redo());
  auto h = engine.journal().history();
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].status, BatchStatus::Discarded);
  EXPECT_EQ(h[1].status, BatchStatus::Applied);
  EXPECT_EQ(h[1].header.id, 2);
}

TEST(EditEngine, JournalSurvivesReopen) {
  Fixture f(kCaptions);
  {
    EditEngine engine(f.dir.path(), true);
    apply_op(engine, f, op_of(K::Add, "x", {}));
    apply_op(engine, f, op_of(K::Rename, "solo", "alone"));
  }
  EditEngine again(f.dir.path(), false);
  EXPECT_FALSE(again.journal().recovery().happened);
  ASSERT_TRUE(again.journal().undo());
  ASSERT_TRUE(again.journal().undo());
  EXPECT_EQ(f.bytes(), f.original);
}

TEST(EditEngine, ConflictNamesTheFileAndWritesNothing) {
  Fixture f(kCaptions);
  EditEngine engine(f.dir.path(), true);
  auto plan = engine.plan(op_of(K::Remove, "blurry"), f.refs, {});
  write_text(f.refs[3].path, "blurry, changed by a tagger\n");  // after the plan read it
  try {
    engine.apply(plan);
    FAIL() << "expected a conflict";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("3.txt changed on disk since Lathe read it"), std::string::npos) << msg;
    EXPECT_NE(msg.find("nothing was written"), std::string::npos) << msg;
  }
  EXPECT_EQ(read_file(f.refs[0].path), f.original[0]);  // the others are untouched too
  EXPECT_EQ(read_file(f.refs[3].path), "blurry, changed by a tagger\n");
  EXPECT_TRUE(engine.journal().history().empty());
}

TEST(EditEngine, ConflictSaysWhatChanged) {
  Fixture f(kCaptions);
  EditEngine engine(f.dir.path(), true);
  auto expect_conflict = [&](const std::string& what) {
    auto plan = engine.plan(op_of(K::Remove, "blurry"), f.refs, {});
    if (what == "deleted") fs::remove(f.refs[0].path);
    else write_text(f.refs[0].path, f.original[0] + "longer");
    try {
      engine.apply(plan);
      ADD_FAILURE() << "expected a conflict";
    } catch (const Error& e) {
      const std::string msg = e.what();
      const std::string expected = what == "deleted" ? "it was deleted or renamed"
                                                     : "its size went from 20 to 26 bytes";
      EXPECT_NE(msg.find(expected), std::string::npos) << msg;
    }
  };
  expect_conflict("grown");
  expect_conflict("deleted");
  EXPECT_TRUE(engine.journal().history().empty());
}

TEST(EditEngine, ConflictDetectsSameSizeContentChange) {
  Fixture f({"a, blurry\n"});
  EditEngine engine(f.dir.path(), true);
  auto plan = engine.plan(op_of(K::Remove, "blurry"), f.refs, {});
  struct stat st {};
  ASSERT_EQ(::stat(f.refs[0].path.c_str(), &st), 0);
  write_text(f.refs[0].path, "b, blurry\n");  // same size
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, f.refs[0].path.c_str(), times, 0), 0);  // same mtime
  try {
    engine.apply(plan);
    FAIL() << "expected a conflict";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("its content changed"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(f.refs[0].path), "b, blurry\n");
}

TEST(EditEngine, UndoRefusesWhenCaptionChangedSince) {
  Fixture f(kCaptions);
  EditEngine engine(f.dir.path(), true);
  apply_op(engine, f, op_of(K::Remove, "blurry"));
  write_text(f.refs[0].path, "hand edited\n");
  try {
    engine.journal().undo();
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("10_c/0.txt"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(f.refs[0].path), "hand edited\n");
  EXPECT_EQ(read_file(f.refs[1].path), "\xEF\xBB\xBF" "smile\r\n");  // nothing undone
  write_text(f.refs[0].path, "1girl, solo\n");  // put it back: undo works again
  EXPECT_TRUE(engine.journal().undo());
  EXPECT_EQ(f.bytes(), f.original);
}

TEST(EditEngine, ReadOnlyCaptionIsRefused) {
  Fixture f(kCaptions);
  ::chmod(f.refs[3].path.c_str(), 0444);
  EditEngine engine(f.dir.path(), true);
  try {
    apply_op(engine, f, op_of(K::Remove, "blurry"));
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("read-only: 10_c/3.txt"), std::string::npos) << msg;
    EXPECT_NE(msg.find("chmod u+w"), std::string::npos) << msg;
  }
  EXPECT_EQ(f.bytes(), f.original);
  EditScope scope;
  scope.where_tags = {"smile"};  // leaves the read-only file out
  EXPECT_EQ(apply_op(engine, f, op_of(K::Remove, "blurry"), scope).files_written, 1u);
}

TEST(EditEngine, UnreadableCaptionStopsThePlan) {
  Fixture f(kCaptions);
  fs::remove(f.refs[2].path);
  fs::create_directory(f.refs[2].path);  // a folder where a caption was: cannot be read
  EditEngine engine(f.dir.path(), true);
  try {
    engine.plan(op_of(K::Remove, "blurry"), f.refs, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("2.txt"), std::string::npos) << e.what();
  }
}

TEST(EditEngine, PermissionDeniedFolderRollsBack) {
  if (::geteuid() == 0)
    GTEST_SKIP() << "running as root: chmod cannot deny writes; the write failure path is "
                    "covered by WriteFailureMidBatchRestoresWrittenFiles";
  Fixture f(kCaptions);
  EditEngine engine(f.dir.path(), true);
  ::chmod((f.dir / "10_c").c_str(), 0555);
  try {
    apply_op(engine, f, op_of(K::Remove, "blurry"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Permission denied"), std::string::npos) << e.what();
  }
  ::chmod((f.dir / "10_c").c_str(), 0755);
  EXPECT_EQ(f.bytes(), f.original);
  ASSERT_EQ(engine.journal().history().size(), 1u);
  EXPECT_EQ(engine.journal().history()[0].status, BatchStatus::RolledBack);
}

TEST(EditEngine, WriteFailureBeforeAnyRenameChangesNothing) {
  // A name so long that the temp file beside it cannot be created (ENAMETOOLONG): a write
  // failure that root cannot bypass.
  Fixture f(kCaptions);
  fs::path long_name = f.dir / ("10_c/" + std::string(245, 'x') + ".txt");
  write_text(long_name, "blurry, z\n");
  f.refs.push_back({long_name, "c"});
  f.original.push_back("blurry, z\n");
  EditEngine engine(f.dir.path(), true);
  try {
    apply_op(engine, f, op_of(K::Remove, "blurry"));
    FAIL();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("File name too long"), std::string::npos) << msg;
    EXPECT_NE(msg.find("nothing changed"), std::string::npos) << msg;
  }
  EXPECT_EQ(f.bytes(), f.original);
  EXPECT_EQ(temp_files_in(f.dir.path()), 0u);
  EXPECT_EQ(engine.journal().history().at(0).status, BatchStatus::RolledBack);
}

TEST(EditEngine, WriteFailureMidBatchRestoresWrittenFiles) {
  Fixture f(kCaptions);
  EditEngine engine(f.dir.path(), true);
  auto plan = engine.plan(op_of(K::Remove, "blurry"), f.refs, {});
  ASSERT_EQ(plan.changes.size(), 4u);
  // After two captions are replaced, the third one's temp file vanishes: its rename fails.
  // (A caption replaced by a folder instead is found by the last check and left alone.)
  const fs::path third = plan.changes[2].path;
  try {
    engine.apply(plan, [&](std::size_t written) {
      if (written == 2) fs::remove(batch_temp_path(third, "lathe-b1"));
    });
    FAIL();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("2 caption(s) already written were restored"), std::string::npos) << msg;
  }
  EXPECT_EQ(read_file(f.refs[0].path), f.original[0]);
  EXPECT_EQ(read_file(f.refs[1].path), f.original[1]);
  EXPECT_EQ(read_file(f.refs[4].path), f.original[4]);
  EXPECT_EQ(temp_files_in(f.dir.path()), 0u);
}

namespace {

// Runs `body` in a forked child that dies (no cleanup, like kill -9) after `n` caption writes.
void crash_child_after(std::size_t n, const std::function<void(const AfterWriteHook&)>& body) {
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      body([n](std::size_t written) {
        if (written == n) ::_exit(42);
      });
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 42) << "the child did not crash where planned";
}

}  // namespace

TEST(EditJournalRecovery, CrashedApplyIsRolledBackOnNextOpen) {
  Fixture f(kCaptions);
  crash_child_after(2, [&](const AfterWriteHook& hook) {
    EditEngine engine(f.dir.path(), true);
    apply_op(engine, f, op_of(K::Remove, "blurry"), {}, hook);
  });
  EXPECT_NE(f.bytes(), f.original);    // the crash left a mix
  EXPECT_GT(temp_files_in(f.dir / "10_c"), 0u);  // and temp files of the unwritten ones
  EditEngine engine(f.dir.path(), false);
  const auto& r = engine.journal().recovery();
  EXPECT_TRUE(r.happened);
  EXPECT_EQ(r.action, "apply");
  EXPECT_EQ(r.restored, 2u);
  EXPECT_TRUE(r.left_alone.empty());
  EXPECT_NE(r.message().find("rolled back"), std::string::npos);
  EXPECT_EQ(f.bytes(), f.original);
  EXPECT_EQ(temp_files_in(f.dir / "10_c"), 0u);
  auto h = engine.journal().history();
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].status, BatchStatus::RolledBack);
  EXPECT_FALSE(engine.journal().undo());  // a rolled-back batch is not undoable
}

TEST(EditJournalRecovery, CrashedUndoIsRolledBackToApplied) {
  Fixture f(kCaptions);
  std::vector<std::string> after;
  {
    EditEngine engine(f.dir.path(), true);
    apply_op(engine, f, op_of(K::Remove, "blurry"));
    after = f.bytes();
  }
  crash_child_after(3, [&](const AfterWriteHook& hook) {
    EditEngine engine(f.dir.path(), false);
    engine.journal().undo(hook);
  });
  EditEngine engine(f.dir.path(), false);
  EXPECT_EQ(engine.journal().recovery().action, "undo");
  EXPECT_EQ(engine.journal().recovery().restored, 3u);
  EXPECT_EQ(f.bytes(), after);
  ASSERT_TRUE(engine.journal().undo());  // and a clean undo still works
  EXPECT_EQ(f.bytes(), f.original);
}

TEST(EditJournalRecovery, CaptionChangedAfterCrashIsLeftAsFound) {
  Fixture f(kCaptions);
  crash_child_after(1, [&](const AfterWriteHook& hook) {
    EditEngine engine(f.dir.path(), true);
    apply_op(engine, f, op_of(K::Remove, "blurry"), {}, hook);
  });
  write_text(f.refs[0].path, "edited by hand after the crash\n");
  EditEngine engine(f.dir.path(), false);
  const auto& r = engine.journal().recovery();
  ASSERT_EQ(r.left_alone.size(), 1u);
  EXPECT_EQ(r.left_alone[0], "10_c/0.txt");
  EXPECT_EQ(read_file(f.refs[0].path), "edited by hand after the crash\n");
  for (std::size_t i = 1; i < f.refs.size(); ++i) EXPECT_EQ(read_file(f.refs[i].path), f.original[i]);
}

TEST(EditJournal, SecondEditorIsLockedOut) {
  Fixture f(kCaptions);
  EditEngine first(f.dir.path(), true);
  try {
    EditEngine second(f.dir.path(), true);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another lathe command"), std::string::npos);
  }
}

TEST(EditJournal, DryOpenWritesNothing) {
  Fixture f(kCaptions);
  EditEngine engine(f.dir.path(), false);
  engine.plan(op_of(K::Remove, "blurry"), f.refs, {});
  EXPECT_TRUE(engine.journal().history().empty());
  EXPECT_FALSE(fs::exists(f.dir / ".lathe"));
}

TEST(EditJournal, DamagedBatchFileIsReportedNotTrusted) {
  Fixture f(kCaptions);
  {
    EditEngine engine(f.dir.path(), true);
    apply_op(engine, f, op_of(K::Remove, "blurry"));
  }
  fs::path batch = f.dir / ".lathe/journal/batch-000001.lj";
  std::string bytes = read_file(batch);
  bytes[bytes.size() / 2] ^= 0x20;
  write_text(batch, bytes);
  EditEngine engine(f.dir.path(), false);
  try {
    engine.journal().undo();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("damaged"), std::string::npos) << e.what();
  }
}

// Property: any sequence of edits over random captions, undone in full, gives back the
// original bytes of every file; redone in full, the bytes after the sequence.
TEST(EditJournalProperty, RandomEditsThenUndoAllRestoreEveryByte) {
  const std::vector<std::string> vocab = {"a", "b", "c", "long hair", "long_hair", "Solo", "x y"};
  const std::vector<std::string> seps = {", ", ",", " , ", ",,", ",\n"};
  for (unsigned seed = 1; seed <= 5; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](const auto& v) { return v[rng() % v.size()]; };
    std::vector<std::string> captions;
    for (int i = 0; i < 6; ++i) {
      std::string c = rng() % 3 == 0 ? "\xEF\xBB\xBF" : "";
      int n = static_cast<int>(rng() % 5);
      for (int t = 0; t < n; ++t) c += (t ? pick(seps) : std::string(rng() % 2 ? " " : "")) + pick(vocab);
      if (rng() % 2) c += rng() % 2 ? "\r\n" : "\n";
      captions.push_back(c);
    }
    Fixture f(captions);
    EditEngine engine(f.dir.path(), true);
    int applied = 0;
    for (int step = 0; step < 8; ++step) {
      EditOp op;
      op.kind = static_cast<K>(rng() % 6);
      op.tag = pick(vocab);
      op.new_tag = pick(vocab);
      op.where = static_cast<AddWhere>(rng() % 3);
      op.anchor = pick(vocab);
      op.normalize = {rng() % 2 == 0, rng() % 2 == 0};
      op.text = pick(vocab) + ", " + pick(vocab);
      EditScope scope;
      if (rng() % 3 == 0) scope.where_tags = {pick(vocab)};
      if (rng() % 3 == 0) scope.where_no_tags = {pick(vocab)};
      auto refs = f.refs;
      if (op.kind == K::Set) refs = {f.refs[rng() % f.refs.size()]};
      if (engine.apply(engine.plan(op, refs, scope)).batch) ++applied;
    }
    const auto final_bytes = f.bytes();
    for (int i = 0; i < applied; ++i) ASSERT_TRUE(engine.journal().undo()) << "seed " << seed;
    EXPECT_FALSE(engine.journal().undo());
    EXPECT_EQ(f.bytes(), f.original) << "seed " << seed;
    for (int i = 0; i < applied; ++i) ASSERT_TRUE(engine.journal().redo()) << "seed " << seed;
    EXPECT_EQ(f.bytes(), final_bytes) << "seed " << seed;
  }
}

// A caption another program changes after apply()'s check, while the batch is being written
// (#14): it keeps that program's bytes, the rest of the batch is written, and the journal
// records only what was written, so undo restores exactly those captions.
namespace {

const std::string kTheirs = "1girl, written by a tagger meanwhile\n";

// Applies `op`, letting `other_program(path)` run right before the write of the change whose
// caption is `victim`.
ApplyResult apply_with_change(EditEngine& engine, const Fixture& f, const EditOp& op,
                              const fs::path& victim) {
  auto plan = engine.plan(op, f.refs, {});
  std::vector<fs::path> order;
  for (const auto& c : plan.changes) order.push_back(c.path);
  engine.journal().set_before_write_check([order, victim](std::size_t i) {
    if (order.at(i) == victim) write_text(victim, kTheirs);
  });
  return engine.apply(std::move(plan));
}

}  // namespace

TEST(EditEngineRecheck, CaptionChangedWhileWritingIsLeftAloneAndNotJournaled) {
  Fixture f(kCaptions);
  EditEngine engine(f.dir.path(), true);
  const ApplyResult r = apply_with_change(engine, f, op_of(K::Remove, "blurry"), f.refs[3].path);
  EXPECT_EQ(r.batch, 1);
  EXPECT_EQ(r.files_written, 3u);
  ASSERT_EQ(r.left_alone.size(), 1u);
  EXPECT_EQ(r.left_alone[0].rel_path, "10_c/3.txt");
  EXPECT_FALSE(r.left_alone[0].change.empty());
  const std::vector<std::string> after = {"1girl, solo\n", "\xEF\xBB\xBF" "smile\r\n", "solo, smile",
                                          kTheirs, "a, b\nc\n"};
  EXPECT_EQ(f.bytes(), after);
  BatchHeader header;
  const auto records = engine.journal().load_records(1, &header);
  EXPECT_EQ(header.files, 3u);
  ASSERT_EQ(records.size(), 3u);
  for (const auto& rec : records) EXPECT_NE(rec.rel_path, "10_c/3.txt");
  EXPECT_EQ(engine.journal().history().at(0).header.files, 3u);

  // Undo gives back the bytes of the three captions written; the other program's stay.
  engine.journal().set_before_write_check({});
  ASSERT_TRUE(engine.journal().undo());
  std::vector<std::string> undone = f.original;
  undone[3] = kTheirs;
  EXPECT_EQ(f.bytes(), undone);
  ASSERT_TRUE(engine.journal().redo());
  EXPECT_EQ(f.bytes(), after);
  EXPECT_EQ(temp_files_in(f.dir.path()), 0u);
}

TEST(EditEngineRecheck, EveryCaptionChangedMeansNoBatch) {
  Fixture f({"solo, blurry\n"});
  EditEngine engine(f.dir.path(), true);
  const ApplyResult r = apply_with_change(engine, f, op_of(K::Remove, "blurry"), f.refs[0].path);
  EXPECT_EQ(r.batch, 0);
  EXPECT_EQ(r.files_written, 0u);
  ASSERT_EQ(r.left_alone.size(), 1u);
  EXPECT_EQ(read_file(f.refs[0].path), kTheirs);
  auto h = engine.journal().history();
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].status, BatchStatus::RolledBack);
  EXPECT_FALSE(engine.journal().undo());
  EXPECT_EQ(temp_files_in(f.dir.path()), 0u);
}

TEST(EditEngineRecheck, CaptionChangedWhileUndoingStopsTheUndo) {
  Fixture f(kCaptions);
  EditEngine engine(f.dir.path(), true);
  apply_op(engine, f, op_of(K::Remove, "blurry"));
  const auto applied = f.bytes();
  const auto records = engine.journal().load_records(1);
  const fs::path victim = f.dir / records.at(1).rel_path;
  engine.journal().set_before_write_check([&](std::size_t i) {
    if (f.dir / records.at(i).rel_path == victim) write_text(victim, kTheirs);
  });
  try {
    engine.journal().undo();
    FAIL() << "undo went through a caption changed under it";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(records.at(1).rel_path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nothing changed"), std::string::npos) << e.what();
  }
  // The captions the undo had written are back to the batch's bytes; the batch stays applied.
  auto now = applied;
  for (std::size_t i = 0; i < f.refs.size(); ++i)
    if (f.refs[i].path == victim) now[i] = kTheirs;
  EXPECT_EQ(f.bytes(), now);
  EXPECT_EQ(engine.journal().history().at(0).status, BatchStatus::Applied);
  EXPECT_EQ(temp_files_in(f.dir.path()), 0u);
}

// Run as root (sudo lathe tags ...), captions keep their owner, group and mode, and the
// journal belongs to the dataset folder's owner, so that user's own undo works (#14).
TEST(EditEngineOwner, RootEditKeepsCaptionAndJournalOwners) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to make files owned by another user";
  Fixture f(kCaptions);
  for (const auto& e : fs::recursive_directory_iterator(f.dir.path()))
    ASSERT_EQ(::chown(e.path().c_str(), 12345, 12345), 0);
  ASSERT_EQ(::chown(f.dir.path().c_str(), 12345, 12345), 0);
  ASSERT_EQ(::chmod(f.refs[0].path.c_str(), 0640), 0);
  ASSERT_EQ(::chown(f.refs[2].path.c_str(), 12345, 100), 0);  // another group
  auto owner = [](const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return std::make_pair(st.st_uid, st.st_gid);
  };
  const auto check = [&] {
    for (std::size_t i = 0; i < f.refs.size(); ++i)
      EXPECT_EQ(owner(f.refs[i].path), std::make_pair(12345u, i == 2 ? 100u : 12345u)) << i;
    struct stat st {};
    ASSERT_EQ(::stat(f.refs[0].path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    for (const auto& e : fs::recursive_directory_iterator(f.dir / ".lathe"))
      EXPECT_EQ(owner(e.path()), std::make_pair(12345u, 12345u)) << e.path();
    EXPECT_EQ(owner(f.dir / ".lathe"), std::make_pair(12345u, 12345u));
  };
  {
    EditEngine engine(f.dir.path(), true);
    apply_op(engine, f, op_of(K::Remove, "blurry"));
    check();
    ASSERT_TRUE(fs::exists(f.dir / ".lathe/journal/batch-000001.lj"));
    ASSERT_TRUE(fs::exists(f.dir / ".lathe/journal/state.json"));
  }
  {
    EditEngine engine(f.dir.path(), true);
    ASSERT_TRUE(engine.journal().undo());
    EXPECT_EQ(f.bytes(), f.original);
    check();
  }
}

TEST(EditEngine, NormalizeReportsAndKeepsInvalidUtf8Captions) {
  Fixture f({"  caf\xE9 ,  Solo,,solo\n", " 1girl ,  smile\n"});
  EditEngine engine(f.dir.path(), true);
  EditOp op = op_of(K::Normalize);
  const auto plan = engine.plan(op, f.refs, {});
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].rel_path, "10_c/1.txt");
  ASSERT_EQ(plan.skipped.size(), 1u);
  EXPECT_EQ(plan.skipped[0].rel_path, "10_c/0.txt");
  EXPECT_NE(plan.skipped[0].reason.find("not valid UTF-8: left unchanged; fix its encoding"),
            std::string::npos);
  engine.apply(plan);
  EXPECT_EQ(read_file(f.refs[0].path), f.original[0]);
  EXPECT_EQ(read_file(f.refs[1].path), "1girl, smile\n");
}

TEST(EditEngine, OversizedCaptionNamesTheFileAndHowToLeaveItOut) {
  Fixture f({"solo, blurry\n", std::string(kMaxCaptionBytes + 10, 'a')});
  EditEngine engine(f.dir.path(), true);
  try {
    engine.plan(op_of(K::Remove, "blurry"), f.refs, {});
    FAIL() << "an oversized caption was planned";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(f.refs[1].path.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("--exclude 10_c/1.txt"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--concept"), std::string::npos) << msg;
  }
}
