// The Dataset screen (see dataset_screen.h).
#include "tui/dataset_screen.h"

#include <fmt/format.h>

#include "common/error.h"
#include "tui/canvas.h"
#include "tui/message_dialog.h"
#include "tui/prompt_dialog.h"
#include "tui/workspace.h"

namespace lathe::tui {

namespace fs = std::filesystem;

namespace {
enum Action {
  kNextPane = 100,
  kPrevPane,
  kOpen,
  kAdd,
  kEdit,
  kRemove,
  kFront,
  kUndo,
  kRedo,
  kRescan
};

std::string file_name(const Item& item) {
  if (!item.image_path.empty()) return item.image_path.filename().string();
  return item.caption_path ? item.caption_path->filename().string() : "?";
}
}  // namespace

const BindingTable& DatasetScreen::binding_table() {
  static const BindingTable t = [] {
    BindingTable b = movement_bindings();
    BindingTable own = {
        {{key::kTab, key::kRight, 'l'}, "Tab/Right", "next pane", kNextPane},
        {{key::kBTab, key::kLeft, 'h'}, "S-Tab/Left", "previous pane", kPrevPane, false},
        {{key::kEnter}, "Enter", "open", kOpen, false},
        {{'a'}, "a", "add tag", kAdd},
        {{'e'}, "e", "edit tag", kEdit},
        {{'d', key::kDelete}, "d/Del", "remove tag", kRemove},
        {{'f'}, "f", "tag to front", kFront},
        {{'u'}, "u", "undo", kUndo},
        {{key::kCtrlR}, "Ctrl-R", "redo", kRedo},
        {{'R'}, "R", "rescan the folder", kRescan, false},
    };
    b.insert(b.end(), own.begin(), own.end());
    return b;
  }();
  return t;
}

std::string DatasetScreen::title() const {
  return "Dataset " + ws_.paths().dataset.string();
}

const Concept* DatasetScreen::current_concept() {
  const Dataset& d = ws_.dataset();
  if (d.concepts.empty()) return nullptr;
  concepts_.clamp(static_cast<int>(d.concepts.size()), visible_);
  return &d.concepts[static_cast<std::size_t>(concepts_.selected)];
}

const Item* DatasetScreen::current_item() {
  const Concept* c = current_concept();
  if (!c || c->items.empty()) return nullptr;
  images_.clamp(static_cast<int>(c->items.size()), visible_);
  return &c->items[static_cast<std::size_t>(images_.selected)];
}

void DatasetScreen::on_show() {
  if (!ws_.focus_file) return;
  fs::path want = *ws_.focus_file;
  ws_.focus_file.reset();
  try {
    const Dataset& d = ws_.dataset();
    for (std::size_t c = 0; c < d.concepts.size(); ++c) {
      const auto& items = d.concepts[c].items;
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (items[i].image_path == want ||
            (items[i].caption_path && *items[i].caption_path == want)) {
          concepts_.set(static_cast<int>(c), static_cast<int>(d.concepts.size()), visible_);
          images_.set(static_cast<int>(i), static_cast<int>(items.size()), visible_);
          focus_ = kTags;
          tags_ = {};
          return;
        }
      }
      if (d.concepts[c].path == want) {
        concepts_.set(static_cast<int>(c), static_cast<int>(d.concepts.size()), visible_);
        focus_ = kImages;
        return;
      }
    }
    status_ = "not an image of this dataset: " + want.string();
  } catch (const Error&) {
  }
}

