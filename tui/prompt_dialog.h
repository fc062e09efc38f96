// A one-line text prompt (tag to add, new name, filter, resolution): typed keys edit the
// text, Enter submits it to the callback, Esc cancels. UTF-8 input arrives byte by byte and
// is kept as typed; Backspace removes one whole character.
#pragma once

#include <functional>
#include <string>

#include "tui/screen.h"

namespace lathe::tui {

class PromptDialog : public Screen {
 public:
  PromptDialog(std::string title, std::string label, std::string initial,
               std::function<Reaction(const std::string&)> on_submit);

  std::string title() const override { return title_; }
  const BindingTable& bindings() const override { return binding_table(); }
  static const BindingTable& binding_table();
  void draw(Canvas& canvas, const Rect& body) override;
  Reaction on_action(int action) override;
  bool takes_text() const override { return true; }
  Reaction on_text(int key) override;
  bool overlay() const override { return true; }

 private:
  std::string title_, label_, text_;
  std::function<Reaction(const std::string&)> on_submit_;
};

}  // namespace lathe::tui
