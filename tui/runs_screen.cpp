// The Runs screen (see runs_screen.h).
#include "tui/runs_screen.h"

#include <fmt/format.h>

#include "runs/sparkline.h"
#include "tui/canvas.h"
#include "tui/run_page_screen.h"
#include "tui/workspace.h"

namespace lathe::tui {

namespace {
enum Action { kOpen = 100, kRefresh };
}

Role run_state_role(RunState s) {
  switch (s) {
    case RunState::Running:
      return Role::Ok;
    case RunState::Paused:
    case RunState::Stopping:
    case RunState::Queued:
      return Role::Warn;
    case RunState::Failed:
    case RunState::Interrupted:
      return Role::Error;
    default:
      return Role::Normal;
  }
}

RunsScreen::RunsScreen(Workspace& ws) : ws_(ws), watch_(ws.paths().runs_root) {
  watch_.refresh();
}

const BindingTable& RunsScreen::binding_table() {
  static const BindingTable t = [] {
    BindingTable b = movement_bindings();
    b.push_back({{key::kEnter}, "Enter", "open the run", kOpen});
    b.push_back({{'R'}, "R", "reread the runs folder", kRefresh, false});
    return b;
  }();
  return t;
}

std::string RunsScreen::title() const {
  return "Runs " + watch_.root().string();
}

void RunsScreen::draw(Canvas& c, const Rect& body) {
  const auto& runs = watch_.runs();
  c.heading(Rect{body.y, body.x, 1, body.w},
            fmt::format("Runs in {} ({})", watch_.root().string(), runs.size()), true);
  int spark_w = std::max(10, body.w - 76);
  std::string header = fmt::format(" {:<30} {:<11} {:>7} {:>8} {:>8}  {}", "run", "state", "epoch",
                                   "step", "loss", "loss curve");
  c.line(body.y + 1, body.x, header, body.w, Role::Header);
  visible_ = body.h - 2;
  if (runs.empty()) {
    c.text(body.y + 3, body.x + 1,
           fmt::format("No runs yet in {}. Start one from the Launch screen (6) or with "
                       "'lathe train PROFILE'.",
                       watch_.root().string()),
           Role::Dim, body.w - 2);
    return;
  }
  cursor_.clamp(static_cast<int>(runs.size()), visible_);
  SparkGlyphs glyphs = c.glyphs().unicode ? SparkGlyphs::Unicode : SparkGlyphs::Ascii;
  for (int row = 0; row < visible_; ++row) {
    int i = cursor_.top + row;
    if (i >= static_cast<int>(runs.size())) break;
    const RunSnapshot& r = runs[static_cast<std::size_t>(i)];
    int y = body.y + 2 + row;
    bool sel = i == cursor_.selected;
    std::string epoch = r.status.total_epochs > 0
                            ? fmt::format("{}/{}", r.status.epoch, r.status.total_epochs)
                            : std::to_string(r.status.epoch);
    std::string loss = r.status.step > 0 ? fmt::format("{:.4f}", r.status.last_loss) : "-";
    std::string left = fmt::format("{}{:<30} ", sel ? ">" : " ", r.paths.run_id());
    c.line(y, body.x, left, 32, sel ? Role::Selected : Role::Normal);
    c.line(y, body.x + 32, fmt::format("{:<11} ", run_state_name(r.state)), 12,
           sel ? Role::Selected : run_state_role(r.state));
    c.line(y, body.x + 44, fmt::format("{:>7} {:>8} {:>8}  ", epoch, r.status.step, loss), 27,
           sel ? Role::Selected : Role::Normal);
    c.text(y, body.x + 71, render_sparkline(loss_values(r.metrics), spark_w, glyphs),
           Role::LossLine, spark_w);
  }
}

Reaction RunsScreen::on_action(int action) {
  const auto& runs = watch_.runs();
  if (cursor_.move(action, static_cast<int>(runs.size()), visible_)) return Reaction::draw();
  if (action == kRefresh) {
    watch_.refresh();
    return Reaction::draw();
  }
  if (action == kOpen && !runs.empty())
    return Reaction::open(
        std::make_unique<RunPageScreen>(runs[static_cast<std::size_t>(cursor_.selected)].paths));
  return {};
}

}  // namespace lathe::tui
