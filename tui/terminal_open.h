// Opening the terminal for ncurses, with the one decision that needs terminfo itself: which
// entry to use so that truecolor previews work when COLORTERM says the terminal can show them.
#pragma once

typedef struct screen SCREEN;

namespace lathe::tui {

// With COLORTERM=truecolor (or 24bit) and a TERM whose terminfo knows only 256 colours, the
// same terminal's direct-colour entry (xterm-256color -> xterm-direct, tmux-256color ->
// tmux-direct, from Debian's ncurses-term) is used when it is installed, so previews get
// 24-bit colour; otherwise TERM as it is. Throws lathe::Error when the terminal cannot be
// opened.
SCREEN* open_terminal();

}  // namespace lathe::tui
