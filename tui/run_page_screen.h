// A run's page: its state and progress, the training loss (smoothed) and validation loss as
// one chart with the epoch ends marked, the epoch table with the best epochs marked (ranked
// by runs/best_epoch.h, as `lathe runs best` does), and keys that send pause, resume, stop
// and save-now to the trainer's control socket. The newest sample images show beside the
// chart; `i` opens the samples view (samples_screen.h). It only reads the run folder and talks to
// the socket: closing the page or the TUI never touches the run.
#pragma once

#include <string>
#include <vector>

#include "lora/lora_block_norms.h"
#include "tui/image_preview.h"
#include "tui/list_cursor.h"
#include "tui/run_watch.h"
#include "tui/sample_watch.h"
#include "tui/screen.h"

namespace lathe::tui {

class RunPageScreen : public Screen {
 public:
  explicit RunPageScreen(RunPaths run);
  std::string title() const override { return "Run " + snap_.paths.run_id(); }
  const BindingTable& bindings() const override { return binding_table(); }
  static const BindingTable& binding_table();
  void draw(Canvas& canvas, const Rect& body) override;
  Reaction on_action(int action) override;
  bool poll() override { return snap_.refresh() | samples_.refresh(); }
  int poll_interval_ms() const override { return 500; }

 private:
  void draw_chart(Canvas& c, const Rect& r);
  void draw_table(Canvas& c, const Rect& r);
  void draw_samples(Canvas& c, const Rect& r);
  void draw_blocks(Canvas& c, const Rect& r);  // bars per UNet block of the newest epoch file
  Reaction send(int request);

  RunSnapshot snap_;
  ListCursor table_;
  int table_rows_ = 5;
  std::string message_;
  SampleWatch samples_;                        // the newest show beside the chart
  std::vector<ImagePreview> sample_previews_;  // one per image shown
  std::string blocks_file_, blocks_error_;     // the epoch file the norms are of
  LoRABlockNorms blocks_;
};

}  // namespace lathe::tui
