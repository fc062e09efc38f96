// The one-line progress display of a foreground run: "step 12/40  epoch 2/4  loss 0.1234
// (smoothed 0.1300)  3.21 it/s  ETA 0:09". A pure function so it is tested without a terminal.
#pragma once

#include <string>

#include "runs/run_recorder.h"

namespace lathe {

std::string format_progress_line(const ProgressView& v);

}  // namespace lathe
