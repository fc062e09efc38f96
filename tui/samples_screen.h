// The samples view of a run: its sample images as a grid, one row per sampling point (epoch
// and step, with the smoothed loss then), one column per prompt, so a user over SSH follows
// one prompt down the rows and sees the LoRA learn without copying files. The keys move
// through epochs (rows) and prompts (columns); z shows the selected image alone, as large as
// the terminal allows. New images appear as the trainer writes them; a cursor on the newest
// row follows new rows. Grouping comes from runs/sample_table.h; this screen only draws.
#pragma once

#include <string>
#include <vector>

#include "tui/image_preview.h"
#include "tui/list_cursor.h"
#include "tui/run_watch.h"
#include "tui/sample_watch.h"
#include "tui/screen.h"

namespace lathe::tui {

class SamplesScreen : public Screen {
 public:
  explicit SamplesScreen(RunPaths run);
  std::string title() const override { return "Samples " + snap_.paths.run_id(); }
  const BindingTable& bindings() const override { return binding_table(); }
  static const BindingTable& binding_table();
  void draw(Canvas& canvas, const Rect& body) override;
  Reaction on_action(int action) override;
  bool poll() override;
  int poll_interval_ms() const override { return 500; }

 private:
  void draw_header(Canvas& c, const Rect& r);
  void draw_grid(Canvas& c, const Rect& body);
  void draw_zoomed(Canvas& c, const Rect& body);
  void draw_prompt(Canvas& c, const Rect& r);
  std::string row_text(int row) const;
  std::string prompt_label(int column) const;  // "2: a photo of ..." or "prompt 2"

  RunSnapshot snap_;  // for the loss of each row
  SampleWatch samples_;
  ListCursor rows_, columns_;
  int visible_rows_ = 1, visible_columns_ = 1;
  bool zoomed_ = false;
  std::vector<ImagePreview> previews_;  // one per visible cell
};

}  // namespace lathe::tui
