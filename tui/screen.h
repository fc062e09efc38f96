// The screen interface and the reactions its handlers return. Every screen lives in its own
// file and answers title / bindings / draw / on_action; the app loop (app.h) owns input,
// dispatch through the binding table, the screen stack and redrawing. Handlers never draw
// or block: they change the screen's state and return what the loop should do next
// (nothing, redraw, push a screen or dialog, pop, switch tab, quit).
#pragma once

#include <memory>
#include <string>

#include "tui/binding.h"
#include "tui/layout.h"

namespace lathe::tui {

class Canvas;
class Screen;

// The top-level screens, in tab order (keys 1..6).
enum class Tab { Dataset = 0, Tags, Audit, Buckets, Runs, Launch };
constexpr int kTabCount = 6;
const char* tab_name(Tab t);

struct Reaction {
  bool redraw = false;
  int pops = 0;                  // screens to pop first
  int switch_tab = -1;           // then the tab to show (a Tab value)
  std::unique_ptr<Screen> push;  // then the screen to push (on that tab)
  bool quit = false;

  static Reaction none() { return {}; }
  static Reaction draw() {
    Reaction r;
    r.redraw = true;
    return r;
  }
  static Reaction open(std::unique_ptr<Screen> s) {
    Reaction r;
    r.redraw = true;
    r.push = std::move(s);
    return r;
  }
  static Reaction back(int n = 1) {
    Reaction r;
    r.redraw = true;
    r.pops = n;
    return r;
  }
  static Reaction go_tab(Tab t) {
    Reaction r;
    r.redraw = true;
    r.switch_tab = static_cast<int>(t);
    return r;
  }
  static Reaction exit() {
    Reaction r;
    r.quit = true;
    return r;
  }
};

class Screen {
 public:
  virtual ~Screen() = default;
  virtual std::string title() const = 0;
  virtual const BindingTable& bindings() const = 0;
  virtual void draw(Canvas& canvas, const Rect& body) = 0;
  virtual Reaction on_action(int action) = 0;

  // Text-entry screens (prompts) get every key their table does not bind.
  virtual bool takes_text() const { return false; }
  virtual Reaction on_text(int key) { return {}; }
  // Dialogs and the help overlay draw over the screen below them.
  virtual bool overlay() const { return false; }
  // Pulls the latest data; true when what the screen shows changed. Called at most every
  // poll_interval_ms (-1: never, so an idle dataset screen costs no CPU at all).
  virtual bool poll() { return false; }
  virtual int poll_interval_ms() const { return -1; }
  // Called when the screen comes to the top of the stack (after a pop or a tab switch).
  virtual void on_show() {}
  // What backing out would throw away ("2 edited fields"); empty when nothing.
  virtual std::string unsaved() const { return {}; }
};

}  // namespace lathe::tui
