// The progress of a `lathe sample` job and its one-line display on stderr:
// "image 2/8  step 12/20  [#########...........]  2.31 it/s  ETA 0:42". Pure, so it is tested
// without a terminal.
#pragma once

#include <cstdint>
#include <string>

namespace lathe {

struct SampleProgress {
  int64_t image = 0, images = 0;            // 0-based image being rendered, and how many in all
  int64_t step = 0, steps = 0;              // steps done for this image, and its step count
  int64_t done_steps = 0, total_steps = 0;  // over the whole job
};

// `elapsed_s`: seconds since the job's first step began (the rate and ETA come from it; "-"
// until a step is done).
std::string format_sample_progress(const SampleProgress& p, double elapsed_s, int bar_width = 20);

}  // namespace lathe
