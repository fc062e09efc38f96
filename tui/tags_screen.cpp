// The Tags screen (see tags_screen.h).
#include "tui/tags_screen.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/error.h"
#include "dataset/caption.h"
#include "dataset/edit_scope.h"
#include "tui/canvas.h"
#include "tui/confirm_dialog.h"
#include "tui/prompt_dialog.h"
#include "tui/workspace.h"

namespace lathe::tui {

namespace {
enum Action {
  kConcept = 100,
  kSort,
  kFilter,
  kRemove,
  kRemoveAll,
  kRename,
  kFront,
  kUndo,
  kRedo,
  kClearFilter
};

std::string lower(std::string s) {
  for (auto& ch : s)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return s;
}
}  // namespace

const BindingTable& TagsScreen::binding_table() {
  static const BindingTable t = [] {
    BindingTable b = movement_bindings();
    BindingTable own = {
        {{'c'}, "c", "concept/all", kConcept},
        {{'s'}, "s", "sort", kSort},
        {{'/'}, "/", "filter", kFilter},
        {{'x'}, "x", "clear the filter", kClearFilter, false},
        {{'d', key::kDelete}, "d", "remove (shown scope)", kRemove},
        {{'D'}, "D", "remove everywhere", kRemoveAll, false},
        {{'r'}, "r", "rename", kRename},
        {{'f'}, "f", "to front", kFront, false},
        {{'u'}, "u", "undo", kUndo, false},
        {{key::kCtrlR}, "Ctrl-R", "redo", kRedo, false},
    };
    b.insert(b.end(), own.begin(), own.end());
    return b;
  }();
  return t;
}

const TagTable& TagsScreen::table() {
  const TagStats& stats = ws_.tag_stats();
  if (concept_ >= static_cast<int>(stats.concepts.size())) concept_ = -1;
  return concept_ < 0 ? stats.overall : stats.concepts[static_cast<std::size_t>(concept_)];
}

std::string TagsScreen::scope_name() {
  if (concept_ < 0) return "whole dataset";
  return "concept " + ws_.dataset().concepts[static_cast<std::size_t>(concept_)].name;
}

void TagsScreen::rebuild() {
  const TagTable& t = table();
  rows_.clear();
  std::string f = lower(filter_);
  for (const auto& tc : t.tags)
    if (f.empty() || lower(tc.tag).find(f) != std::string::npos) rows_.push_back(&tc);
  if (by_name_)
    std::stable_sort(rows_.begin(), rows_.end(),
                     [](const TagCount* a, const TagCount* b) { return a->tag < b->tag; });
  built_generation_ = ws_.generation();
}

void TagsScreen::on_show() {
  if (ws_.focus_concept) {
    const auto& concepts = ws_.dataset().concepts;
    for (std::size_t i = 0; i < concepts.size(); ++i)
      if (concepts[i].name == *ws_.focus_concept) concept_ = static_cast<int>(i);
    ws_.focus_concept.reset();
  }
  if (ws_.focus_tag) {
    filter_ = *ws_.focus_tag;
    ws_.focus_tag.reset();
    cursor_ = {};
  }
  built_generation_ = -1;
}

const TagCount* TagsScreen::selected() {
  if (built_generation_ != ws_.generation()) rebuild();
  if (rows_.empty()) return nullptr;
  cursor_.clamp(static_cast<int>(rows_.size()), visible_);
  return rows_[static_cast<std::size_t>(cursor_.selected)];
}

void TagsScreen::draw(Canvas& c, const Rect& body) {
  const TagTable* t = nullptr;
  try {
    t = &table();
    if (built_generation_ != ws_.generation()) rebuild();
  } catch (const Error& e) {
    c.text(body.y + 1, body.x + 1, "Cannot open the dataset:", Role::Error, body.w - 2);
    c.text(body.y + 2, body.x + 1, e.what(), Role::Normal, body.w - 2);
    return;
  }
  c.heading(Rect{body.y, body.x, 1, body.w},
            fmt::format("Tags of the {}: {} tags, {} captioned images", scope_name(),
                        t->tags.size(), t->images),
            true);
  std::string view = fmt::format("sorted by {}", by_name_ ? "name" : "count");
  if (!filter_.empty()) view += fmt::format(", filter \"{}\" ({} shown)", filter_, rows_.size());
  c.line(body.y + 1, body.x,
         fmt::format("  {:>7} {:>7}  {:<24} {}", "images", "share", "tag", view), body.w,
         Role::Header);
  visible_ = body.h - 3;
  cursor_.clamp(static_cast<int>(rows_.size()), visible_);
  for (int row = 0; row < visible_; ++row) {
    int i = cursor_.top + row;
    if (i >= static_cast<int>(rows_.size())) break;
    const TagCount* tc = rows_[static_cast<std::size_t>(i)];
    bool sel = i == cursor_.selected;
    c.line(body.y + 2 + row, body.x,
           fmt::format("{} {:>7} {:>6.1f}%  {}", sel ? ">" : " ", tc->images, tc->percent, tc->tag),
           body.w, sel ? Role::Selected : Role::Normal);
  }
  if (rows_.empty())
    c.text(body.y + 3, body.x + 2, filter_.empty() ? "no tags" : "no tag matches the filter",
           Role::Dim);
  c.line(body.bottom() - 1, body.x + 1, status_, body.w - 2, Role::Info);
}

Reaction TagsScreen::report(const EditOutcome& out, const std::string& nothing) {
  if (out.summary.empty())
    status_ = nothing;
  else
    status_ = fmt::format("{}: {} caption(s) changed{}", out.summary, out.changed,
                          out.batch ? fmt::format(", batch #{} (u undoes)", out.batch) : "");
  return Reaction::draw();
}

Reaction TagsScreen::confirm_edit(EditOp op, bool everywhere, const std::string& what) {
  EditScope scope;
  if (!everywhere && concept_ >= 0)
    scope.concepts = {ws_.dataset().concepts[static_cast<std::size_t>(concept_)].folder_name};
  std::string where = everywhere || concept_ < 0 ? "whole dataset" : scope_name();
  std::size_t n = ws_.count_changes(op, scope);
  std::vector<std::string> lines = {fmt::format("{} ({})", what, where),
                                    fmt::format("{} caption file(s) will change.", n),
                                    "Journaled: u undoes it."};
  return Reaction::open(std::make_unique<ConfirmDialog>(
      "Change captions?", lines, fmt::format("Change {}", n),
      [this, op, scope] { return report(ws_.edit(op, scope), ""); }));
}

Reaction TagsScreen::on_action(int action) {
  if (action < 100) {
    cursor_.move(action, static_cast<int>(rows_.size()), visible_);
    return Reaction::draw();
  }
  switch (action) {
    case kConcept: {
      int n = static_cast<int>(ws_.dataset().concepts.size());
      concept_ = concept_ + 1 >= n ? -1 : concept_ + 1;
      cursor_ = {};
      rebuild();
      return Reaction::draw();
    }
    case kSort:
      by_name_ = !by_name_;
      rebuild();
      return Reaction::draw();
    case kFilter:
      return Reaction::open(std::make_unique<PromptDialog>(
          "Filter tags", "Show tags containing (empty: all):", filter_,
          [this](const std::string& text) {
            filter_ = std::string(trim_ascii(text));
            cursor_ = {};
            rebuild();
            return Reaction::draw();
          }));
    case kClearFilter:
      filter_.clear();
      rebuild();
      return Reaction::draw();
    case kUndo:
      return report(ws_.undo(), "nothing to undo");
    case kRedo:
      return report(ws_.redo(), "nothing to redo");
    default:
      break;
  }
  const TagCount* tc = selected();
  if (!tc) return {};
  std::string tag = tc->tag;
  EditOp op;
  op.tag = tag;
  switch (action) {
    case kRemove:
    case kRemoveAll:
      op.kind = EditOp::Kind::Remove;
      return confirm_edit(op, action == kRemoveAll, fmt::format("Remove \"{}\"", tag));
    case kFront:
      op.kind = EditOp::Kind::MoveFirst;
      return confirm_edit(op, false, fmt::format("Move \"{}\" to the front", tag));
    case kRename:
      return Reaction::open(std::make_unique<PromptDialog>(
          "Rename tag", fmt::format("Rename \"{}\" in the {} to:", tag, scope_name()), tag,
          [this, tag](const std::string& text) {
            EditOp rename;
            rename.kind = EditOp::Kind::Rename;
            rename.tag = tag;
            rename.new_tag = std::string(trim_ascii(text));
            validate_edit_op(rename);
            return confirm_edit(rename, false,
                                fmt::format("Rename \"{}\" to \"{}\"", tag, rename.new_tag));
          }));
  }
  return {};
}

}  // namespace lathe::tui
