// The app loop (see app.h).
#include "tui/app.h"

#include <curses.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <clocale>

#include "common/error.h"
#include "tui/canvas.h"
#include "tui/confirm_dialog.h"
#include "tui/help_overlay.h"
#include "tui/layout.h"
#include "tui/message_dialog.h"
#include "tui/terminal_open.h"
#include "tui/text_fit.h"

namespace lathe::tui {

static_assert(key::kDown == KEY_DOWN && key::kUp == KEY_UP && key::kLeft == KEY_LEFT &&
              key::kRight == KEY_RIGHT && key::kHome == KEY_HOME && key::kEnd == KEY_END &&
              key::kNPage == KEY_NPAGE && key::kPPage == KEY_PPAGE &&
              key::kBackspace == KEY_BACKSPACE && key::kBTab == KEY_BTAB &&
              key::kDelete == KEY_DC && key::kKeypadEnter == KEY_ENTER &&
              key::kResize == KEY_RESIZE);

namespace {

volatile sig_atomic_t g_hangup = 0;

void on_hangup(int) {
  g_hangup = 1;
}

long long now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

void install_signal(int sig) {
  struct sigaction sa {};
  sa.sa_handler = on_hangup;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocked read returns so the loop sees the flag
  sigaction(sig, &sa, nullptr);
}

}  // namespace

App::App(ScreenFactory factory, Tab first)
    : factory_(std::move(factory)), tab_(static_cast<int>(first)) {}

App::~App() {
  for (WINDOW* w : overlays_) delwin(w);
  if (frame_) delwin(frame_);
}

const BindingTable& App::global_bindings() {
  static const BindingTable t = [] {
    BindingTable g = {
        {{'?'}, "?", "keys", kHelp},
        {{'q'}, "q", "back/quit", kBack},
        {{key::kEsc}, "Esc", "back", kBackEsc, false},
        {{'Q'}, "Q", "quit Lathe", kQuit, false},
        {{12}, "Ctrl-L", "redraw the screen", kRedraw, false},
    };
    for (int i = 0; i < kTabCount; ++i)
      g.push_back({{'1' + i},
                   std::to_string(i + 1),
                   fmt::format("{} screen", tab_name(static_cast<Tab>(i))),
                   kTab1 + i,
                   false});
    return g;
  }();
  return t;
}

std::vector<std::unique_ptr<Screen>>& App::stack() {
  return stacks_[static_cast<std::size_t>(tab_)];
}

Screen& App::top() {
  return *stack().back();
}

void App::show_tab(int tab) {
  tab_ = tab;
  if (stack().empty()) stack().push_back(factory_(static_cast<Tab>(tab)));
  top().on_show();
  dirty_ = true;
}

Reaction App::guarded(const std::function<Reaction()>& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Reaction::open(std::make_unique<MessageDialog>("Error", e.what()));
  }
}

Reaction App::global_action(int action) {
  if (action == kHelp)
    return Reaction::open(
        std::make_unique<HelpOverlay>(top().title(), top().bindings(), global_bindings()));
  if (action == kRedraw) {
    clearok(curscr, TRUE);
    return Reaction::draw();
  }
  if (action == kBackEsc && stack().size() == 1) return {};  // nothing to back out of
  if (action == kBackEsc) action = kBack;
  if (action == kQuit || (action == kBack && stack().size() == 1)) {
    // Leaving Lathe: ask when any screen holds unsaved work.
    std::vector<std::string> lines;
    for (auto& s : stacks_)
      for (auto& screen : s)
        if (!screen->unsaved().empty()) lines.push_back(screen->title() + ": " + screen->unsaved());
    if (lines.empty()) return Reaction::exit();
    lines.insert(lines.begin(), "Quit and discard:");
    return Reaction::open(std::make_unique<ConfirmDialog>("Quit Lathe?", lines, "Discard and quit",
                                                          [] { return Reaction::exit(); }));
  }
  if (action == kBack) {
    std::string unsaved = top().unsaved();
    if (unsaved.empty()) return Reaction::back();
    return Reaction::open(std::make_unique<ConfirmDialog>(
        "Discard changes?", std::vector<std::string>{top().title() + ": " + unsaved}, "Discard",
        [] { return Reaction::back(); }));
  }
  if (action >= kTab1 && action < kTab1 + kTabCount) return Reaction::go_tab(Tab(action - kTab1));
  return {};
}