void DatasetScreen::draw_lists(Canvas& c, const Rect& body) {
  DatasetLayout l = dataset_layout(body);
  visible_ = l.concepts.h - 1;
  const Dataset& d = ws_.dataset();
  // Concepts.
  c.heading(Rect{l.concepts.y, l.concepts.x, 1, l.concepts.w - 1},
            fmt::format("Concepts {}", d.concepts.size()), focus_ == kConcepts);
  concepts_.clamp(static_cast<int>(d.concepts.size()), visible_);
  for (int row = 0; row < visible_; ++row) {
    int i = concepts_.top + row;
    if (i >= static_cast<int>(d.concepts.size())) break;
    const Concept& k = d.concepts[static_cast<std::size_t>(i)];
    std::string label = fmt::format("{}{} {}x{}", i == concepts_.selected ? ">" : " ", k.name,
                                    k.items.size(), k.repeats);
    Role role = i == concepts_.selected
                    ? (focus_ == kConcepts ? Role::Selected : Role::SelectedIdle)
                    : Role::Normal;
    c.line(l.concepts.y + 1 + row, l.concepts.x, label, l.concepts.w - 1, role);
  }
  if (d.concepts.empty())
    c.text(l.concepts.y + 1, l.concepts.x, "no concepts", Role::Warn, l.concepts.w - 1);
  // Images of the concept.
  const Concept* k = current_concept();
  c.heading(Rect{l.images.y, l.images.x, 1, l.images.w - 1},
            k ? fmt::format("Images {}", k->items.size()) : "Images", focus_ == kImages);
  if (k) {
    images_.clamp(static_cast<int>(k->items.size()), visible_);
    for (int row = 0; row < visible_; ++row) {
      int i = images_.top + row;
      if (i >= static_cast<int>(k->items.size())) break;
      const Item& item = k->items[static_cast<std::size_t>(i)];
      bool problem = !item.caption_path || !item.caption_problem.empty() || item.image_path.empty();
      std::string label =
          std::string(i == images_.selected ? ">" : " ") + (problem ? "!" : " ") + file_name(item);
      Role role = i == images_.selected ? (focus_ == kImages ? Role::Selected : Role::SelectedIdle)
                                        : (problem ? Role::Warn : Role::Normal);
      c.line(l.images.y + 1 + row, l.images.x, label, l.images.w - 1, role);
    }
  }
  // Caption tags.
  const Item* item = current_item();
  c.heading(l.caption, item ? "Caption " + file_name(item ? *item : Item{}) : "Caption",
            focus_ == kTags);
  int tag_rows = l.caption.h - 2;
  if (item && item->caption) {
    const auto& tags = item->caption->tags;
    tags_.clamp(static_cast<int>(tags.size()), tag_rows);
    for (int row = 0; row < tag_rows; ++row) {
      int i = tags_.top + row;
      if (i >= static_cast<int>(tags.size())) break;
      Role role = i == tags_.selected ? (focus_ == kTags ? Role::Selected : Role::SelectedIdle)
                                      : Role::Normal;
      c.line(l.caption.y + 1 + row, l.caption.x + 1,
             fmt::format("{}{:>2} {}", i == tags_.selected ? ">" : " ", i + 1, tags[i]),
             l.caption.w - 2, role);
    }
    if (tags.empty()) c.text(l.caption.y + 1, l.caption.x + 1, "(empty caption)", Role::Warn);
  } else if (item) {
    std::string why = !item->caption_path ? "no caption file" : item->caption_problem;
    c.text(l.caption.y + 1, l.caption.x + 1, why, Role::Warn, l.caption.w - 2);
  }
  if (!status_.empty())
    c.line(l.caption.bottom() - 1, l.caption.x + 1, status_, l.caption.w - 2, Role::Info);
  // Preview.
  c.heading(Rect{l.preview.y, l.preview.x, 1, l.preview.w}, "Preview", false);
  if (item && !item->image_path.empty()) {
    Rect box{l.preview.y + 1, l.preview.x + 1, l.preview.h - 1, l.preview.w - 2};
    preview_.draw(c, box, item->image_path);
    std::string size =
        item->image.width > 0 ? fmt::format("{}x{}", item->image.width, item->image.height) : "";
    if (!size.empty())
      c.text(l.preview.y, l.preview.right() - static_cast<int>(size.size()) - 2, size, Role::Dim);
  }
}

