// The key help overlay (see help_overlay.h).
#include "tui/help_overlay.h"

#include <algorithm>

#include "tui/canvas.h"

namespace lathe::tui {

HelpOverlay::HelpOverlay(std::string screen_title, BindingTable screen_keys,
                         BindingTable global_keys)
    : screen_title_(std::move(screen_title)),
      screen_keys_(std::move(screen_keys)),
      global_keys_(std::move(global_keys)) {}

const BindingTable& HelpOverlay::binding_table() {
  static const BindingTable t = {
      {{'j', key::kDown}, "j/Down", "scroll down", kActDown},
      {{'k', key::kUp}, "k/Up", "scroll up", kActUp},
      {{key::kEsc, 'q', '?', key::kEnter}, "Esc/?", "close", 100},
  };
  return t;
}

void HelpOverlay::draw(Canvas& c, const Rect& body) {
  std::vector<std::pair<std::string, Role>> rows;
  rows.push_back({screen_title_, Role::Header});
  for (auto& l : key_list_lines(screen_keys_)) rows.push_back({l, Role::Normal});
  rows.push_back({"", Role::Normal});
  rows.push_back({"Everywhere", Role::Header});
  for (auto& l : key_list_lines(global_keys_)) rows.push_back({l, Role::Normal});
  Rect r = centered_rect(body, 70, static_cast<int>(rows.size()) + 2);
  c.frame(r, "Keys (Esc closes)");
  int visible = r.h - 2;
  scroll_ = std::clamp(scroll_, 0, std::max(0, static_cast<int>(rows.size()) - visible));
  for (int i = 0; i < visible && scroll_ + i < static_cast<int>(rows.size()); ++i) {
    const auto& row = rows[static_cast<std::size_t>(scroll_ + i)];
    c.text(r.y + 1 + i, r.x + 2, row.first, row.second, r.w - 4);
  }
}

Reaction HelpOverlay::on_action(int action) {
  if (action == kActDown) return ++scroll_, Reaction::draw();
  if (action == kActUp) return scroll_ = std::max(0, scroll_ - 1), Reaction::draw();
  return Reaction::back();
}

}  // namespace lathe::tui
