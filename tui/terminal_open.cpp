// Opening the terminal (see terminal_open.h). Kept apart: <term.h> defines macros (lines,
// columns, tab) that would clash with ordinary names elsewhere.
#include "tui/terminal_open.h"

#include <curses.h>
#include <fmt/format.h>
#include <term.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/error.h"

namespace lathe::tui {

namespace {

// The number of colours a terminfo entry declares; -1 when the entry is not installed.
int terminfo_colors(const std::string& name) {
  int err = 0;
  if (setupterm(name.c_str(), STDOUT_FILENO, &err) != OK) return -1;
  int n = tigetnum(const_cast<char*>("colors"));
  del_curterm(cur_term);
  return n;
}

}  // namespace

SCREEN* open_terminal() {
  const char* term = std::getenv("TERM");
  const char* colorterm = std::getenv("COLORTERM");
  bool wants_true =
      colorterm && (std::string(colorterm) == "truecolor" || std::string(colorterm) == "24bit");
  if (wants_true && term && terminfo_colors(term) < 0x1000000) {
    std::string base = term;
    std::string direct = base.substr(0, base.find('-')) + "-direct";
    if (terminfo_colors(direct) >= 0x1000000)
      if (SCREEN* s = newterm(direct.c_str(), stdout, stdin)) return s;
  }
  SCREEN* s = newterm(nullptr, stdout, stdin);
  if (!s)
    throw Error(
        fmt::format("cannot start the terminal UI for TERM={} (is it set, and its "
                    "terminfo entry installed?)",
                    term ? term : "(unset)"));
  return s;
}

}  // namespace lathe::tui
