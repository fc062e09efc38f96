// Plan and apply for caption edits (see edit_engine.h).
#include "dataset/edit_engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "common/error.h"
#include "common/parallel_for.h"
#include "common/stopwatch.h"
#include "dataset/caption.h"
#include "dataset/dataset.h"
#include "io/file_stamp.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;

std::string relative_to_root(const fs::path& path, const fs::path& root) {
  fs::path rel = path.lexically_relative(root);
  if (rel.empty() || *rel.begin() == "..")
    throw Error(fmt::format("{} is outside the dataset {}; edit captions inside it",
                            path.string(), root.string()));
  return rel.generic_string();
}

// Reads one caption for a plan. A caption over the size limit stops the whole plan (an edit
// must not silently skip a file it was asked to edit), so its message names the file and how
// to leave it out of the scope.
std::string read_caption(const CaptionRef& ref, const fs::path& root, FileSnapshot& snapshot) {
  try {
    return read_with_snapshot(ref.path, snapshot, kMaxCaptionBytes);
  } catch (const Error&) {
    const auto stamp = stamp_file(ref.path);
    if (!stamp || static_cast<std::size_t>(stamp->size) <= kMaxCaptionBytes) throw;
    throw Error(fmt::format(
        "{} is {:.1f} MiB, more than the {} KiB Lathe reads as a caption, so this edit cannot "
        "include it; nothing was written. Leave it out with --exclude {} (or narrow the scope "
        "with --concept or --file), or cut the file down to its tags",
        ref.path.string(), static_cast<double>(stamp->size) / 1048576.0,
        kMaxCaptionBytes / 1024, relative_to_root(ref.path, root)));
  }
}

std::string list_some(const std::vector<std::string>& files) {
  std::string out;
  for (std::size_t i = 0; i < files.size() && i < 5; ++i) out += (i ? ", " : "") + files[i];
  if (files.size() > 5) out += fmt::format(" and {} more", files.size() - 5);
  return out;
}

}  // namespace

std::string caption_preview(const std::string& bytes) {
  std::string_view v = bytes;
  if (v.substr(0, 3) == "\xEF\xBB\xBF") v.remove_prefix(3);
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.remove_suffix(1);
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\r' && i + 1 < v.size() && v[i + 1] == '\n') continue;
    out += v[i] == '\n' ? std::string(" / ") : std::string(1, v[i]);
  }
  return out;
}

EditEngine::EditEngine(const fs::path& dataset_root, bool will_write)
    : root_(dataset_root), journal_(dataset_root, will_write) {}

EditPlan EditEngine::plan(const EditOp& op, const std::vector<CaptionRef>& captions,
                          const EditScope& scope) const {
  validate_edit_op(op);
  EditPlan plan;
  plan.op = op;
  plan.scope = scope.describe();
  plan.files_in_scope = captions.size();
  const bool filtered = !scope.where_tags.empty() || !scope.where_no_tags.empty();
  // Each caption is read and edited on its own; reading 100,000 small files waits on the disk,
  // so they are read on several threads and gathered back in dataset order.
  std::vector<std::optional<PlannedChange>> changed(captions.size());
  std::vector<char> matched(captions.size(), 0), bad_utf8(captions.size(), 0);
  parallel_for(captions.size(), [&](std::size_t i) {
    const CaptionRef& ref = captions[i];
    FileSnapshot snapshot;
    std::string bytes = read_caption(ref, root_, snapshot);
    if (filtered && !tags_in_scope(parse_caption_doc(bytes).tags(), scope)) return;
    matched[i] = 1;
    // Normalizing rewrites every tag; bytes that are not UTF-8 are not text it can clean up
    // (trimming and case folding would mix encodings), so such a caption is reported instead.
    if (op.kind == EditOp::Kind::Normalize && !is_valid_utf8(bytes)) {
      bad_utf8[i] = 1;
      return;
    }
    auto after = edit_caption_bytes(op, bytes);
    if (!after) return;
    changed[i] = PlannedChange{ref.path, relative_to_root(ref.path, root_), ref.concept_name,
                               snapshot, std::move(bytes), std::move(*after)};
  });
  for (std::size_t i = 0; i < captions.size(); ++i) {
    plan.files_matched += matched[i];
    if (changed[i]) plan.changes.push_back(std::move(*changed[i]));
    if (bad_utf8[i])
      plan.skipped.push_back({relative_to_root(captions[i].path, root_),
                              "not valid UTF-8: left unchanged; fix its encoding (e.g. iconv -f "
                              "latin1 -t utf-8), then normalize again"});
  }
  return plan;
}

ApplyResult EditEngine::apply(EditPlan plan, const AfterWriteHook& hook) {
  ApplyResult result;
  if (plan.changes.empty()) return result;
  Stopwatch watch;
  // Every caption must still be as it was read (checked on several threads, like the reads).
  // The stamps taken here are what the batch writer compares each caption with once more
  // right before replacing it.
  std::vector<std::optional<std::string>> conflicts(plan.changes.size());
  std::vector<FileStamp> stamps(plan.changes.size());
  parallel_for(plan.changes.size(), [&](std::size_t i) {
    const PlannedChange& c = plan.changes[i];
    conflicts[i] = describe_change(c.path, c.snapshot, &stamps[i]);
  });
  std::vector<std::string> read_only;
  for (std::size_t i = 0; i < plan.changes.size(); ++i) {
    if (conflicts[i]) {
      const std::size_t others = static_cast<std::size_t>(
          std::count_if(conflicts.begin(), conflicts.end(), [](const auto& c) { return c.has_value(); })) - 1;
      std::string msg = conflict_message(plan.changes[i].path, *conflicts[i]);
      if (others) msg += fmt::format(" ({} other caption(s) changed too)", others);
      throw Error(msg);
    }
    if (is_read_only_mode(stamps[i].mode)) read_only.push_back(plan.changes[i].rel_path);
  }
  if (!read_only.empty())
    throw Error(fmt::format("{} caption file(s) are read-only: {}; nothing was written. Make them "
                            "writable (chmod u+w) or leave them out of the scope (--concept, "
                            "--file, --where-no-tag), then run again",
                            read_only.size(), list_some(read_only)));

  result.timings.check_s = watch.lap();
  std::vector<JournalRecord> records;
  records.reserve(plan.changes.size());
  for (std::size_t i = 0; i < plan.changes.size(); ++i) {
    PlannedChange& c = plan.changes[i];
    records.push_back({c.rel_path, std::move(c.before), std::move(c.after), stamps[i]});
  }
  BatchHeader header;
  header.op = plan.op.name();
  header.summary = plan.op.describe();
  header.scope = plan.scope;
  result.batch = journal_.apply(header, records, hook, &result.timings, &result.left_alone);
  result.files_written = records.size() - result.left_alone.size();
  return result;
}

}  // namespace lathe
