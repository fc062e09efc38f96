// Starting a run's worker as a process of its own that outlives the terminal: double fork and
// setsid (no controlling terminal, not a session leader, reparented to init), stdin from
// /dev/null, stdout and stderr appended to the run's log.txt, then exec of the lathe binary as
// `lathe train --worker RUN_DIR`. The training lock's descriptor is handed on, and a pipe tells
// the launcher that the worker has started (it writes its pid there after status.json says
// running), so `lathe train` can print the pid or the reason it failed.
#pragma once

#include <filesystem>

#include "runs/run_dir.h"

namespace lathe {

// The running lathe binary (/proc/self/exe resolved), to re-exec as the worker.
std::filesystem::path current_executable();

// Starts the worker for `run` and waits (up to `timeout_s`) until it reports; returns its pid.
// `lock_fd` (or -1) is inherited by the worker. Throws lathe::Error with the end of log.txt
// when the worker could not start.
long long spawn_detached_worker(const RunPaths& run, int lock_fd, const std::filesystem::path& exe,
                                int timeout_s = 60);

// Worker side: reports the pid on the launcher's pipe and closes it.
void report_worker_started(int ready_fd);

}  // namespace lathe
