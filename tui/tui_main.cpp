// Builds the workspace and the screens and hands them to the app loop (see tui_main.h).
#include "tui/tui_main.h"

#include <fmt/format.h>
#include <unistd.h>

#include "common/error.h"
#include "tui/app.h"
#include "tui/audit_screen.h"
#include "tui/buckets_screen.h"
#include "tui/confirm_dialog.h"
#include "tui/dataset_screen.h"
#include "tui/help_overlay.h"
#include "tui/launch_screen.h"
#include "tui/message_dialog.h"
#include "tui/prompt_dialog.h"
#include "tui/run_page_screen.h"
#include "tui/samples_screen.h"
#include "tui/runs_screen.h"
#include "tui/tags_screen.h"
#include "tui/workspace.h"

namespace lathe::tui {

namespace fs = std::filesystem;

namespace {

std::unique_ptr<Screen> make_screen(Workspace& ws, Tab tab) {
  switch (tab) {
    case Tab::Dataset:
      return std::make_unique<DatasetScreen>(ws);
    case Tab::Tags:
      return std::make_unique<TagsScreen>(ws);
    case Tab::Audit:
      return std::make_unique<AuditScreen>(ws);
    case Tab::Buckets:
      return std::make_unique<BucketsScreen>(ws);
    case Tab::Runs:
      return std::make_unique<RunsScreen>(ws);
    case Tab::Launch:
      return std::make_unique<LaunchScreen>(ws);
  }
  return std::make_unique<DatasetScreen>(ws);  // not reached: every Tab is listed above
}

void append_table(std::string& out, const std::string& name, const BindingTable& table) {
  out += name + "\n";
  for (const auto& l : key_list_lines(table)) out += l + "\n";
  out += "\n";
}

}  // namespace

int run_tui(const TuiOptions& options) {
  if (!::isatty(STDIN_FILENO) || !::isatty(STDOUT_FILENO))
    throw Error(
        "lathe tui needs a terminal (stdin and stdout are not a TTY); use the CLI "
        "commands (lathe audit, lathe runs, ...) in scripts");
  std::error_code ec;
  StartPoint start = resolve_start(options.path, fs::current_path(ec));
  if (!options.runs_root.empty()) start.paths.runs_root = options.runs_root;
  Workspace ws(start.paths);
  App app([&ws](Tab t) { return make_screen(ws, t); }, start.open_runs ? Tab::Runs : Tab::Dataset);
  return app.run();
}

std::string key_list_text() {
  std::string out;
  append_table(out, "Everywhere", App::global_bindings());
  append_table(out, "Dataset", DatasetScreen::binding_table());
  append_table(out, "Tags", TagsScreen::binding_table());
  append_table(out, "Audit", AuditScreen::binding_table());
  append_table(out, "Buckets", BucketsScreen::binding_table());
  append_table(out, "Runs", RunsScreen::binding_table());
  append_table(out, "Run page", RunPageScreen::binding_table());
  append_table(out, "Samples", SamplesScreen::binding_table());
  append_table(out, "Launch", LaunchScreen::binding_table());
  append_table(out, "Confirmation dialog", ConfirmDialog::binding_table());
  append_table(out, "Text prompt", PromptDialog::binding_table());
  append_table(out, "Message", MessageDialog::binding_table());
  append_table(out, "Keys overlay", HelpOverlay::binding_table());
  return out;
}

}  // namespace lathe::tui
