// The app loop (htop's ScreenManager_run, nvtop): one loop owns the terminal. It waits for
// a key with a timeout (no busy loop: with nothing to poll it blocks until a key comes),
// dispatches the key through the top screen's binding table and then the global one, applies
// the reaction (push, pop, switch tab, quit), polls the visible screen's data at the rate it
// asks (run files at most twice a second), and draws a frame only when something changed:
// every window is drawn with wnoutrefresh and the frame goes out in one doupdate, and curses
// sends only the cells that differ. SIGHUP (a dropped SSH connection) and SIGTERM end the
// loop cleanly; nothing here ever touches a run.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <vector>

#include "tui/binding.h"
#include "tui/glyphs.h"
#include "tui/screen.h"
#include "tui/theme.h"

typedef struct _win_st WINDOW;
typedef struct screen SCREEN;

namespace lathe::tui {

using ScreenFactory = std::function<std::unique_ptr<Screen>(Tab)>;

class App {
 public:
  App(ScreenFactory factory, Tab first);
  ~App();
  // Runs until quit or hang-up; returns the process exit code.
  int run();

  static const BindingTable& global_bindings();

 private:
  enum GlobalAction { kHelp = 200, kBack, kBackEsc, kQuit, kRedraw, kTab1 };
  std::vector<std::unique_ptr<Screen>>& stack();
  Screen& top();
  void show_tab(int tab);
  void handle_key(int key);
  void apply(Reaction r);
  Reaction global_action(int action);
  Reaction guarded(const std::function<Reaction()>& f);
  void loop();
  void draw_frame();
  void draw_guarded(Screen& screen, class Canvas& c, const struct Rect& body);
  void draw_tabs(class Canvas& c, const struct Rect& r);
  void draw_hints(class Canvas& c, const struct Rect& r);
  bool poll_due_screens();
  int wait_ms() const;

  ScreenFactory factory_;
  std::array<std::vector<std::unique_ptr<Screen>>, kTabCount> stacks_;
  int tab_ = 0;
  bool quit_ = false;
  bool dirty_ = true;
  long long last_poll_ms_ = 0;
  Theme theme_;
  GlyphSet glyphs_;
  SCREEN* screen_ = nullptr;
  WINDOW* frame_ = nullptr;
  std::vector<WINDOW*> overlays_;
};

}  // namespace lathe::tui
