// `lathe sample --grid RUN`: the epoch grid of a run (sample/epoch_grid.h), called by the
// sample command (sample_cmd.cpp) with its progress and Ctrl-C callbacks.
#pragma once

#include "cli/command.h"
#include "sample/sample_job.h"

namespace lathe::cli {

// The options the grid adds to `lathe sample`.
std::vector<Option> sample_grid_options();

// Renders and writes the grid of the run named by positional 0; prints where it went.
int run_sample_grid(const Args& args, SampleJob job, const SampleCallbacks& callbacks);

}  // namespace lathe::cli
