// The run queue: queued runs are plain run folders whose status.json says "queued" (no daemon,
// no queue file), so the queue survives a reboot or a closed shell. They start oldest-queued
// first, one at a time, by whoever holds the training lock: the worker that finishes a run,
// `lathe train` (a new run, or `--queue` when nothing is running), or `lathe runs queue`.
// Lost wake-ups are impossible: a queuer publishes its run and then tries the lock; a finisher
// scans under the lock, releases it, and scans once more. A worker killed outright (kill -9,
// out of memory, reboot) hands nothing on: the next runs command that looks at the folder
// (`runs list`, `show`, `tail`, `queue`, `lathe train --queue`) finds the lock free while runs
// wait, and starts the oldest (restart_stalled_queue).
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

#include "runs/run_dir.h"
#include "runs/run_log.h"
#include "runs/train_lock.h"

namespace lathe {

// Queued runs of `runs_root`, the one queued first at the front.
std::vector<RunPaths> queued_runs(const std::filesystem::path& runs_root);

// With the lock held: starts the oldest queued run as a detached worker that inherits the lock.
// A run whose worker cannot start is marked failed (its error in status.json) and skipped.
// `log` (may be null) gets a line per start or failure.
std::optional<RunPaths> start_next_queued(const std::filesystem::path& runs_root,
                                          const TrainLock& lock, const std::filesystem::path& exe,
                                          const RunLog* log);

// For whoever ends a run or checks the queue: starts the next queued run if `lock` is held,
// otherwise (or when nothing was queued) gives the lock up and, if runs are queued, tries to
// take it and start one. Never throws; problems go to `log`.
std::optional<RunPaths> hand_on_queue(const std::filesystem::path& runs_root,
                                      std::optional<TrainLock>& lock,
                                      const std::filesystem::path& exe, const RunLog* log);

// Runs wait in the queue but nothing holds the training lock: the worker that should have
// started them is gone. Starts the oldest one as hand_on_queue does, provided this user owns
// the runs folder (nobody starts another user's run as themselves; root never starts a user's
// run as root). Returns the run started. When runs are stalled but this process may not start
// them, `*advice` (if given) gets a line saying who can and how. Never throws.
std::optional<RunPaths> restart_stalled_queue(const std::filesystem::path& runs_root,
                                              const std::filesystem::path& exe,
                                              std::string* advice = nullptr);

}  // namespace lathe
