// GoogleTest's main for every test executable, with one change: each test process (and every
// lathe process it starts, through the environment) runs libtorch on one intra-op thread unless
// OMP_NUM_THREADS says otherwise.
//
// Why: CTest runs two test processes at once on CI's 2 cores, and many tests start a detached
// `lathe train` beside themselves. With libtorch's default (an OpenMP team per core) those
// teams wait for each other's cores, and the tiny test models gain nothing from a team anyway:
// TrainerResume.ResumedRunMatchesUninterruptedRun took 11.4 s alone with two threads and 5.6 s
// with one; two copies at once took 115 s each with two threads and 5-11 s with one.
// OMP_NUM_THREADS=2 build/test_train ... runs the suites multi-threaded.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cstdlib>

int main(int argc, char** argv) {
  if (std::getenv("OMP_NUM_THREADS") == nullptr) {
    ::setenv("OMP_NUM_THREADS", "1", /*overwrite=*/0);  // for the lathe processes tests start
    at::set_num_threads(1);  // OpenMP read the (unset) variable before main
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
