// The text prompt (see prompt_dialog.h).
#include "tui/prompt_dialog.h"

#include "tui/canvas.h"
#include "tui/text_fit.h"

namespace lathe::tui {
namespace {
enum Action { kSubmit = 100, kCancel, kErase, kClear };
}

PromptDialog::PromptDialog(std::string title, std::string label, std::string initial,
                           std::function<Reaction(const std::string&)> on_submit)
    : title_(std::move(title)),
      label_(std::move(label)),
      text_(std::move(initial)),
      on_submit_(std::move(on_submit)) {}

const BindingTable& PromptDialog::binding_table() {
  static const BindingTable t = {
      {{key::kEnter}, "Enter", "accept", kSubmit},
      {{key::kEsc}, "Esc", "cancel", kCancel},
      {{key::kBackspace, 127, 8}, "Backspace", "erase a character", kErase},
      {{21}, "Ctrl-U", "clear the text", kClear},
  };
  return t;
}

void PromptDialog::draw(Canvas& c, const Rect& body) {
  Rect r = centered_rect(body, 64, 6);
  c.frame(r, title_);
  c.text(r.y + 1, r.x + 2, label_, Role::Normal, r.w - 4);
  std::string shown = text_ + "_";
  int room = r.w - 4;
  // Show the end of a long text: that is where the typing happens.
  while (display_width(shown) > room && !shown.empty()) shown.erase(0, 1);
  c.line(r.y + 2, r.x + 2, shown, room, Role::Input);
  c.text(r.y + 4, r.x + 2, "Enter accept  Esc cancel", Role::Dim, r.w - 4);
}

Reaction PromptDialog::on_action(int action) {
  switch (action) {
    case kSubmit: {
      Reaction after = on_submit_ ? on_submit_(text_) : Reaction{};
      after.pops += 1;
      after.redraw = true;
      return after;
    }
    case kCancel:
      return Reaction::back();
    case kErase:
      // Drop UTF-8 continuation bytes, then the lead byte.
      while (!text_.empty() && (static_cast<unsigned char>(text_.back()) & 0xC0) == 0x80)
        text_.pop_back();
      if (!text_.empty()) text_.pop_back();
      return Reaction::draw();
    case kClear:
      text_.clear();
      return Reaction::draw();
  }
  return {};
}

Reaction PromptDialog::on_text(int k) {
  if (k >= 32 && k < 256 && k != 127) {
    text_.push_back(static_cast<char>(k));
    return Reaction::draw();
  }
  return {};
}

}  // namespace lathe::tui
