// The confirmation dialog (see confirm_dialog.h).
#include "tui/confirm_dialog.h"

#include <algorithm>

#include "tui/canvas.h"
#include "tui/text_fit.h"

namespace lathe::tui {
namespace {
enum Action { kSwitch = 100, kActivate, kYes, kCancel };
}

ConfirmDialog::ConfirmDialog(std::string title, std::vector<std::string> lines,
                             std::string yes_label, std::function<Reaction()> on_yes)
    : title_(std::move(title)),
      lines_(std::move(lines)),
      yes_label_(std::move(yes_label)),
      on_yes_(std::move(on_yes)) {}

const BindingTable& ConfirmDialog::binding_table() {
  static const BindingTable t = {
      {{key::kLeft, key::kRight, key::kTab, key::kBTab, 'h', 'l'},
       "Left/Right",
       "switch button",
       kSwitch},
      {{key::kEnter}, "Enter", "press the focused button", kActivate},
      {{'y'}, "y", "confirm", kYes},
      {{'n', key::kEsc, 'q'}, "n/Esc", "cancel", kCancel},
  };
  return t;
}

void ConfirmDialog::draw(Canvas& c, const Rect& body) {
  int want_w = display_width(title_) + 8;
  for (const auto& l : lines_) want_w = std::max(want_w, display_width(l) + 4);
  want_w = std::max(want_w, display_width(yes_label_) + 20);
  Rect r = centered_rect(body, std::min(want_w, 76), static_cast<int>(lines_.size()) + 5);
  c.frame(r, title_);
  for (std::size_t i = 0; i < lines_.size() && static_cast<int>(i) + 2 < r.h - 2; ++i)
    c.text(r.y + 1 + static_cast<int>(i), r.x + 2, lines_[i], Role::Normal, r.w - 4);
  std::string cancel = "[ Cancel ]", yes = "[ " + yes_label_ + " ]";
  int y = r.bottom() - 2;
  int x = r.x + (r.w - display_width(cancel) - display_width(yes) - 3) / 2;
  x += c.text(y, x, cancel, yes_focused_ ? Role::Normal : Role::Selected) + 3;
  c.text(y, x, yes, yes_focused_ ? Role::Selected : Role::Normal);
}

Reaction ConfirmDialog::confirm() {
  Reaction after = on_yes_ ? on_yes_() : Reaction{};
  after.pops += 1;
  after.redraw = true;
  return after;
}

Reaction ConfirmDialog::on_action(int action) {
  switch (action) {
    case kSwitch:
      yes_focused_ = !yes_focused_;
      return Reaction::draw();
    case kActivate:
      return yes_focused_ ? confirm() : Reaction::back();
    case kYes:
      return confirm();
    case kCancel:
      return Reaction::back();
  }
  return {};
}

}  // namespace lathe::tui