void DatasetScreen::draw(Canvas& c, const Rect& body) {
  try {
    draw_lists(c, body);
  } catch (const Error& e) {
    c.text(body.y + 1, body.x + 1, "Cannot open the dataset:", Role::Error, body.w - 2);
    c.text(body.y + 2, body.x + 1, e.what(), Role::Normal, body.w - 2);
  }
}

Reaction DatasetScreen::report(const EditOutcome& out, const std::string& nothing) {
  if (out.summary.empty())
    status_ = nothing;
  else if (out.changed == 0)
    status_ = out.summary + ": no change";
  else
    status_ = fmt::format("{}: {} caption(s), batch #{}", out.summary, out.changed, out.batch);
  return Reaction::draw();
}

Reaction DatasetScreen::edit_current(int action) {
  const Item* item = current_item();
  if (!item) return {};
  if (!item->caption_path)
    return Reaction::open(std::make_unique<MessageDialog>(
        "No caption",
        fmt::format("{} has no caption file; create {} first.", item->image_path.string(),
                    fs::path(item->image_path).replace_extension(".txt").string())));
  EditScope scope;
  scope.files = {*item->caption_path};
  std::vector<std::string> tags = item->caption ? item->caption->tags : std::vector<std::string>{};
  std::string selected =
      tags.empty() ? ""
                   : tags[static_cast<std::size_t>(std::min<int>(tags_.selected, tags.size() - 1))];
  auto run = [this, scope](EditOp op) {
    EditOutcome out = ws_.edit(op, scope);
    report(out, "");
    return Reaction::draw();
  };
  EditOp op;
  switch (action) {
    case kAdd:
      return Reaction::open(std::make_unique<PromptDialog>(
          "Add tag", "Tag to add at the end of this caption:", "", [run](const std::string& text) {
            EditOp add;
            add.kind = EditOp::Kind::Add;
            add.tag = std::string(trim_ascii(text));
            add.where = AddWhere::Back;
            return run(add);
          }));
    case kEdit:
      if (selected.empty()) return {};
      return Reaction::open(
          std::make_unique<PromptDialog>("Edit tag", fmt::format("New text for \"{}\":", selected),
                                         selected, [run, selected](const std::string& text) {
                                           EditOp rename;
                                           rename.kind = EditOp::Kind::Rename;
                                           rename.tag = selected;
                                           rename.new_tag = std::string(trim_ascii(text));
                                           return run(rename);
                                         }));
    case kRemove:
      if (selected.empty()) return {};
      op.kind = EditOp::Kind::Remove;
      op.tag = selected;
      return run(op);
    case kFront:
      if (selected.empty()) return {};
      op.kind = EditOp::Kind::MoveFirst;
      op.tag = selected;
      tags_.selected = 0;
      return run(op);
  }
  return {};
}

Reaction DatasetScreen::on_action(int action) {
  if (action < 100) {
    const Dataset& d = ws_.dataset();
    if (focus_ == kConcepts) {
      concepts_.move(action, static_cast<int>(d.concepts.size()), visible_);
      images_ = {};
      tags_ = {};
    } else if (focus_ == kImages) {
      const Concept* k = current_concept();
      images_.move(action, k ? static_cast<int>(k->items.size()) : 0, visible_);
      tags_ = {};
    } else {
      const Item* item = current_item();
      int n = item && item->caption ? static_cast<int>(item->caption->tags.size()) : 0;
      tags_.move(action, n, visible_);
    }
    status_.clear();
    return Reaction::draw();
  }
  switch (action) {
    case kNextPane:
    case kOpen:
      focus_ = std::min(focus_ + 1, static_cast<int>(kTags));
      return Reaction::draw();
    case kPrevPane:
      focus_ = std::max(focus_ - 1, 0);
      return Reaction::draw();
    case kUndo:
      return report(ws_.undo(), "nothing to undo");
    case kRedo:
      return report(ws_.redo(), "nothing to redo");
    case kRescan:
      ws_.rescan();
      status_ = "rescanned";
      return Reaction::draw();
    default:
      return edit_current(action);
  }
}

}  // namespace lathe::tui
