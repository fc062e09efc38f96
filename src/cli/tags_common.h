// Shared plumbing of the `lathe tags` commands: the scope flags (--concept, --file,
// --where-tag, --where-no-tag), opening a dataset for editing, the plan/apply flow with its
// dry-run and --json output, and the test-only pause hook used by the crash tests.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "cli/command.h"
#include "dataset/caption_edit.h"
#include "dataset/dataset.h"
#include "dataset/edit_engine.h"

namespace lathe::cli::tags {

// --concept/--file/--where-tag/--where-no-tag, then --dry-run, --json, --sample, --caption-ext.
std::vector<Option> edit_options();
std::vector<Option> dataset_options();  // --caption-ext only (history, undo, redo, stats)

// The DIR positional, checked to be a folder, as an absolute canonical path.
std::filesystem::path dataset_root(const Args& args, const std::string& command);

Dataset scan_for_tags(const std::filesystem::path& root, const Args& args,
                      const std::string& command);

// A tag argument, trimmed; "" stays "" so validate_edit_op can name the problem.
std::string tag_argument(const std::string& raw);

// Prints the journal's recovery notice (to stderr) when opening it rolled a batch back.
void report_recovery(const EditEngine& engine);

// LATHE_TEST_PAUSE_AFTER_N_WRITES=N (tests only): after the N-th caption write of a batch,
// print a marker to stderr and sleep, so a test can SIGKILL the process mid-batch.
AfterWriteHook test_pause_hook();

// Scope, plan, print, and (unless --dry-run) apply. Returns the exit code.
int run_edit(const Args& args, const std::string& command, const EditOp& op);

}  // namespace lathe::cli::tags
