// The binding table: every key a screen answers to, with its label and help text, in one
// list per screen. The same list drives dispatch (find_binding), the hint bar, the `?`
// overlay and `lathe tui --keys` (the README's key list), so help never drifts from what the
// keys do. Keys are ncurses key codes; this file does not include ncurses.
#pragma once

#include <string>
#include <vector>

namespace lathe::tui {

// Key codes the tables use, equal to ncurses' (checked by a static_assert in app.cpp).
namespace key {
constexpr int kEnter = '\n';
constexpr int kEsc = 27;
constexpr int kTab = '\t';
constexpr int kCtrlR = 18;
constexpr int kDown = 0402, kUp = 0403, kLeft = 0404, kRight = 0405, kHome = 0406;
constexpr int kBackspace = 0407;
constexpr int kNPage = 0522, kPPage = 0523, kEnd = 0550, kBTab = 0541;
constexpr int kDelete = 0512;
constexpr int kKeypadEnter = 0527;
constexpr int kResize = 0632;
}  // namespace key

struct Binding {
  std::vector<int> keys;  // every key that triggers it
  std::string label;      // how the keys are shown: "j/Down"
  std::string help;       // what it does, for the hint bar and the `?` overlay
  int action = 0;         // the screen's own action id
  bool hint = true;       // shown in the hint bar (all bindings show in `?`)
};

using BindingTable = std::vector<Binding>;

// The binding a key triggers, or nullptr.
const Binding* find_binding(const BindingTable& table, int key);

// Shared movement bindings every list screen starts with (action ids below 100).
enum CommonAction { kActUp = 1, kActDown, kActPageUp, kActPageDown, kActTop, kActBottom };
BindingTable movement_bindings();

// "label help" pairs of the hinted bindings, joined to fit `width` columns; always ends with
// the global keys (`?` help, `q` back) when they fit.
struct HintItem {
  std::string label, help;
};
std::vector<HintItem> hint_items(const BindingTable& screen, const BindingTable& global, int width);

// The key list of one table as aligned text lines ("  j/Down      next row").
std::vector<std::string> key_list_lines(const BindingTable& table);

// "Enter", "Esc", "Ctrl-R", "PgDn", "x": a readable name for one key code.
std::string key_name(int code);

}  // namespace lathe::tui
