// The message box (see message_dialog.h).
#include "tui/message_dialog.h"

#include <algorithm>
#include <sstream>

#include "tui/canvas.h"
#include "tui/text_fit.h"

namespace lathe::tui {

MessageDialog::MessageDialog(std::string title, std::string message, Role role)
    : title_(std::move(title)), message_(std::move(message)), role_(role) {}

const BindingTable& MessageDialog::binding_table() {
  static const BindingTable t = {
      {{key::kEnter, key::kEsc, 'q', ' '}, "Enter/Esc", "close", 100},
  };
  return t;
}

void MessageDialog::draw(Canvas& c, const Rect& body) {
  int width = std::min(76, body.w - 4);
  std::vector<std::string> lines;
  std::istringstream in(message_);
  for (std::string para; std::getline(in, para);)
    for (auto& l : wrap_text(para, width - 4)) lines.push_back(l);
  int h = std::min(static_cast<int>(lines.size()) + 4, body.h - 2);
  Rect r = centered_rect(body, width, h);
  c.frame(r, title_);
  for (int i = 0; i < static_cast<int>(lines.size()) && i < r.h - 4; ++i)
    c.text(r.y + 1 + i, r.x + 2, lines[static_cast<std::size_t>(i)], role_, r.w - 4);
  c.text(r.bottom() - 2, r.x + 2, "Enter close", Role::Dim, r.w - 4);
}

Reaction MessageDialog::on_action(int) {
  return Reaction::back();
}

}  // namespace lathe::tui
