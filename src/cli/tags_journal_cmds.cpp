// `lathe tags undo|redo|history DIR`: walk the caption edit journal. Undo and redo restore the
// exact bytes a batch recorded, refusing (with nothing written) when a caption changed since;
// history lists every batch with its scope, file count, time and status.
#include <fmt/format.h>

#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/tags_common.h"
#include "common/error.h"
#include "common/terminal_text.h"
#include "dataset/edit_engine.h"

namespace lathe::cli {
namespace {

std::string local_time(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

int run_step(const Args& args, bool undo) {
  const std::string verb = undo ? "undo" : "redo";
  const auto root = tags::dataset_root(args, "tags " + verb);
  EditEngine engine(root, false);
  tags::report_recovery(engine);
  auto header = undo ? engine.journal().undo(tags::test_pause_hook())
                     : engine.journal().redo(tags::test_pause_hook());
  if (args.has("json")) {
    nlohmann::json j{{"action", verb}, {"batch", nullptr}};
    if (header)
      j = {{"action", verb}, {"batch", header->id}, {"summary", header->summary},
           {"scope", header->scope}, {"files", header->files}};
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  if (!header) {
    std::cout << fmt::format("nothing to {} in {}\n", verb, terminal_safe(root.string()));
    return kExitOk;
  }
  std::cout << fmt::format("{} batch #{}: {} ({}), {} caption(s) {}\n", undo ? "undid" : "redid",
                           header->id, terminal_safe(header->summary),
                           terminal_safe(header->scope), header->files,
                           undo ? "restored to their bytes before it" : "rewritten");
  return kExitOk;
}

CommandSpec step_spec(bool undo) {
  CommandSpec s;
  s.name = undo ? "tags undo" : "tags redo";
  s.usage = "DIR [--json]";
  s.summary = undo ? "undo the newest applied caption edit (exact bytes back)"
                   : "redo the newest undone caption edit";
  s.details =
      "Refuses, writing nothing, when a caption the batch touched changed since (edited by\n"
      "hand or by another tool); put it back or remove it, then retry.";
  s.options = {{"json", "", "machine-readable output"}};
  s.min_positionals = s.max_positionals = 1;
  s.run = [undo](const Args& args) { return run_step(args, undo); };
  return s;
}

CommandSpec tags_undo_command() { return step_spec(true); }
CommandSpec tags_redo_command() { return step_spec(false); }

CommandSpec tags_history_command() {
  CommandSpec s;
  s.name = "tags history";
  s.usage = "DIR [--limit N] [--json]";
  s.summary = "list the journaled caption edits, newest last";
  s.options = {{"limit", "N", "show only the newest N batches"},
               {"json", "", "machine-readable output"}};
  s.min_positionals = s.max_positionals = 1;
  s.run = [](const Args& args) {
    const auto root = tags::dataset_root(args, "tags history");
    EditEngine engine(root, false);
    tags::report_recovery(engine);
    auto entries = engine.journal().history();
    long long limit = args.int_or("limit", 0);
    if (limit < 0) throw UsageError("lathe tags history: --limit must be 0 (all) or more");
    if (limit > 0 && entries.size() > static_cast<std::size_t>(limit))
      entries.erase(entries.begin(), entries.end() - limit);
    if (args.has("json")) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& e : entries)
        list.push_back({{"batch", e.header.id}, {"op", e.header.op},
                        {"summary", e.header.summary}, {"scope", e.header.scope},
                        {"files", e.header.files}, {"time", e.header.time_unix},
                        {"status", to_string(e.status)}});
      std::cout << nlohmann::json{{"dataset", root.string()}, {"batches", list}}.dump(
                       2, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n";
      return kExitOk;
    }
    if (entries.empty()) {
      std::cout << fmt::format("no caption edits journaled in {}\n", terminal_safe(root.string()));
      return kExitOk;
    }
    std::cout << fmt::format("{:>5}  {:<19}  {:>6}  {:<11}  {}\n", "batch", "time", "files",
                             "status", "edit (scope)");
    for (const auto& e : entries)
      std::cout << fmt::format("{:>5}  {:<19}  {:>6}  {:<11}  {} ({})\n", "#" + std::to_string(e.header.id),
                               local_time(e.header.time_unix), e.header.files,
                               to_string(e.status), terminal_safe(e.header.summary),
                               terminal_safe(e.header.scope));
    return kExitOk;
  };
  return s;
}

}  // namespace

LATHE_REGISTER_COMMAND(tags_undo_command)
LATHE_REGISTER_COMMAND(tags_redo_command)
LATHE_REGISTER_COMMAND(tags_history_command)

}  // namespace lathe::cli
