// The binding tables drive dispatch, the hint bar, the `?` overlay and `lathe tui --keys`:
// these tests hold them consistent (no key bound twice, no screen shadowing a global key it
// did not mean to, hints that fit).
#include "tui/binding.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "tui/app.h"
#include "tui/audit_screen.h"
#include "tui/buckets_screen.h"
#include "tui/confirm_dialog.h"
#include "tui/dataset_screen.h"
#include "tui/launch_screen.h"
#include "tui/prompt_dialog.h"
#include "tui/run_page_screen.h"
#include "tui/runs_screen.h"
#include "tui/tags_screen.h"
#include "tui/text_fit.h"
#include "tui/tui_main.h"

namespace lathe::tui {
namespace {

std::map<std::string, const BindingTable*> screen_tables() {
  return {
      {"Dataset", &DatasetScreen::binding_table()}, {"Tags", &TagsScreen::binding_table()},
      {"Audit", &AuditScreen::binding_table()},     {"Buckets", &BucketsScreen::binding_table()},
      {"Runs", &RunsScreen::binding_table()},       {"Run page", &RunPageScreen::binding_table()},
      {"Launch", &LaunchScreen::binding_table()}};
}

TEST(Bindings, NoKeyBoundTwiceInATable) {
  auto tables = screen_tables();
  tables["Global"] = &App::global_bindings();
  tables["Confirm"] = &ConfirmDialog::binding_table();
  tables["Prompt"] = &PromptDialog::binding_table();
  for (const auto& [name, table] : tables) {
    std::set<int> seen;
    std::set<int> actions;
    for (const auto& b : *table) {
      EXPECT_FALSE(b.keys.empty()) << name << ": " << b.help;
      EXPECT_FALSE(b.label.empty()) << name;
      EXPECT_FALSE(b.help.empty()) << name;
      EXPECT_TRUE(actions.insert(b.action).second) << name << ": action twice: " << b.help;
      for (int k : b.keys) EXPECT_TRUE(seen.insert(k).second) << name << ": " << key_name(k);
    }
  }
}

TEST(Bindings, ScreensLeaveTheGlobalKeysAlone) {
  // ?, q, Esc and the tab digits must work on every screen.
  for (const auto& [name, table] : screen_tables())
    for (int k : std::initializer_list<int>{'?', 'q', key::kEsc, '1', '2', '3', '4', '5', '6', 'Q'})
      EXPECT_EQ(find_binding(*table, k), nullptr) << name << " shadows " << key_name(k);
}

TEST(Bindings, FindBindingDispatchesEveryKey) {
  const BindingTable& t = DatasetScreen::binding_table();
  ASSERT_NE(find_binding(t, 'u'), nullptr);
  EXPECT_EQ(find_binding(t, 'u')->help, "undo");
  ASSERT_NE(find_binding(t, key::kCtrlR), nullptr);
  EXPECT_EQ(find_binding(t, key::kCtrlR)->help, "redo");
  EXPECT_EQ(find_binding(t, 'j')->action, kActDown);
  EXPECT_EQ(find_binding(t, key::kDown)->action, kActDown);
  EXPECT_EQ(find_binding(t, 'Z'), nullptr);
}

TEST(Bindings, HintBarFitsAndKeepsTheGlobalKeys) {
  for (const auto& [name, table] : screen_tables())
    for (int width : {80, 100, 200}) {
      auto items = hint_items(*table, App::global_bindings(), width);
      int used = 0;
      for (const auto& h : items) used += display_width(h.label) + 1 + display_width(h.help) + 2;
      EXPECT_LE(used, width) << name;
      ASSERT_GE(items.size(), 2u) << name;
      EXPECT_EQ(items[items.size() - 2].label, "?") << name;
      EXPECT_EQ(items.back().label, "q") << name;
    }
  // Only hinted bindings appear.
  auto items = hint_items(DatasetScreen::binding_table(), {}, 1000);
  for (const auto& h : items) EXPECT_NE(h.label, "k/Up");
}

TEST(Bindings, KeyListComesFromTheTables) {
  std::string text = key_list_text();
  for (const auto& [name, table] : screen_tables()) {
    EXPECT_NE(text.find(name + "\n"), std::string::npos) << name;
    for (const auto& b : *table) EXPECT_NE(text.find(b.help), std::string::npos) << b.help;
  }
  EXPECT_NE(text.find("Ctrl-R"), std::string::npos);
}

TEST(Bindings, KeyNames) {
  EXPECT_EQ(key_name('\n'), "Enter");
  EXPECT_EQ(key_name(key::kCtrlR), "Ctrl-R");
  EXPECT_EQ(key_name('a'), "a");
  EXPECT_EQ(key_name(key::kNPage), "PgDn");
  auto lines = key_list_lines({{{'a'}, "a", "add", 1}, {{'b'}, "long", "bee", 2}});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "  a     add");
  EXPECT_EQ(lines[1], "  long  bee");
}

}  // namespace
}  // namespace lathe::tui
