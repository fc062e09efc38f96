// The shared state of the TUI (see workspace.h).
#include "tui/workspace.h"

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <unordered_set>

#include "common/error.h"
#include "dataset/caption.h"
#include "dataset/edit_engine.h"
#include "dataset/profile_concepts.h"

namespace lathe::tui {

namespace fs = std::filesystem;

namespace {

bool holds_runs(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / "status.json", ec)) return true;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory(ec) && fs::exists(e.path() / "status.json", ec)) return true;
  return false;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot read the caption file", p.string()));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

StartPoint resolve_start(const fs::path& path, const fs::path& cwd) {
  StartPoint s;
  s.paths.dataset = path.empty() ? cwd : path;
  s.paths.runs_root = cwd / "runs";
  s.paths.profiles_dir = cwd / "profiles";
  std::error_code ec;
  if (!path.empty() && fs::is_directory(path, ec) && holds_runs(path)) {
    s.open_runs = true;
    // A single run's folder opens its parent as the runs folder.
    s.paths.runs_root = fs::exists(path / "status.json", ec) ? path.parent_path() : path;
    s.paths.dataset = cwd;
  }
  return s;
}

const Dataset& Workspace::dataset() {
  if (!dataset_) {
    try {
      // Scan under the absolute path: the edit engine works from the canonical root and
      // refuses captions it cannot place inside it.
      std::error_code ec;
      fs::path where = fs::weakly_canonical(fs::absolute(paths_.dataset), ec);
      dataset_ = load_dataset(ec ? paths_.dataset : where, ScanOptions{});
      load_error_.clear();
    } catch (const Error& e) {
      load_error_ = e.what();
      throw;
    }
    ++generation_;
  }
  return *dataset_;
}

void Workspace::rescan() {
  dataset_.reset();
  dataset();
}

const TagStats& Workspace::tag_stats() {
  const Dataset& d = dataset();
  if (!stats_ || stats_generation_ != generation_) {
    stats_ = compute_tag_stats(d);
    stats_generation_ = generation_;
  }
  return *stats_;
}

fs::path Workspace::edit_root() {
  std::error_code ec;
  fs::path root = fs::canonical(dataset().root, ec);
  return ec ? fs::absolute(dataset().root) : root;
}

std::size_t Workspace::count_changes(const EditOp& op, const EditScope& scope) {
  validate_edit_op(op);
  EditEngine engine(edit_root(), false);
  return engine.plan(op, captions_in_scope(dataset(), scope), scope).changes.size();
}

EditOutcome Workspace::edit(const EditOp& op, const EditScope& scope) {
  validate_edit_op(op);
  EditEngine engine(edit_root(), true);
  EditPlan plan = engine.plan(op, captions_in_scope(dataset(), scope), scope);
  std::vector<fs::path> files;
  for (const auto& c : plan.changes) files.push_back(c.path);
  EditOutcome out;
  out.summary = op.describe();
  out.changed = files.size();
  if (!files.empty()) out.batch = engine.apply(std::move(plan)).batch;
  reread_captions(files);
  return out;
}

EditOutcome Workspace::undo() {
  fs::path root = edit_root();
  EditJournal journal(root, false);
  EditOutcome out;
  auto header = journal.undo();
  if (!header) return out;
  std::vector<fs::path> files;
  for (const auto& r : journal.load_records(header->id)) files.push_back(root / r.rel_path);
  out = EditOutcome{files.size(), header->id, "undid " + header->summary};
  reread_captions(files);
  return out;
}

EditOutcome Workspace::redo() {
  fs::path root = edit_root();
  EditJournal journal(root, false);
  EditOutcome out;
  auto header = journal.redo();
  if (!header) return out;
  std::vector<fs::path> files;
  for (const auto& r : journal.load_records(header->id)) files.push_back(root / r.rel_path);
  out = EditOutcome{files.size(), header->id, "redid " + header->summary};
  reread_captions(files);
  return out;
}

void Workspace::reread_captions(const std::vector<fs::path>& files) {
  if (!dataset_ || files.empty()) return;
  // Compare under the canonical root, built lexically per item: no system call per caption,
  // so an edit of one file stays instant on a 100k-image dataset.
  std::error_code ec;
  fs::path root = fs::weakly_canonical(dataset_->root, ec);
  if (ec) root = fs::absolute(dataset_->root);
  std::unordered_set<std::string> wanted;
  for (const auto& f : files) {
    fs::path c = fs::weakly_canonical(f, ec);
    wanted.insert((ec ? f : c).lexically_normal().string());
  }
  for (auto& concept : dataset_->concepts)
    for (auto& item : concept.items) {
      if (!item.caption_path) continue;
      fs::path rel = item.caption_path->lexically_relative(dataset_->root);
      fs::path key = rel.empty() ? *item.caption_path : root / rel;
      if (wanted.count(key.lexically_normal().string()))
        item.caption = parse_caption(read_bytes(*item.caption_path));
    }
  ++generation_;
}

}  // namespace lathe::tui
