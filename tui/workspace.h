// What the TUI works on: the dataset folder (or profile), the runs folder and the profiles
// folder, the scanned dataset (loaded once, refreshed caption by caption after edits), and
// the caption edits themselves, which go through the same journaled EditEngine as
// `lathe tags`. Screens share one Workspace; its generation counter tells them when the
// dataset changed so they rebuild their tables only then.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "dataset/caption_edit.h"
#include "dataset/dataset.h"
#include "dataset/edit_scope.h"
#include "dataset/tag_stats.h"

namespace lathe::tui {

struct WorkspacePaths {
  std::filesystem::path dataset;       // a dataset folder or a profile .toml
  std::filesystem::path runs_root;     // where runs/<run-id>/ live
  std::filesystem::path profiles_dir;  // the Launch screen's profiles
};

// Decides what `lathe tui PATH` opens: a runs folder (one holding run folders with a
// status.json) opens on Runs, a profile on its dataset and output folder, anything else is
// a dataset folder. `cwd` supplies runs/ and profiles/ when PATH does not say.
struct StartPoint {
  WorkspacePaths paths;
  bool open_runs = false;
};
StartPoint resolve_start(const std::filesystem::path& path, const std::filesystem::path& cwd);

struct EditOutcome {
  std::size_t changed = 0;  // caption files written
  int batch = 0;            // journal batch, 0 when nothing changed
  std::string summary;      // for the status line
};

class Workspace {
 public:
  explicit Workspace(WorkspacePaths paths) : paths_(std::move(paths)) {}

  const WorkspacePaths& paths() const { return paths_; }
  // The scanned dataset; scans on first use. Throws lathe::Error (shown in a dialog).
  const Dataset& dataset();
  bool loaded() const { return dataset_.has_value(); }
  std::string load_error() const { return load_error_; }
  void rescan();
  int generation() const { return generation_; }
  const TagStats& tag_stats();

  // How many captions an edit would change (a dry run: nothing written).
  std::size_t count_changes(const EditOp& op, const EditScope& scope);
  // Plans and applies through the journal, then rereads the changed captions.
  EditOutcome edit(const EditOp& op, const EditScope& scope);
  // The newest batch undone / redone; summary empty when there was nothing to do.
  EditOutcome undo();
  EditOutcome redo();

  // Cross-screen jumps (audit -> dataset/tags): consumed by the screen they target.
  std::optional<std::filesystem::path> focus_file;
  std::optional<std::string> focus_tag;
  std::optional<std::string> focus_concept;

 private:
  std::filesystem::path edit_root();
  void reread_captions(const std::vector<std::filesystem::path>& files);

  WorkspacePaths paths_;
  std::optional<Dataset> dataset_;
  std::string load_error_;
  std::optional<TagStats> stats_;
  int stats_generation_ = -1;
  int generation_ = 0;
};

}  // namespace lathe::tui