void App::handle_key(int k) {
  if (k == '\r' || k == KEY_ENTER) k = '\n';
  Screen& screen = top();
  Reaction r;
  if (const Binding* b = find_binding(screen.bindings(), k)) {
    int action = b->action;
    r = guarded([&] { return screen.on_action(action); });
  } else if (screen.takes_text()) {
    r = guarded([&] { return screen.on_text(k); });
  } else if (!screen.overlay()) {
    if (const Binding* g = find_binding(global_bindings(), k)) {
      int action = g->action;
      r = guarded([&] { return global_action(action); });
    }
  }
  apply(std::move(r));
}

void App::apply(Reaction r) {
  if (r.redraw) dirty_ = true;
  bool changed_top = false;
  for (int i = 0; i < r.pops && stack().size() > 1; ++i) stack().pop_back(), changed_top = true;
  if (r.switch_tab >= 0) {
    show_tab(r.switch_tab);  // a push then lands on the new tab (launch -> the run's page)
    changed_top = false;
  }
  if (r.push) stack().push_back(std::move(r.push)), changed_top = true;
  if (changed_top) top().on_show();
  if (r.quit) quit_ = true;
  if (changed_top || r.switch_tab >= 0) dirty_ = true;
}

bool App::poll_due_screens() {
  // The top screen polls; under an overlay the screen below keeps refreshing too.
  bool changed = false;
  auto& s = stack();
  for (std::size_t i = s.size(); i-- > 0;) {
    if (s[i]->poll_interval_ms() >= 0) changed |= s[i]->poll();
    if (!s[i]->overlay()) break;
  }
  return changed;
}

int App::wait_ms() const {
  int wait = -1;
  const auto& s = stacks_[static_cast<std::size_t>(tab_)];
  for (std::size_t i = s.size(); i-- > 0;) {
    int p = s[i]->poll_interval_ms();
    if (p >= 0) wait = wait < 0 ? p : std::min(wait, p);
    if (!s[i]->overlay()) break;
  }
  return wait;
}

void App::draw_tabs(Canvas& c, const Rect& r) {
  c.fill(r, Role::TabIdle);
  int x = r.x;
  x += c.text(r.y, x, " Lathe ", Role::Header);
  for (int i = 0; i < kTabCount; ++i) {
    std::string label = fmt::format(" {} {} ", i + 1, tab_name(static_cast<Tab>(i)));
    x += c.text(r.y, x, label, i == tab_ ? Role::TabActive : Role::TabIdle);
  }
  std::string t =
      top().overlay() && stack().size() > 1 ? stack()[stack().size() - 2]->title() : top().title();
  int tw = display_width(t);
  if (r.right() - tw - 1 > x + 1) c.text(r.y, r.right() - tw - 1, t, Role::Dim);
}

void App::draw_hints(Canvas& c, const Rect& r) {
  c.fill(r, Role::HintText);
  BindingTable global;
  if (!top().overlay()) global = global_bindings();
  int x = r.x;
  for (const auto& h : hint_items(top().bindings(), global, r.w)) {
    x += c.text(r.y, x, h.label, Role::HintKey);
    x += c.text(r.y, x, " " + h.help + "  ", Role::HintText);
  }
}

// A screen that fails to draw (an OpenCV or file-system error the screen did not expect)
// shows the error in its place; the TUI stays usable and the user can back out.
void App::draw_guarded(Screen& screen, Canvas& c, const Rect& body) {
  try {
    screen.draw(c, body);
  } catch (const std::exception& e) {
    c.fill(body);
    c.text(body.y + 1, body.x + 1, "This screen cannot be drawn:", Role::Error, body.w - 2);
    c.text(body.y + 2, body.x + 1, e.what(), Role::Normal, body.w - 2);
  }
}

