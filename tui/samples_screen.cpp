// The samples view (see samples_screen.h).
#include "tui/samples_screen.h"

#include <fmt/format.h>

#include <algorithm>

#include "tui/canvas.h"

namespace lathe::tui {

namespace {
enum Action { kPreviousPrompt = 100, kNextPrompt, kZoom };

// The column cursor moves by one: the common movement actions reuse the list cursor.
constexpr int kColumnLeft = kActUp, kColumnRight = kActDown;
}  // namespace

SamplesScreen::SamplesScreen(RunPaths run) : samples_(run.dir) {
  snap_.paths = std::move(run);
  snap_.refresh();
  samples_.refresh();
  // Open on the newest images: what a user checking on a run wants first.
  int rows = static_cast<int>(samples_.table().rows.size());
  rows_.set(std::max(0, rows - 1), rows, visible_rows_);
}

const BindingTable& SamplesScreen::binding_table() {
  static const BindingTable t = {
      {{'k', key::kUp}, "k/Up", "earlier epoch", kActUp},
      {{'j', key::kDown}, "j/Down", "later epoch", kActDown},
      {{'h', key::kLeft}, "h/Left", "previous prompt", kPreviousPrompt},
      {{'l', key::kRight}, "l/Right", "next prompt", kNextPrompt},
      {{'z', key::kEnter}, "z/Enter", "one image large / grid", kZoom},
      {{key::kPPage}, "PgUp", "page of epochs up", kActPageUp, false},
      {{key::kNPage, ' '}, "PgDn", "page of epochs down", kActPageDown, false},
      {{'g', key::kHome}, "g/Home", "first samples", kActTop, false},
      {{'G', key::kEnd}, "G/End", "newest samples", kActBottom, false},
  };
  return t;
}

bool SamplesScreen::poll() {
  const int before = static_cast<int>(samples_.table().rows.size());
  const bool at_newest = rows_.selected >= before - 1;
  bool changed = snap_.refresh();
  if (samples_.refresh()) {
    changed = true;
    const int rows = static_cast<int>(samples_.table().rows.size());
    if (at_newest && rows > before) rows_.set(rows - 1, rows, visible_rows_);
  }
  return changed;
}

std::string SamplesScreen::prompt_label(int column) const {
  const auto& prompts = samples_.prompts();
  const std::string& text = column < static_cast<int>(prompts.size()) ? prompts[static_cast<std::size_t>(column)] : "";
  return text.empty() ? fmt::format("prompt {}", column + 1) : fmt::format("{}: {}", column + 1, text);
}

std::string SamplesScreen::row_text(int row) const {
  const SampleRow& r = samples_.table().rows[static_cast<std::size_t>(row)];
  std::string text = sample_row_label(r);
  if (auto loss = smoothed_loss_at(snap_.metrics, r.step)) text += fmt::format(", loss {:.4f}", *loss);
  return text;
}

void SamplesScreen::draw(Canvas& c, const Rect& body) {
  const SampleTable& table = samples_.table();
  if (table.empty()) {
    c.heading(Rect{body.y, body.x, 1, body.w}, "Samples", true);
    c.text(body.y + 2, body.x + 2,
           fmt::format("No sample images yet in {}", snap_.paths.samples().string()), Role::Dim,
           body.w - 4);
    c.text(body.y + 3, body.x + 2,
           "Runs with a [sample] section in their profile write them as they train.", Role::Dim,
           body.w - 4);
    return;
  }
  const int rows = static_cast<int>(table.rows.size());
  rows_.clamp(rows, visible_rows_);
  columns_.clamp(table.columns, visible_columns_);
  if (zoomed_)
    draw_zoomed(c, body);
  else
    draw_grid(c, body);
}

void SamplesScreen::draw_header(Canvas& c, const Rect& r) {
  const SampleTable& table = samples_.table();
  std::string text = fmt::format(" {} ({}/{})  prompt {}/{}", row_text(rows_.selected),
                                 rows_.selected + 1, table.rows.size(), columns_.selected + 1,
                                 table.columns);
  if (const SampleFile* s = table.at(rows_.selected, columns_.selected))
    text += fmt::format("  seed {}  {}", s->seed, s->path.filename().string());
  else
    text += "  (not rendered)";
  c.line(r.y, r.x, text, r.w, Role::Header);
}

void SamplesScreen::draw_prompt(Canvas& c, const Rect& r) {
  c.line(r.y, r.x, " " + prompt_label(columns_.selected), r.w, Role::Dim);
}

void SamplesScreen::draw_grid(Canvas& c, const Rect& body) {
  const SampleTable& table = samples_.table();
  SamplesGridLayout g = samples_grid_layout(body, static_cast<int>(table.rows.size()), table.columns);
  visible_rows_ = g.visible_rows;
  visible_columns_ = g.visible_columns;
  rows_.clamp(static_cast<int>(table.rows.size()), visible_rows_);
  columns_.clamp(table.columns, visible_columns_);
  previews_.resize(static_cast<std::size_t>(g.visible_rows * g.visible_columns));
  draw_header(c, g.header);
  for (int vc = 0; vc < g.visible_columns; ++vc) {
    const int column = columns_.top + vc;
    if (column >= table.columns) break;
    const Role role = column == columns_.selected ? Role::Selected : Role::Dim;
    c.line(g.column_labels.y, g.cell(0, vc).x, " " + prompt_label(column), g.cell_w - 1, role);
  }
  for (int vr = 0; vr < g.visible_rows; ++vr) {
    const int row = rows_.top + vr;
    if (row >= static_cast<int>(table.rows.size())) break;
    const SampleRow& r = table.rows[static_cast<std::size_t>(row)];
    const Rect label = g.row_label(vr);
    const Role role = row == rows_.selected ? Role::Selected : Role::Normal;
    c.line(label.y, label.x, r.step == 0 ? "start" : fmt::format("epoch {}", r.epoch), label.w - 1, role);
    if (r.step > 0) c.text(label.y + 1, label.x, fmt::format("step {}", r.step), Role::Dim, label.w - 1);
    if (auto loss = smoothed_loss_at(snap_.metrics, r.step))
      c.text(label.y + 2, label.x, fmt::format("loss {:.4f}", *loss), Role::Dim, label.w - 1);
    for (int vc = 0; vc < g.visible_columns; ++vc) {
      const int column = columns_.top + vc;
      if (column >= table.columns) break;
      // One column and one row of space between images.
      Rect cell = g.cell(vr, vc);
      Rect box{cell.y, cell.x, cell.h - 1, cell.w - 1};
      if (const SampleFile* s = table.at(row, column))
        previews_[static_cast<std::size_t>(vr * g.visible_columns + vc)].draw(c, box, s->path);
      else
        c.text(box.y + box.h / 2, box.x + 1, "not rendered", Role::Dim, box.w - 2);
      if (row == rows_.selected && column == columns_.selected)
        c.text(cell.bottom() - 1, cell.x, c.glyphs().bullet + std::string(" selected"), Role::Selected, cell.w - 1);
    }
  }
}

void SamplesScreen::draw_zoomed(Canvas& c, const Rect& body) {
  visible_rows_ = visible_columns_ = 1;
  previews_.resize(1);
  draw_header(c, Rect{body.y, body.x, 1, body.w});
  draw_prompt(c, Rect{body.y + 1, body.x, 1, body.w});
  Rect box{body.y + 2, body.x, body.h - 2, body.w};
  if (const SampleFile* s = samples_.table().at(rows_.selected, columns_.selected))
    previews_[0].draw(c, box, s->path);
  else
    c.text(box.y + box.h / 2, box.x + 2, "this prompt was not rendered at this step", Role::Dim, box.w - 4);
}

Reaction SamplesScreen::on_action(int action) {
  const SampleTable& table = samples_.table();
  if (action == kZoom) {
    zoomed_ = !zoomed_;
    return Reaction::draw();
  }
  if (action == kPreviousPrompt || action == kNextPrompt) {
    const int step = action == kPreviousPrompt ? kColumnLeft : kColumnRight;
    return columns_.move(step, table.columns, visible_columns_) ? Reaction::draw() : Reaction::none();
  }
  if (rows_.move(action, static_cast<int>(table.rows.size()), visible_rows_)) return Reaction::draw();
  return {};
}

}  // namespace lathe::tui
