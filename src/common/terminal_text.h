// Text from files (LoRA and checkpoint metadata, captions, tags, run names, profile values,
// paths) made safe to print on a terminal. A string read from a file can hold bytes a
// terminal acts on instead of showing: ESC [2J clears the screen, an OSC sequence sets the
// window title or writes the clipboard, a bare carriage return or newline fakes output lines.
// Every text (non-JSON) output passes such strings through terminal_safe(); --json output is
// escaped by the JSON writer instead.
#pragma once

#include <string>
#include <string_view>

namespace lathe {

// `text` with every byte a terminal could act on shown escaped, printable UTF-8 kept as is:
//   C0 controls   \t \n \r \e (ESC), \0, others \xNN      e.g. "\x1b]0;t\x07" -> "\e]0;t\x07"
//   DEL           \x7f
//   C1 controls   \u{80} .. \u{9f} (U+0080..U+009F, the 8-bit forms of ESC sequences: CSI is
//                 \u{9b}); also the bidirectional overrides and line/paragraph separators
//                 (U+200E/F, U+2028..U+202E, U+2066..U+2069) that reorder or break a line
//   invalid UTF-8 each stray byte as \xNN
// A backslash is left as it is (tags such as "kaguya \(hime\)" keep their look), so the
// output is for reading, not for parsing back.
std::string terminal_safe(std::string_view text);

// The same for multi-line text printed as lines (a run's log.txt): every '\n' is kept as a
// line break, everything else is escaped as above.
std::string terminal_safe_lines(std::string_view text);

}  // namespace lathe
