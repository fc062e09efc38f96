// The Audit screen: the findings of `lathe audit` (the same run_audit), grouped by severity
// with a count per group, the selected finding's message and hint below. Enter jumps to what
// the finding is about: the image (Dataset screen, its caption open) or the tag (Tags
// screen, filtered to it, in the finding's concept).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dataset/audit.h"
#include "tui/list_cursor.h"
#include "tui/screen.h"

namespace lathe::tui {

class Workspace;

// The tag a finding is about: the first 'quoted' word of its message, for tag.* and
// activation.* findings; nullopt for others.
std::optional<std::string> finding_tag(const Finding& f);

class AuditScreen : public Screen {
 public:
  explicit AuditScreen(Workspace& ws) : ws_(ws) {}
  std::string title() const override { return "Audit"; }
  const BindingTable& bindings() const override { return binding_table(); }
  static const BindingTable& binding_table();
  void draw(Canvas& canvas, const Rect& body) override;
  Reaction on_action(int action) override;

 private:
  struct Row {
    int finding = -1;  // index into report findings; -1 for a severity header
    Severity severity = Severity::Info;
  };
  void rebuild();

  Workspace& ws_;
  std::optional<AuditReport> report_;
  int built_generation_ = -1;
  std::vector<Row> rows_;
  ListCursor cursor_;
  int visible_ = 10;
};

}  // namespace lathe::tui
