// The Tags screen: how many captioned images carry each tag, for the whole dataset or one
// concept (`c` cycles), sorted by count or name (`s`), filtered with `/`. Actions on the
// selected tag (remove in the shown scope or everywhere, rename, move to front) first show a
// confirmation with the number of captions that will change (a dry run of the same plan),
// then go through the journaled edit engine; `u` / Ctrl-R undo and redo.
#pragma once

#include <string>
#include <vector>

#include "dataset/caption_edit.h"
#include "dataset/tag_stats.h"
#include "tui/list_cursor.h"
#include "tui/screen.h"

namespace lathe::tui {

class Workspace;
struct EditOutcome;

class TagsScreen : public Screen {
 public:
  explicit TagsScreen(Workspace& ws) : ws_(ws) {}
  std::string title() const override { return "Tags"; }
  const BindingTable& bindings() const override { return binding_table(); }
  static const BindingTable& binding_table();
  void draw(Canvas& canvas, const Rect& body) override;
  Reaction on_action(int action) override;
  void on_show() override;

 private:
  void rebuild();
  const TagTable& table();
  std::string scope_name();
  const TagCount* selected();
  Reaction confirm_edit(EditOp op, bool everywhere, const std::string& what);
  Reaction report(const EditOutcome& out, const std::string& nothing);

  Workspace& ws_;
  int concept_ = -1;  // -1: the whole dataset
  bool by_name_ = false;
  std::string filter_;
  std::vector<const TagCount*> rows_;
  int built_generation_ = -1;
  ListCursor cursor_;
  int visible_ = 10;
  std::string status_;
};

}  // namespace lathe::tui
