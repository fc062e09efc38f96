// The run directory contract (DESIGN.md, README "Run directory"): where each file of a run
// lives, how run ids are made, and listing the runs of a runs folder. Everything that watches a
// run (CLI, TUI, scripts) finds its files through these names.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace lathe {

constexpr const char* kRunLayoutVersion = "lathe-run/1";

struct RunPaths {
  std::filesystem::path dir;
  std::filesystem::path profile() const { return dir / "profile.toml"; }
  std::filesystem::path status() const { return dir / "status.json"; }
  std::filesystem::path metrics() const { return dir / "metrics.jsonl"; }
  std::filesystem::path epochs() const { return dir / "epochs"; }
  std::filesystem::path checkpoints() const { return dir / "checkpoints"; }
  std::filesystem::path samples() const { return dir / "samples"; }
  std::filesystem::path log() const { return dir / "log.txt"; }
  std::filesystem::path control_socket() const { return dir / "control.sock"; }
  std::string run_id() const { return dir.filename().string(); }
};

// "20261122-044800-demo": sortable by start time, readable, safe as a folder name.
std::string make_run_id(const std::string& name, long long unix_time);

// Turns a free-form name into a folder-name-safe one of at most 48 characters: letters and
// digits of any script, '.', '_' and '-' stay; spaces, other ASCII punctuation, control and
// formatting characters and invalid UTF-8 bytes become '-'; leading '.' and '-' are dropped.
std::string sanitize_run_name(const std::string& name);

// Creates runs_root/<run-id>/ with its subfolders; adds a numeric suffix if the id exists.
// Throws lathe::Error naming the folder when it cannot be created.
RunPaths create_run_dir(const std::filesystem::path& runs_root, const std::string& name,
                        long long unix_time);

// Every folder under runs_root that holds a status.json, sorted by run id.
std::vector<RunPaths> list_runs(const std::filesystem::path& runs_root);

// Resolves what a user typed: a path to a run folder, a run id under runs_root, or a unique
// prefix / suffix of one (or, failing that, a unique part of one, such as its start time).
// Throws lathe::Error listing candidates when ambiguous or unknown.
RunPaths find_run(const std::filesystem::path& runs_root, const std::string& query);

}  // namespace lathe
