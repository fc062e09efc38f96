// The one caption editing engine: the CLI's `lathe tags` commands (and the TUI) plan an edit
// over a scope (a dry run: which captions change, before -> after), then apply the plan,
// which refuses conflicting or read-only files and writes through the edit journal so the
// batch can be undone, redone and survives a crash.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "dataset/caption_edit.h"
#include "dataset/edit_conflict.h"
#include "dataset/edit_journal.h"
#include "dataset/edit_scope.h"

namespace lathe {

struct PlannedChange {
  std::filesystem::path path;
  std::string rel_path;  // relative to the dataset root
  std::string concept_name;
  FileSnapshot snapshot;  // the file as read for this plan
  std::string before;
  std::string after;
};

// A caption in scope the plan leaves as it is, and why ("not valid UTF-8: left unchanged; fix
// its encoding").
struct SkippedCaption {
  std::string rel_path;
  std::string reason;
};

struct EditPlan {
  EditOp op;
  std::string scope;               // EditScope::describe()
  std::size_t files_in_scope = 0;  // captions of the chosen files / concepts
  std::size_t files_matched = 0;   // ... that pass the --where-tag / --where-no-tag filters
  std::vector<PlannedChange> changes;
  std::vector<SkippedCaption> skipped;  // matched but left unchanged (normalize: bad UTF-8)
};

struct ApplyResult {
  int batch = 0;  // journal batch id; 0 when nothing changed
  std::size_t files_written = 0;
  // Captions another program changed between the check and their write: left as they were,
  // not journaled (the rest of the batch was written).
  std::vector<LeftAlone> left_alone;
  EditTimings timings;
};

// A caption's bytes as one readable line for previews: no BOM, line breaks shown as " / ".
std::string caption_preview(const std::string& bytes);

class EditEngine {
 public:
  // `will_write`: create the journal when missing (dry runs and stats pass false and write
  // nothing unless an interrupted batch must be rolled back).
  EditEngine(const std::filesystem::path& dataset_root, bool will_write);

  const std::filesystem::path& root() const { return root_; }
  EditJournal& journal() { return journal_; }
  const EditJournal& journal() const { return journal_; }

  // Reads every caption in `captions`, applies the scope's tag filters and the op. Normalize
  // leaves a caption that is not valid UTF-8 as it is and lists it in `skipped` (its bytes
  // are not text it can clean up). Throws lathe::Error for an invalid op or a caption that
  // cannot be read (too big: the message says how to leave it out of the scope).
  EditPlan plan(const EditOp& op, const std::vector<CaptionRef>& captions,
                const EditScope& scope) const;

  // Writes a plan through the journal. Throws lathe::Error, with nothing written, when a
  // caption changed on disk since plan() read it or is marked read-only. A caption that
  // changes after that check, while the batch is being written, is left as it is and listed
  // in ApplyResult::left_alone; the others are written and journaled.
  ApplyResult apply(EditPlan plan, const AfterWriteHook& hook = {});

 private:
  std::filesystem::path root_;
  EditJournal journal_;
};

}  // namespace lathe
