// List selection and scrolling (see list_cursor.h).
#include "tui/list_cursor.h"

#include <algorithm>

#include "tui/binding.h"

namespace lathe::tui {

bool ListCursor::move(int action, int count, int visible) {
  int page = std::max(1, visible - 1);
  switch (action) {
    case kActUp:
      --selected;
      break;
    case kActDown:
      ++selected;
      break;
    case kActPageUp:
      selected -= page;
      break;
    case kActPageDown:
      selected += page;
      break;
    case kActTop:
      selected = 0;
      break;
    case kActBottom:
      selected = count - 1;
      break;
    default:
      return false;
  }
  clamp(count, visible);
  return true;
}

void ListCursor::set(int index, int count, int visible) {
  selected = index;
  clamp(count, visible);
}

void ListCursor::clamp(int count, int visible) {
  selected = std::clamp(selected, 0, std::max(0, count - 1));
  visible = std::max(1, visible);
  if (selected < top) top = selected;
  if (selected >= top + visible) top = selected - visible + 1;
  top = std::clamp(top, 0, std::max(0, count - visible));
}

}  // namespace lathe::tui
