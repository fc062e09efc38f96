// A run's page (see run_page_screen.h).
#include "tui/run_page_screen.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "runs/best_epoch.h"
#include "tui/block_bars.h"
#include "runs/control_socket.h"
#include "tui/canvas.h"
#include "tui/confirm_dialog.h"
#include "tui/line_chart.h"
#include "tui/runs_screen.h"
#include "tui/samples_screen.h"

namespace lathe::tui {

namespace {
enum Action { kPause = 100, kResume, kStop, kSave, kSamples };

std::string loss_text(double v) {
  return std::isfinite(v) ? fmt::format("{:.4f}", v) : "-";
}
}  // namespace

RunPageScreen::RunPageScreen(RunPaths run) : samples_(run.dir) {
  snap_.paths = std::move(run);
  snap_.refresh();
  samples_.refresh();
}

const BindingTable& RunPageScreen::binding_table() {
  static const BindingTable t = [] {
    BindingTable b = movement_bindings();
    BindingTable own = {
        {{'p'}, "p", "pause", kPause},
        {{'r'}, "r", "resume", kResume},
        {{'s'}, "s", "stop (asks)", kStop},
        {{'S'}, "S", "save now", kSave},
        {{'i'}, "i", "sample images", kSamples},
    };
    b.insert(b.end(), own.begin(), own.end());
    return b;
  }();
  return t;
}

void RunPageScreen::draw(Canvas& c, const Rect& body) {
  RunPageLayout l = run_page_layout(body, !samples_.table().empty());
  const RunStatus& s = snap_.status;
  int x = l.status.x + 1;
  x += c.text(l.status.y, x, run_state_name(snap_.state), run_state_role(snap_.state));
  std::string progress =
      fmt::format("  epoch {}/{}  step {}/{}  loss {}{}  {}", s.epoch, s.total_epochs, s.step,
                  s.total_steps, s.step > 0 ? loss_text(s.last_loss) : "-",
                  s.peak_gpu_mib > 0 ? fmt::format("  GPU {:.1f} GiB", s.peak_gpu_mib / 1024) : "", s.base_model);
  c.text(l.status.y, x, progress, Role::Normal, l.status.right() - x);
  std::string second = !snap_.error.empty()    ? snap_.error
                       : !message_.empty()     ? message_
                       : !s.last_error.empty() ? "error: " + s.last_error
                                               : snap_.paths.dir.string();
  Role second_role = !snap_.error.empty() || (message_.empty() && !s.last_error.empty())
                         ? Role::Error
                     : message_.empty() ? Role::Dim
                                        : Role::Info;
  c.text(l.status.y + 1, l.status.x + 1, second, second_role, l.status.w - 2);
  draw_chart(c, l.chart);
  if (!l.samples.empty()) draw_samples(c, l.samples);
  Rect table = l.table;
  if (table.h >= 8) {  // two rows of the table area for the block bars
    table.h -= 2;
    draw_blocks(c, Rect{table.bottom(), table.x, 2, table.w});
  }
  draw_table(c, table);
}

// Norms come from the core (lora/lora_block_norms.h), read once per new epoch file.
void RunPageScreen::draw_blocks(Canvas& c, const Rect& r) {
  std::string file;
  for (const auto& e : snap_.metrics.epochs)
    if (!e.file.empty()) file = e.file;
  if (file.empty()) return;
  if (file != blocks_file_) {
    blocks_file_ = file;
    blocks_error_.clear();
    try {
      blocks_ = lora_block_norms(snap_.paths.dir / file);
    } catch (const std::exception& e) {
      blocks_error_ = e.what();
    }
  }
  const std::string name = std::filesystem::path(file).filename().string();
  c.heading(Rect{r.y, r.x, 1, r.w},
            blocks_error_.empty() ? fmt::format("Blocks of {}: delta norm per UNet block, most {}", name,
                                                strongest_block(blocks_))
                                  : "Blocks of " + name,
            false);
  if (!blocks_error_.empty()) {
    c.text(r.y + 1, r.x + 2, blocks_error_, Role::Error, r.w - 4);
    return;
  }
  int x = r.x + 2;
  for (const BarPiece& p : block_bar_line(blocks_, c.glyphs().unicode))
    if (x < r.right()) x += c.text(r.y + 1, x, p.text, p.role, r.right() - x);
}

// The newest row of samples, side by side (as many as fit at 12 columns each).
void RunPageScreen::draw_samples(Canvas& c, const Rect& r) {
  const SampleTable& table = samples_.table();
  c.heading(Rect{r.y, r.x, 1, r.w}, "Samples, " + sample_row_label(table.rows.back()) + " (i: all)", false);
  std::vector<SampleFile> newest = newest_samples(table);
  const int shown = std::min<int>(static_cast<int>(newest.size()), std::max(1, r.w / 12));
  sample_previews_.resize(static_cast<std::size_t>(shown));
  const int w = (r.w - 2) / std::max(1, shown);  // a column of margin either side
  for (int i = 0; i < shown; ++i)
    sample_previews_[static_cast<std::size_t>(i)].draw(
        c, Rect{r.y + 1, r.x + 1 + i * w, r.h - 1, w - 1}, newest[static_cast<std::size_t>(i)].path);
}

void RunPageScreen::draw_chart(Canvas& c, const Rect& r) {
  const RunMetrics& m = snap_.metrics;
  c.heading(Rect{r.y, r.x, 1, r.w}, "Loss: training (smoothed) and validation, | = epoch end",
            false);
  Rect plot{r.y + 1, r.x + 10, r.h - 2, r.w - 11};
  if (plot.h < 2 || plot.w < 10) return;
  ChartSeries train{{}, {}, Role::LossLine, '.'};
  for (const auto& st : m.steps) {
    train.x.push_back(static_cast<double>(st.step));
    train.y.push_back(st.loss_smoothed != 0 ? st.loss_smoothed : st.loss);
  }
  ChartSeries val{{}, {}, Role::ValLine, 'o'};
  for (const auto& v : m.validations) {
    val.x.push_back(static_cast<double>(v.step));
    val.y.push_back(v.loss);
  }
  std::vector<double> markers;
  for (const auto& e : m.epochs) markers.push_back(static_cast<double>(e.step));
  if (train.x.empty() && val.x.empty()) {
    c.text(plot.y + plot.h / 2, plot.x + 2, "no loss recorded yet", Role::Dim, plot.w - 4);
    return;
  }
  double x_max = static_cast<double>(std::max<std::int64_t>(snap_.status.total_steps, 1));
  if (!train.x.empty()) x_max = std::max(x_max, train.x.back());
  if (!val.x.empty()) x_max = std::max(x_max, val.x.back());
  ChartStyle style = c.glyphs().unicode ? ChartStyle::Braille : ChartStyle::Ascii;
  Chart chart = render_line_chart({train, val}, markers, 0, x_max, plot.w, plot.h, style);
  for (int row = 0; row < chart.height; ++row)
    for (int col = 0; col < chart.width; ++col) {
      const ChartCell& cell = chart.at(row, col);
      if (cell.glyph != " ") c.text(plot.y + row, plot.x + col, cell.glyph, cell.role, 1);
    }
  c.text(plot.y, r.x, fmt::format("{:>9.4f}", chart.y_max), Role::Dim, 9);
  c.text(plot.bottom() - 1, r.x, fmt::format("{:>9.4f}", chart.y_min), Role::Dim, 9);
  std::string axis = fmt::format("step 0 .. {}", static_cast<long long>(x_max));
  c.text(r.bottom() - 1, plot.x, axis, Role::Dim, plot.w);
  std::string legend = c.glyphs().unicode ? "training  validation" : ". training  o validation";
  int lx = plot.right() - static_cast<int>(legend.size()) - 1;
  if (c.glyphs().unicode) {
    lx += c.text(r.bottom() - 1, lx, "training", Role::LossLine) + 2;
    c.text(r.bottom() - 1, lx, "validation", Role::ValLine);
  } else {
    c.text(r.bottom() - 1, lx, legend, Role::Dim);
  }
}

void RunPageScreen::draw_table(Canvas& c, const Rect& r) {
  const RunMetrics& m = snap_.metrics;
  BestEpochReport best = rank_epochs(m);
  c.heading(Rect{r.y, r.x, 1, r.w},
            best.by_epoch.empty() ? "Epochs" : "Epochs, ranked by " + best.basis, false);
  c.line(r.y + 1, r.x,
         fmt::format("  {:>5} {:>8} {:>10} {:>10} {:>10} {:>5}  {}", "epoch", "step", "train",
                     "val", "score", "rank", "file"),
         r.w, Role::Header);
  table_rows_ = r.h - 3;
  table_.clamp(static_cast<int>(best.by_epoch.size()), table_rows_);
  for (int row = 0; row < table_rows_; ++row) {
    int i = table_.top + row;
    if (i >= static_cast<int>(best.by_epoch.size())) break;
    const EpochScore& e = best.by_epoch[static_cast<std::size_t>(i)];
    double train = NAN, val = NAN;
    for (const auto& em : m.epochs)
      if (em.epoch == e.epoch) train = em.loss;
    for (const auto& vm : m.validations)
      if (vm.epoch == e.epoch) val = vm.loss;
    bool top = e.rank == 1;
    std::string mark = top ? c.glyphs().bullet : e.local_minimum ? "+" : " ";
    std::string text = fmt::format("{} {:>5} {:>8} {:>10} {:>10} {:>10} {:>5}  {}", mark, e.epoch,
                                   e.step, loss_text(train), loss_text(val), loss_text(e.score),
                                   e.rank, e.file.empty() ? "(not saved)" : e.file);
    bool sel = i == table_.selected;
    c.line(r.y + 2 + row, r.x, text, r.w, sel ? Role::Selected : top ? Role::Best : Role::Normal);
  }
  if (best.by_epoch.empty()) c.text(r.y + 2, r.x + 2, "no epoch finished yet", Role::Dim, r.w - 4);
  if (!best.advice.empty()) c.text(r.bottom() - 1, r.x + 1, best.advice, Role::Info, r.w - 2);
}

Reaction RunPageScreen::send(int action) {
  ControlRequest req = action == kPause    ? ControlRequest::Pause
                       : action == kResume ? ControlRequest::Resume
                       : action == kStop   ? ControlRequest::Stop
                                           : ControlRequest::SaveNow;
  // Throws lathe::Error when no trainer listens (the app shows it in a dialog).
  message_ = send_control_request(snap_.paths.control_socket(), req);
  return Reaction::draw();
}

Reaction RunPageScreen::on_action(int action) {
  if (table_.move(action, static_cast<int>(snap_.metrics.epochs.size() + 1), table_rows_))
    return Reaction::draw();
  if (action == kStop)
    return Reaction::open(std::make_unique<ConfirmDialog>(
        "Stop the run?",
        std::vector<std::string>{
            fmt::format("Stop {}?", snap_.paths.run_id()),
            "The trainer saves a checkpoint and ends; 'lathe train --resume' continues it."},
        "Stop", [this] { return send(kStop); }));
  if (action == kSamples) return Reaction::open(std::make_unique<SamplesScreen>(snap_.paths));
  if (action >= kPause && action <= kSave) return send(action);
  return {};
}

}  // namespace lathe::tui
