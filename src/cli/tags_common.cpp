// Shared plumbing of the `lathe tags` commands (see tags_common.h).
#include "cli/tags_common.h"

#include <unistd.h>

#include <cstdlib>
#include <fmt/format.h>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/terminal_text.h"
#include "dataset/caption.h"
#include "dataset/edit_scope.h"

namespace lathe::cli::tags {
namespace {

namespace fs = std::filesystem;

EditScope scope_from(const Args& args) {
  EditScope s;
  for (const auto& f : args.values("file")) s.files.emplace_back(f);
  s.concepts = args.values("concept");
  for (const auto& f : args.values("exclude")) s.excluded.emplace_back(f);
  for (const auto& t : args.values("where-tag")) s.where_tags.push_back(tag_argument(t));
  for (const auto& t : args.values("where-no-tag")) s.where_no_tags.push_back(tag_argument(t));
  return s;
}

std::size_t sample_count(const Args& args, const std::string& command) {
  long long n = args.int_or("sample", 5);
  if (n < 0 || n > 100000)
    throw UsageError(fmt::format("lathe {}: --sample must be 0..100000, got {}", command, n));
  return static_cast<std::size_t>(n);
}

// Captions the command left as they were: invalid UTF-8 for normalize (plan), changed on disk
// while the batch was written (apply). Either makes the exit code 1.
struct LeftUnchanged {
  std::string file;
  std::string reason;
};

std::vector<LeftUnchanged> left_unchanged(const EditPlan& plan, const ApplyResult* applied) {
  std::vector<LeftUnchanged> out;
  for (const auto& s : plan.skipped) out.push_back({s.rel_path, s.reason});
  if (applied)
    for (const auto& c : applied->left_alone)
      out.push_back({c.rel_path, fmt::format("changed on disk while Lathe was writing the batch "
                                             "({}): left as the other program wrote it; run the "
                                             "command again to edit it",
                                             c.change)});
  return out;
}

void print_plan_text(const EditPlan& plan, const fs::path& root, std::size_t samples,
                     bool dry_run, const ApplyResult* applied) {
  // Tags, captions and file names come from the dataset: shown with control bytes escaped.
  const std::size_t changed = applied ? applied->files_written : plan.changes.size();
  std::cout << fmt::format("{} ({}): {} of {} caption(s) {}\n", terminal_safe(plan.op.describe()),
                           terminal_safe(plan.scope), changed, plan.files_matched,
                           dry_run ? "would change (dry run, nothing written)" : "changed");
  if (plan.files_matched != plan.files_in_scope)
    std::cout << fmt::format("  {} caption(s) in scope, {} passed the tag filters\n",
                             plan.files_in_scope, plan.files_matched);
  for (std::size_t i = 0; i < plan.changes.size() && i < samples; ++i) {
    const auto& c = plan.changes[i];
    std::cout << fmt::format("  {}\n    - {}\n    + {}\n", terminal_safe(c.rel_path),
                             terminal_safe(caption_preview(c.before)),
                             terminal_safe(caption_preview(c.after)));
  }
  if (plan.changes.size() > samples && samples > 0)
    std::cout << fmt::format("  ... and {} more\n", plan.changes.size() - samples);
  const auto left = left_unchanged(plan, applied);
  if (!left.empty())
    std::cout << fmt::format("{} caption(s) left unchanged:\n", left.size());
  for (const auto& l : left)
    std::cout << fmt::format("  {}: {}\n", terminal_safe(l.file), l.reason);
  if (applied && applied->batch)
    std::cout << fmt::format("journaled as batch #{}; undo with: lathe tags undo {}\n",
                             applied->batch, terminal_safe(root.string()));
}

void print_plan_json(const EditPlan& plan, std::size_t samples, bool dry_run,
                     const ApplyResult* applied) {
  nlohmann::json j{{"op", plan.op.name()},
                   {"summary", plan.op.describe()},
                   {"scope", plan.scope},
                   {"files_in_scope", plan.files_in_scope},
                   {"files_matched", plan.files_matched},
                   {"files_changed", applied ? applied->files_written : plan.changes.size()},
                   {"dry_run", dry_run},
                   {"batch", applied && applied->batch ? nlohmann::json(applied->batch) : nullptr}};
  nlohmann::json list = nlohmann::json::array();
  for (std::size_t i = 0; i < plan.changes.size() && i < samples; ++i)
    list.push_back({{"file", plan.changes[i].rel_path},
                    {"before", caption_preview(plan.changes[i].before)},
                    {"after", caption_preview(plan.changes[i].after)}});
  j["samples"] = list;
  nlohmann::json left = nlohmann::json::array();
  for (const auto& l : left_unchanged(plan, applied))
    left.push_back({{"file", l.file}, {"reason", l.reason}});
  j["left_unchanged"] = left;
  // Invalid UTF-8 in a caption must not abort the output: replace it in the JSON text.
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

}  // namespace

std::vector<Option> dataset_options() {
  return {{"caption-ext", "EXT", "caption file extension (default .txt)"}};
}

std::vector<Option> edit_options() {
  std::vector<Option> o = {
      {"concept", "NAME", "only this concept (name or folder name)", true},
      {"file", "PATH", "only this caption file (or the caption of this image)", true},
      {"where-tag", "TAG", "only captions that have TAG", true},
      {"where-no-tag", "TAG", "only captions that lack TAG", true},
      {"exclude", "PATH", "leave this caption file (or the caption of this image) out", true},
      {"dry-run", "", "show what would change; write nothing"},
      {"sample", "N", "before -> after examples to print (default 5)"},
      {"json", "", "machine-readable output"}};
  for (auto& d : dataset_options()) o.push_back(d);
  return o;
}

fs::path dataset_root(const Args& args, const std::string& command) {
  fs::path dir = args.positional(0);
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(fmt::format("{} is not a dataset folder (lathe {} expects DIR first)", dir.string(),
                            command));
  fs::path root = fs::canonical(dir, ec);
  return ec ? fs::absolute(dir) : root;
}

Dataset scan_for_tags(const fs::path& root, const Args& args, const std::string& command) {
  ScanOptions options;
  if (auto ext = args.value("caption-ext")) {
    if (ext->empty() || ext->find('/') != std::string::npos)
      throw UsageError(fmt::format("lathe {}: --caption-ext expects an extension such as txt, "
                                   "got '{}'",
                                   command, *ext));
    options.caption_extension = (*ext)[0] == '.' ? *ext : "." + *ext;
  }
  return scan_dataset(root, options);
}

std::string tag_argument(const std::string& raw) { return std::string(trim_ascii(raw)); }

void report_recovery(const EditEngine& engine) {
  const auto& r = engine.journal().recovery();
  if (r.happened) std::cerr << "lathe: " << terminal_safe(r.message()) << "\n";
}

AfterWriteHook test_pause_hook() {
  const char* env = std::getenv("LATHE_TEST_PAUSE_AFTER_N_WRITES");
  if (!env || !*env) return {};
  std::size_t n = std::strtoull(env, nullptr, 10);
  return [n](std::size_t written) {
    if (written != n) return;
    std::cerr << fmt::format("LATHE_TEST: paused after {} writes\n", written) << std::flush;
    ::sleep(120);
  };
}

int run_edit(const Args& args, const std::string& command, const EditOp& op) {
  validate_edit_op(op);
  const fs::path root = dataset_root(args, command);
  const bool dry_run = args.has("dry-run");
  const std::size_t samples = sample_count(args, command);
  EditEngine engine(root, !dry_run);
  report_recovery(engine);
  Dataset dataset = scan_for_tags(root, args, command);
  EditScope scope = scope_from(args);
  EditPlan plan = engine.plan(op, captions_in_scope(dataset, scope), scope);
  ApplyResult result;
  if (!dry_run) {
    // apply() moves the contents into the journal; keep the preview lines first.
    EditPlan shown = plan;
    result = engine.apply(std::move(plan), test_pause_hook());
    plan = std::move(shown);
  }
  const ApplyResult* applied = dry_run ? nullptr : &result;
  if (args.has("json")) print_plan_json(plan, samples, dry_run, applied);
  else print_plan_text(plan, root, samples, dry_run, applied);
  return left_unchanged(plan, applied).empty() ? kExitOk : kExitInputErrors;
}

}  // namespace lathe::cli::tags
