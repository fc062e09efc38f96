// A message box: the text of an error from the core (which names the file and what to do),
// or a notice. Any of Enter, Esc, q closes it.
#pragma once

#include <string>

#include "tui/screen.h"
#include "tui/theme.h"

namespace lathe::tui {

class MessageDialog : public Screen {
 public:
  MessageDialog(std::string title, std::string message, Role role = Role::Error);

  std::string title() const override { return title_; }
  const BindingTable& bindings() const override { return binding_table(); }
  static const BindingTable& binding_table();
  void draw(Canvas& canvas, const Rect& body) override;
  Reaction on_action(int action) override;
  bool overlay() const override { return true; }

 private:
  std::string title_, message_;
  Role role_;
};

}  // namespace lathe::tui
