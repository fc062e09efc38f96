// The Runs screen: every run of the runs folder with its state, epoch, step, last loss and a
// loss sparkline, refreshed live (files polled twice a second, the table redrawn only when a
// run changed). Enter opens a run's page.
#pragma once

#include <string>

#include "tui/list_cursor.h"
#include "tui/run_watch.h"
#include "tui/screen.h"
#include "tui/theme.h"

namespace lathe::tui {

class Workspace;

class RunsScreen : public Screen {
 public:
  explicit RunsScreen(Workspace& ws);
  std::string title() const override;
  const BindingTable& bindings() const override { return binding_table(); }
  static const BindingTable& binding_table();
  void draw(Canvas& canvas, const Rect& body) override;
  Reaction on_action(int action) override;
  bool poll() override { return watch_.refresh(); }
  int poll_interval_ms() const override { return 500; }

 private:
  Workspace& ws_;
  RunWatch watch_;
  ListCursor cursor_;
  int visible_ = 10;
};

// "running", "done", ... with the role the state is drawn in.
Role run_state_role(RunState s);

}  // namespace lathe::tui
