// A yes/cancel dialog for what cannot be undone or would be thrown away: Cancel has the
// focus when it opens, Esc and `n` cancel, `y` or Enter on the other button confirms.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tui/screen.h"

namespace lathe::tui {

class ConfirmDialog : public Screen {
 public:
  ConfirmDialog(std::string title, std::vector<std::string> lines, std::string yes_label,
                std::function<Reaction()> on_yes);

  std::string title() const override { return title_; }
  const BindingTable& bindings() const override { return binding_table(); }
  static const BindingTable& binding_table();
  void draw(Canvas& canvas, const Rect& body) override;
  Reaction on_action(int action) override;
  bool overlay() const override { return true; }
  bool yes_focused() const { return yes_focused_; }

 private:
  Reaction confirm();
  std::string title_;
  std::vector<std::string> lines_;
  std::string yes_label_;
  std::function<Reaction()> on_yes_;
  bool yes_focused_ = false;
};

}  // namespace lathe::tui
