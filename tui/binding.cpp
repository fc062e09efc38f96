// Binding-table lookups and the text views of it (see binding.h).
#include "tui/binding.h"

#include <fmt/format.h>

#include <algorithm>

#include "tui/text_fit.h"

namespace lathe::tui {

const Binding* find_binding(const BindingTable& table, int k) {
  for (const auto& b : table)
    if (std::find(b.keys.begin(), b.keys.end(), k) != b.keys.end()) return &b;
  return nullptr;
}

BindingTable movement_bindings() {
  return {
      {{'k', key::kUp}, "k/Up", "previous row", kActUp, false},
      {{'j', key::kDown}, "j/Down", "next row", kActDown, false},
      {{key::kPPage}, "PgUp", "page up", kActPageUp, false},
      {{key::kNPage, ' '}, "PgDn", "page down", kActPageDown, false},
      {{'g', key::kHome}, "g/Home", "first row", kActTop, false},
      {{'G', key::kEnd}, "G/End", "last row", kActBottom, false},
  };
}

std::vector<HintItem> hint_items(const BindingTable& screen, const BindingTable& global,
                                 int width) {
  std::vector<HintItem> out;
  int used = 0;
  auto take = [&](const Binding& b, int reserve) {
    int w = display_width(b.label) + 1 + display_width(b.help) + 2;
    if (used + w + reserve > width) return false;
    out.push_back({b.label, b.help});
    used += w;
    return true;
  };
  int global_w = 0;
  for (const auto& g : global)
    if (g.hint) global_w += display_width(g.label) + 1 + display_width(g.help) + 2;
  for (const auto& b : screen)
    if (b.hint && !take(b, global_w)) break;
  for (const auto& g : global)
    if (g.hint) take(g, 0);
  return out;
}

std::vector<std::string> key_list_lines(const BindingTable& table) {
  std::size_t w = 0;
  for (const auto& b : table) w = std::max<std::size_t>(w, display_width(b.label));
  std::vector<std::string> lines;
  for (const auto& b : table)
    lines.push_back(fmt::format("  {}  {}", pad_text(b.label, static_cast<int>(w)), b.help));
  return lines;
}

std::string key_name(int code) {
  switch (code) {
    case key::kEnter:
    case '\r':
    case key::kKeypadEnter:
      return "Enter";
    case key::kEsc:
      return "Esc";
    case key::kTab:
      return "Tab";
    case key::kBTab:
      return "S-Tab";
    case key::kUp:
      return "Up";
    case key::kDown:
      return "Down";
    case key::kLeft:
      return "Left";
    case key::kRight:
      return "Right";
    case key::kHome:
      return "Home";
    case key::kEnd:
      return "End";
    case key::kPPage:
      return "PgUp";
    case key::kNPage:
      return "PgDn";
    case key::kBackspace:
    case 127:
      return "Backspace";
    case key::kDelete:
      return "Delete";
    case ' ':
      return "Space";
    default:
      break;
  }
  if (code > 0 && code < 32) return fmt::format("Ctrl-{}", static_cast<char>('A' + code - 1));
  if (code >= 32 && code < 127) return std::string(1, static_cast<char>(code));
  return fmt::format("key {}", code);
}

}  // namespace lathe::tui
