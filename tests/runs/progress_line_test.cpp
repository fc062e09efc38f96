// The foreground progress line: step/total, epoch, losses, speed and the ETA from the speed.
#include "runs/progress_line.h"

#include <gtest/gtest.h>

using namespace lathe;

TEST(ProgressLine, ShowsProgressSpeedAndEta) {
  ProgressView v;
  v.step = 120;
  v.total_steps = 196;
  v.epoch = 3;
  v.total_epochs = 4;
  v.loss = 0.77123;
  v.loss_smoothed = 0.779;
  v.it_per_s = 2.0;
  EXPECT_EQ(format_progress_line(v),
            "step 120/196  epoch 3/4  loss 0.7712 (smoothed 0.7790)  2.00 it/s  ETA 0:38");
  v.step = 0;
  v.total_steps = 20000;
  v.it_per_s = 1.0;
  EXPECT_NE(format_progress_line(v).find("ETA 5:33:20"), std::string::npos);
  v.it_per_s = 0;  // no speed yet: no ETA
  EXPECT_NE(format_progress_line(v).find("ETA -"), std::string::npos);
}
