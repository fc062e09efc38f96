// `lathe tags add|remove|rename|move-first|normalize|set DIR ...`: the caption edits. Each
// one plans over the chosen scope, prints how many captions change with before -> after
// samples, and (unless --dry-run) applies the edit as one journaled, undoable batch.
#include <fmt/format.h>

#include "cli/command.h"
#include "cli/tags_common.h"
#include "common/error.h"

namespace lathe::cli {
namespace {

const char* kScopeHelp =
    "Scope: every caption of the dataset unless narrowed by --concept and --file, minus the\n"
    "--exclude files (paths relative to the current folder or to DIR); then only captions\n"
    "that have every --where-tag and none of the --where-no-tag tags. Tags match exactly as\n"
    "written. Every applied edit is one batch in DIR/.lathe/journal: see 'lathe tags undo',\n"
    "'redo' and 'history'.\n"
    "Exit code 0: done; 1: a caption was left unchanged and listed (normalize: not valid\n"
    "UTF-8; another program changed it while the batch was written), or an error wrote\n"
    "nothing; 2: usage error.";

CommandSpec edit_spec(const std::string& verb, const std::string& usage, const std::string& summary,
                      std::size_t positionals, std::function<int(const Args&)> run) {
  CommandSpec s;
  s.name = "tags " + verb;
  s.usage = usage;
  s.summary = summary;
  s.details = kScopeHelp;
  s.options = tags::edit_options();
  s.min_positionals = s.max_positionals = positionals;
  s.run = std::move(run);
  return s;
}

CommandSpec tags_add_command() {
  auto s = edit_spec("add", "DIR TAG [--front | --after TAG] [scope] [--dry-run]",
                     "add a tag to captions that lack it (at the back by default)", 2,
                     [](const Args& args) {
                       EditOp op;
                       op.kind = EditOp::Kind::Add;
                       op.tag = tags::tag_argument(args.positional(1));
                       if (args.has("front") && args.has("after"))
                         throw UsageError("lathe tags add: give --front or --after, not both");
                       if (args.has("front")) op.where = AddWhere::Front;
                       if (auto a = args.value("after")) {
                         op.where = AddWhere::After;
                         op.anchor = tags::tag_argument(*a);
                       }
                       return tags::run_edit(args, "tags add", op);
                     });
  s.options.push_back({"front", "", "put the tag first (where the activation tag goes)"});
  s.options.push_back({"after", "TAG", "put the tag right after TAG (at the back when absent)"});
  return s;
}

CommandSpec tags_remove_command() {
  return edit_spec("remove", "DIR TAG [scope] [--dry-run]", "remove a tag (every copy of it)", 2,
                   [](const Args& args) {
                     EditOp op;
                     op.kind = EditOp::Kind::Remove;
                     op.tag = tags::tag_argument(args.positional(1));
                     return tags::run_edit(args, "tags remove", op);
                   });
}

CommandSpec tags_rename_command() {
  return edit_spec("rename", "DIR OLD NEW [scope] [--dry-run]",
                   "rename / replace a tag, merging the duplicates that creates", 3,
                   [](const Args& args) {
                     EditOp op;
                     op.kind = EditOp::Kind::Rename;
                     op.tag = tags::tag_argument(args.positional(1));
                     op.new_tag = tags::tag_argument(args.positional(2));
                     return tags::run_edit(args, "tags rename", op);
                   });
}

CommandSpec tags_move_first_command() {
  return edit_spec("move-first", "DIR TAG [scope] [--dry-run]",
                   "move a tag to the front (the activation tag), where present", 2,
                   [](const Args& args) {
                     EditOp op;
                     op.kind = EditOp::Kind::MoveFirst;
                     op.tag = tags::tag_argument(args.positional(1));
                     return tags::run_edit(args, "tags move-first", op);
                   });
}

CommandSpec tags_normalize_command() {
  auto s = edit_spec("normalize", "DIR [--underscores] [--lowercase] [scope] [--dry-run]",
                     "trim, collapse blanks, drop empty and duplicate tags, one line", 1,
                     [](const Args& args) {
                       EditOp op;
                       op.kind = EditOp::Kind::Normalize;
                       op.normalize.underscores_to_spaces = args.has("underscores");
                       op.normalize.lowercase = args.has("lowercase");
                       return tags::run_edit(args, "tags normalize", op);
                     });
  s.options.push_back({"underscores", "", "also write underscores as spaces (long_hair -> long "
                                          "hair; tags of 3 bytes or less such as ^_^ are kept)"});
  s.options.push_back({"lowercase", "", "also lower-case ASCII letters"});
  return s;
}

CommandSpec tags_set_command() {
  return edit_spec("set", "DIR TEXT --file PATH [--dry-run]",
                   "replace one caption's whole text (keeps its BOM and line endings)", 2,
                   [](const Args& args) {
                     if (args.values("file").size() != 1)
                       throw UsageError("lathe tags set: give exactly one --file PATH (the caption "
                                        "or its image)");
                     EditOp op;
                     op.kind = EditOp::Kind::Set;
                     op.text = args.positional(1);
                     return tags::run_edit(args, "tags set", op);
                   });
}

}  // namespace

LATHE_REGISTER_COMMAND(tags_add_command)
LATHE_REGISTER_COMMAND(tags_remove_command)
LATHE_REGISTER_COMMAND(tags_rename_command)
LATHE_REGISTER_COMMAND(tags_move_first_command)
LATHE_REGISTER_COMMAND(tags_normalize_command)
LATHE_REGISTER_COMMAND(tags_set_command)

}  // namespace lathe::cli
