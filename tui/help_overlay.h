// The `?` overlay: the keys of the screen below it and the global keys, read from the same
// binding tables that dispatch them.
#pragma once

#include <string>

#include "tui/screen.h"

namespace lathe::tui {

class HelpOverlay : public Screen {
 public:
  HelpOverlay(std::string screen_title, BindingTable screen_keys, BindingTable global_keys);

  std::string title() const override { return "Keys: " + screen_title_; }
  const BindingTable& bindings() const override { return binding_table(); }
  static const BindingTable& binding_table();
  void draw(Canvas& canvas, const Rect& body) override;
  Reaction on_action(int action) override;
  bool overlay() const override { return true; }

 private:
  std::string screen_title_;
  BindingTable screen_keys_, global_keys_;
  int scroll_ = 0;
};

}  // namespace lathe::tui
