// UTF-8 aware width and cutting (see text_fit.h).
#include "tui/text_fit.h"

#include <cwchar>

namespace lathe::tui {
namespace {

// Decodes one character at `i`; returns its byte length and column width (1 for bytes the
// locale cannot decode, so broken text still takes the space it is shown in).
std::pair<std::size_t, int> next_char(std::string_view text, std::size_t i) {
  std::mbstate_t state{};
  wchar_t wc = 0;
  std::size_t n = std::mbrtowc(&wc, text.data() + i, text.size() - i, &state);
  if (n == 0 || n == static_cast<std::size_t>(-1) || n == static_cast<std::size_t>(-2))
    return {1, 1};
  int w = ::wcwidth(wc);
  return {n, w < 0 ? 1 : w};
}

}  // namespace

int display_width(std::string_view text) {
  int width = 0;
  for (std::size_t i = 0; i < text.size();) {
    auto [n, w] = next_char(text, i);
    width += w;
    i += n;
  }
  return width;
}

std::string fit_text(std::string_view text, int width, std::string_view ellipsis) {
  if (width <= 0) return {};
  if (display_width(text) <= width) return std::string(text);
  int room = width - display_width(ellipsis);
  if (room < 0) return std::string(text.substr(0, static_cast<std::size_t>(width)));
  std::string out;
  int used = 0;
  for (std::size_t i = 0; i < text.size();) {
    auto [n, w] = next_char(text, i);
    if (used + w > room) break;
    out.append(text.substr(i, n));
    used += w;
    i += n;
  }
  return out + std::string(ellipsis);
}

std::string pad_text(std::string_view text, int width, std::string_view ellipsis) {
  std::string out = fit_text(text, width, ellipsis);
  int w = display_width(out);
  if (w < width) out.append(static_cast<std::size_t>(width - w), ' ');
  return out;
}

std::vector<std::string> wrap_text(std::string_view text, int width) {
  std::vector<std::string> lines;
  if (width <= 0) return lines;
  std::string line;
  std::size_t i = 0;
  while (i <= text.size()) {
    std::size_t sp = text.find(' ', i);
    std::string_view word = text.substr(i, sp == std::string_view::npos ? text.size() - i : sp - i);
    std::string candidate = line.empty() ? std::string(word) : line + " " + std::string(word);
    if (display_width(candidate) <= width) {
      line = candidate;
    } else {
      if (!line.empty()) lines.push_back(line);
      line = fit_text(word, width, "");
    }
    if (sp == std::string_view::npos) break;
    i = sp + 1;
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

}  // namespace lathe::tui
