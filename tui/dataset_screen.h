// The Dataset screen: the concepts with their image counts, the images of the selected
// concept, the selected image's caption as a list of tags that can be added, edited,
// removed and moved to the front (each a journaled edit of that one caption file, undone
// with `u` and redone with Ctrl-R), and a preview of the image.
#pragma once

#include <string>

#include "dataset/dataset.h"
#include "tui/image_preview.h"
#include "tui/list_cursor.h"
#include "tui/screen.h"

namespace lathe::tui {

class Workspace;
struct EditOutcome;

class DatasetScreen : public Screen {
 public:
  explicit DatasetScreen(Workspace& ws) : ws_(ws) {}
  std::string title() const override;
  const BindingTable& bindings() const override { return binding_table(); }
  static const BindingTable& binding_table();
  void draw(Canvas& canvas, const Rect& body) override;
  Reaction on_action(int action) override;
  void on_show() override;

 private:
  enum Pane { kConcepts = 0, kImages, kTags };
  const Item* current_item();
  const Concept* current_concept();
  Reaction edit_current(int action);
  Reaction report(const EditOutcome& out, const std::string& nothing);
  void draw_lists(Canvas& c, const Rect& body);

  Workspace& ws_;
  int focus_ = kConcepts;
  ListCursor concepts_, images_, tags_;
  int visible_ = 10;  // rows of the lists at the last draw
  std::string status_;
  ImagePreview preview_;
};

}  // namespace lathe::tui
