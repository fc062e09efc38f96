// The selection and scroll position of a list or table: moved by the common movement
// bindings, kept inside the list when it shrinks, and scrolled so the selection stays in
// view. Pure, shared by every screen with rows.
#pragma once

namespace lathe::tui {

struct ListCursor {
  int selected = 0;
  int top = 0;  // first visible row

  // Applies a CommonAction (binding.h); false when `action` is not a movement.
  bool move(int action, int count, int visible);
  void set(int index, int count, int visible);
  // Keeps selected in [0, count) and in view of `visible` rows.
  void clamp(int count, int visible);
};

}  // namespace lathe::tui
