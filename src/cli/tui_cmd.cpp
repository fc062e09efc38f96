// `lathe tui [PATH]` (and `lathe` with no arguments): the terminal workstation on a dataset
// folder, a profile or a runs folder. `--keys` prints every screen's keys from the binding
// tables that dispatch them.
#include <iostream>

#include "cli/command.h"
#include "tui/tui_main.h"

namespace lathe::cli {
namespace {

int run_tui_command(const Args& args) {
  if (args.has("keys")) {
    std::cout << tui::key_list_text();
    return kExitOk;
  }
  tui::TuiOptions options;
  if (!args.positionals().empty()) options.path = args.positional(0);
  options.runs_root = args.value_or("runs", "");
  return tui::run_tui(options);
}

CommandSpec tui_command() {
  CommandSpec spec;
  spec.name = "tui";
  spec.summary = "open the terminal workstation (also: lathe with no arguments)";
  spec.usage = "[PATH] [options]";
  spec.details =
      "PATH is a dataset folder, a profile (.toml: its dataset) or a runs folder (opens on\n"
      "the Runs screen); default: the current folder. Runs are read from ./runs unless\n"
      "--runs says otherwise; profiles for the Launch screen from ./profiles.\n"
      "Press ? on any screen for its keys.";
  spec.options = {{"runs", "DIR", "runs folder to watch (default ./runs)"},
                  {"keys", "", "print every screen's keys and exit"}};
  spec.max_positionals = 1;
  spec.run = run_tui_command;
  return spec;
}

}  // namespace

LATHE_REGISTER_COMMAND(tui_command)

}  // namespace lathe::cli
