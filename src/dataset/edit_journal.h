// The caption edit journal in <dataset>/.lathe/journal/: every batch of caption writes is
// recorded with each file's exact bytes before and after, durably and BEFORE any caption is
// touched, so undo and redo restore exact bytes and a batch killed midway (kill -9, power
// loss) is rolled back by the next command that opens the journal: every caption of the
// batch ends up with its bytes from before the interrupted command, none half-written.
//
// Layout:
//   state.json         {"version":1,"applied":[..],"undone":[..],"rolled_back":[..],
//                       "discarded":[..],"pending":null|{"batch":N,"action":"apply|undo|redo"}}
//   batch-000001.lj    one file per batch: a header line (JSON: id, op, summary, scope, time,
//                      files), then per caption "R <path-len> <before-len> <after-len>\n"
//                      followed by the path (relative to the dataset) and both contents,
//                      then "END <count> <hash>\n"
//   lock               flock()ed while a command edits, so two commands never interleave
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "io/atomic_batch.h"
#include "io/file_owner.h"
#include "io/file_stamp.h"

namespace lathe {

struct JournalRecord {
  std::string rel_path;  // relative to the dataset root, '/' separated
  std::string before;
  std::string after;
  // The caption as this command's changed-on-disk check found it (holding `before`): the new
  // file gets its mode and owner, and it is checked once more right before its rename. Not
  // known (records read back from a batch file): looked up when writing.
  FileStamp checked;
};

// A caption a batch left as it was because another program changed it between the
// command's check and its write; the batch's journal records only the captions it wrote.
struct LeftAlone {
  std::string rel_path;
  std::string change;  // "its size went from 12 to 40 bytes", ...
};

struct BatchHeader {
  int id = 0;
  std::string op;       // "remove", "add", ... (undo/redo are not batches: they move one)
  std::string summary;  // "remove \"blurry\""
  std::string scope;    // "concept jinx, with \"solo\""
  std::int64_t time_unix = 0;
  std::size_t files = 0;
};

// Applied; Undone (redo-able); RolledBack (interrupted or failed, no caption changed);
// Discarded (was undone, then a new edit ended the redo chain).
enum class BatchStatus { Applied, Undone, RolledBack, Discarded };
std::string to_string(BatchStatus status);

struct HistoryEntry {
  BatchHeader header;
  BatchStatus status = BatchStatus::Applied;
};

// What opening the journal did about a batch interrupted by a crash.
struct RecoveryReport {
  bool happened = false;
  int batch = 0;
  std::string action;                   // the interrupted action: apply, undo or redo
  std::string summary;
  std::size_t restored = 0;             // captions written back to their earlier bytes
  std::vector<std::string> left_alone;  // captions changed by someone else since: kept as found
  std::string message() const;
};

// Where the time of one journaled batch went, in seconds (benchmarks report it).
struct EditTimings {
  double check_s = 0;    // changed-on-disk and read-only checks (EditEngine::apply)
  double journal_s = 0;  // batch file and pending state made durable
  AtomicBatchTimings writes;
  double commit_s = 0;   // state.json names the batch applied
};

// Called after each caption write of a batch with the count written so far (tests use it to
// crash a batch midway; the CLI maps LATHE_TEST_PAUSE_AFTER_N_WRITES onto it).
using AfterWriteHook = std::function<void(std::size_t written)>;

class EditJournal {
 public:
  // Opens <root>/.lathe/journal (creating it when `create`), locks it, and rolls back any
  // interrupted batch. With create=false and no journal on disk, the journal is empty and
  // nothing is written. Throws lathe::Error when another command holds the lock or the
  // journal is damaged.
  EditJournal(const std::filesystem::path& dataset_root, bool create);
  ~EditJournal();
  EditJournal(const EditJournal&) = delete;
  EditJournal& operator=(const EditJournal&) = delete;

  const std::filesystem::path& root() const { return root_; }
  const std::filesystem::path& dir() const { return dir_; }
  const RecoveryReport& recovery() const { return recovery_; }

  // Journals the batch, writes every record's `after` bytes, commits. On a failed write the
  // captions already written get their `before` bytes back, and the Error says so. A caption
  // found changed right before its write (records with a `checked` stamp) is left as it is
  // and listed in `left_alone`; the batch then journals only the captions it wrote. Returns
  // the batch id, or 0 when every caption was left alone (the batch is then rolled back).
  int apply(BatchHeader header, const std::vector<JournalRecord>& records,
            const AfterWriteHook& hook = {}, EditTimings* timings = nullptr,
            std::vector<LeftAlone>* left_alone = nullptr);

  // Undo the newest applied batch / redo the newest undone one; nullopt when there is none.
  // Refuses (lathe::Error, nothing written) when a caption changed since the batch ran, also
  // when the change lands while the captions are being written.
  std::optional<BatchHeader> undo(const AfterWriteHook& hook = {});
  std::optional<BatchHeader> redo(const AfterWriteHook& hook = {});

  std::vector<HistoryEntry> history() const;  // oldest first

  // Reads one batch file (tests and tools); throws lathe::Error when damaged.
  std::vector<JournalRecord> load_records(int id, BatchHeader* header = nullptr) const;

  // Tests: called with a record's index right before the batch writer's last check of that
  // caption and its rename, to change the caption in between as another program may.
  void set_before_write_check(std::function<void(std::size_t)> fn) {
    before_write_check_ = std::move(fn);
  }

 private:
  struct State {
    std::vector<int> applied, undone, rolled_back, discarded;
    int pending_batch = 0;  // 0: none
    std::string pending_action;
  };
  enum class Side { Before, After };

  void load_state();
  void save_state() const;
  void recover();
  std::filesystem::path batch_path(int id) const;
  int next_id() const;
  std::vector<AtomicBatchSkip> move_batch(int id, const BatchHeader& header,
                                          const std::vector<JournalRecord>& records, Side from,
                                          Side to, const std::string& action,
                                          const AfterWriteHook& hook,
                                          EditTimings* timings = nullptr);
  // After an apply that left some captions alone: the batch file keeps only the records
  // written, so undo restores exactly what this batch did. False when nothing was written
  // (the batch is then rolled back).
  bool keep_written_only(BatchHeader& header, const std::vector<JournalRecord>& records,
                         const std::vector<AtomicBatchSkip>& skipped,
                         std::vector<LeftAlone>* left_alone);
  void write_owned(const std::filesystem::path& path, const std::string& bytes) const;
  std::size_t roll_back(int id, const std::vector<JournalRecord>& records, Side target,
                        std::vector<std::string>* left_alone);

  std::filesystem::path root_;
  std::filesystem::path dir_;
  bool present_ = false;
  int lock_fd_ = -1;
  std::optional<FileOwner> owner_;  // the dataset folder's: everything under .lathe/ gets it
  std::function<void(std::size_t)> before_write_check_;
  State state_;
  RecoveryReport recovery_;
};

}  // namespace lathe