void App::draw_frame() {
  int rows = 0, cols = 0;
  getmaxyx(stdscr, rows, cols);
  FrameLayout f = frame_layout(cols, rows);
  if (frame_) {
    int fr = 0, fc = 0;
    getmaxyx(frame_, fr, fc);
    if (fr != rows || fc != cols) delwin(frame_), frame_ = nullptr;
  }
  if (!frame_) frame_ = newwin(rows, cols, 0, 0);
  for (WINDOW* w : overlays_) delwin(w);
  overlays_.clear();
  werase(frame_);
  Canvas c(frame_, f.screen, theme_, glyphs_);
  wnoutrefresh(stdscr);
  if (f.too_small) {
    std::string msg = fmt::format("terminal too small: need {}x{}", kMinCols, kMinRows);
    std::string now = fmt::format("(now {}x{})", cols, rows);
    c.text(rows / 2, std::max(0, (cols - display_width(msg)) / 2), msg, Role::Warn);
    c.text(rows / 2 + 1, std::max(0, (cols - display_width(now)) / 2), now, Role::Dim);
    wnoutrefresh(frame_);
    doupdate();
    return;
  }
  // The topmost full screen, then every overlay above it, each in its own window.
  auto& s = stack();
  std::size_t base = s.size() - 1;
  while (base > 0 && s[base]->overlay()) --base;
  draw_tabs(c, f.tabs);
  draw_guarded(*s[base], c, f.body);
  draw_hints(c, f.hints);
  wnoutrefresh(frame_);
  for (std::size_t i = base + 1; i < s.size(); ++i) {
    WINDOW* w = newwin(rows, cols, 0, 0);
    overlays_.push_back(w);
    Canvas oc(w, f.screen, theme_, glyphs_);
    // Overlays draw only their own box: copy what is below so the rest stays as it was.
    overwrite(overlays_.size() > 1 ? overlays_[overlays_.size() - 2] : frame_, w);
    draw_guarded(*s[i], oc, f.body);
    Rect hints = f.hints;
    oc.fill(hints, Role::HintText);
    int x = hints.x;
    for (const auto& h : hint_items(s[i]->bindings(), {}, hints.w)) {
      x += oc.text(hints.y, x, h.label, Role::HintKey);
      x += oc.text(hints.y, x, " " + h.help + "  ", Role::HintText);
    }
    wnoutrefresh(w);
  }
  doupdate();
}

int App::run() {
  std::setlocale(LC_ALL, "");
  glyphs_ = locale_is_utf8() ? unicode_glyphs() : ascii_glyphs();
  g_hangup = 0;
  install_signal(SIGHUP);
  install_signal(SIGTERM);
  screen_ = open_terminal();
  cbreak();
  noecho();
  keypad(stdscr, TRUE);
  set_escdelay(25);
  curs_set(0);
  theme_.init();
  refresh();  // stdscr starts untouched, so wgetch never repaints it over the frame
  try {
    loop();
  } catch (...) {
    endwin();  // leave the terminal usable before the error is printed
    delscreen(screen_);
    screen_ = nullptr;
    throw;
  }
  endwin();
  delscreen(screen_);
  screen_ = nullptr;
  return 0;
}

void App::loop() {
  show_tab(tab_);
  int fast_errors = 0;
  while (!quit_ && !g_hangup) {
    long long now = now_ms();
    int wait = wait_ms();
    if (wait >= 0 && now - last_poll_ms_ >= wait) {
      last_poll_ms_ = now;
      if (poll_due_screens()) dirty_ = true;
    }
    if (dirty_) {
      draw_frame();
      dirty_ = false;
    }
    int timeout =
        wait < 0 ? -1 : static_cast<int>(std::max(1LL, wait - (now_ms() - last_poll_ms_)));
    wtimeout(stdscr, timeout);
    long long before = now_ms();
    errno = 0;
    int k = wgetch(stdscr);
    if (k == ERR) {
      // A read that fails at once, again and again, means the terminal is gone (EIO after a
      // hang-up that sent no signal): leave instead of spinning.
      bool instant = now_ms() - before < 2 && (timeout < 0 || timeout > 5);
      fast_errors = instant && errno != EINTR ? fast_errors + 1 : 0;
      if (fast_errors > 50) break;
      continue;
    }
    fast_errors = 0;
    if (k == KEY_RESIZE) {
      dirty_ = true;
      continue;
    }
    handle_key(k);
  }
}

}  // namespace lathe::tui
