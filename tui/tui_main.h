// The TUI's entry points for `lathe tui`: run it on a path, or print the key list of every
// screen from the binding tables (`lathe tui --keys`, pasted into the README).
#pragma once

#include <filesystem>
#include <string>

namespace lathe::tui {

struct TuiOptions {
  std::filesystem::path path;       // dataset folder, profile, or runs folder; empty: cwd
  std::filesystem::path runs_root;  // --runs; empty: from path, else ./runs
};

// Runs the TUI until the user quits or the terminal hangs up; returns the exit code.
// Throws lathe::Error when stdin/stdout is not a terminal.
int run_tui(const TuiOptions& options);

// Every screen's keys, from the same tables that dispatch them.
std::string key_list_text();

}  // namespace lathe::tui
