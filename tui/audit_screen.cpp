// The Audit screen (see audit_screen.h).
#include "tui/audit_screen.h"

#include <fmt/format.h>

#include "common/error.h"
#include "dataset/audit_context.h"
#include "text/vocab_locator.h"
#include "tui/canvas.h"
#include "tui/text_fit.h"
#include "tui/workspace.h"

namespace lathe::tui {

namespace {
enum Action { kJump = 100, kRerun };

Role severity_role(Severity s) {
  return s == Severity::Error ? Role::Error : s == Severity::Warning ? Role::Warn : Role::Info;
}
}  // namespace

std::optional<std::string> finding_tag(const Finding& f) {
  if (f.code.rfind("tag.", 0) != 0 && f.code.rfind("activation.", 0) != 0) return std::nullopt;
  auto a = f.message.find('\'');
  if (a == std::string::npos) return std::nullopt;
  auto b = f.message.find('\'', a + 1);
  if (b == std::string::npos || b == a + 1) return std::nullopt;
  return f.message.substr(a + 1, b - a - 1);
}

const BindingTable& AuditScreen::binding_table() {
  static const BindingTable t = [] {
    BindingTable b = movement_bindings();
    b.push_back({{key::kEnter}, "Enter", "go to the image or tag", kJump});
    b.push_back({{'R'}, "R", "rescan and audit again", kRerun});
    return b;
  }();
  return t;
}

void AuditScreen::rebuild() {
  AuditOptions options;  // as `lathe audit` with no flags: the token checks on the found vocabulary
  if (auto vocab = text::locate_clip_vocab(std::nullopt)) options.clip_vocab = vocab->string();
  report_ = run_audit(ws_.dataset(), options);
  built_generation_ = ws_.generation();
  rows_.clear();
  const auto& all = report_->findings.all();
  for (Severity s : {Severity::Error, Severity::Warning, Severity::Info}) {
    if (report_->findings.count(s) == 0) continue;
    rows_.push_back(Row{-1, s});
    for (std::size_t i = 0; i < all.size(); ++i)
      if (all[i].severity == s) rows_.push_back(Row{static_cast<int>(i), s});
  }
  if (cursor_.selected == 0 && rows_.size() > 1) cursor_.selected = 1;
}

void AuditScreen::draw(Canvas& c, const Rect& body) {
  try {
    if (!report_ || built_generation_ != ws_.generation()) rebuild();
  } catch (const Error& e) {
    c.text(body.y + 1, body.x + 1, "Cannot audit the dataset:", Role::Error, body.w - 2);
    c.text(body.y + 2, body.x + 1, e.what(), Role::Normal, body.w - 2);
    return;
  }
  const Findings& f = report_->findings;
  SplitLayout l = split_rows(body, 0.25, 5);
  c.heading(Rect{l.top.y, l.top.x, 1, l.top.w},
            fmt::format("Audit of {}: {} images, {} errors, {} warnings, {} info",
                        report_->root.string(), report_->images, f.count(Severity::Error),
                        f.count(Severity::Warning), f.count(Severity::Info)),
            true);
  visible_ = l.top.h - 1;
  cursor_.clamp(static_cast<int>(rows_.size()), visible_);
  for (int row = 0; row < visible_; ++row) {
    int i = cursor_.top + row;
    if (i >= static_cast<int>(rows_.size())) break;
    const Row& r = rows_[static_cast<std::size_t>(i)];
    int y = l.top.y + 1 + row;
    bool sel = i == cursor_.selected;
    if (r.finding < 0) {
      std::string name = severity_name(r.severity);
      for (auto& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      c.line(y, l.top.x, fmt::format("{}{} ({})", sel ? ">" : " ", name, f.count(r.severity)),
             l.top.w, sel ? Role::Selected : severity_role(r.severity));
      continue;
    }
    const Finding& fd = f.all()[static_cast<std::size_t>(r.finding)];
    std::string text = fmt::format("{}  {:<26} {}", sel ? ">" : " ", fd.code, fd.message);
    c.line(y, l.top.x, text, l.top.w, sel ? Role::Selected : Role::Normal);
  }
  if (rows_.empty())
    c.text(l.top.y + 2, l.top.x + 2, "No findings: the dataset is clean.", Role::Ok);
  // The selected finding in full.
  c.heading(Rect{l.bottom.y, l.bottom.x, 1, l.bottom.w}, "Finding", false);
  if (rows_.empty()) return;
  const Row& r = rows_[static_cast<std::size_t>(cursor_.selected)];
  if (r.finding < 0) return;
  const Finding& fd = f.all()[static_cast<std::size_t>(r.finding)];
  std::vector<std::string> lines = wrap_text(fd.message, l.bottom.w - 4);
  for (auto& h : wrap_text("hint: " + fd.hint, l.bottom.w - 4)) lines.push_back(h);
  for (int i = 0; i < static_cast<int>(lines.size()) && i < l.bottom.h - 1; ++i)
    c.text(l.bottom.y + 1 + i, l.bottom.x + 2, lines[static_cast<std::size_t>(i)],
           i < static_cast<int>(wrap_text(fd.message, l.bottom.w - 4).size())
               ? severity_role(fd.severity)
               : Role::Dim,
           l.bottom.w - 4);
}

Reaction AuditScreen::on_action(int action) {
  if (cursor_.move(action, static_cast<int>(rows_.size()), visible_)) return Reaction::draw();
  if (action == kRerun) {
    ws_.rescan();
    report_.reset();
    return Reaction::draw();
  }
  if (action != kJump || !report_ || rows_.empty()) return {};
  const Row& r = rows_[static_cast<std::size_t>(cursor_.selected)];
  if (r.finding < 0) return {};
  const Finding& fd = report_->findings.all()[static_cast<std::size_t>(r.finding)];
  if (auto tag = finding_tag(fd)) {
    ws_.focus_tag = *tag;
    if (!fd.concept.empty()) ws_.focus_concept = fd.concept;
    return Reaction::go_tab(Tab::Tags);
  }
  if (!fd.file.empty()) {
    ws_.focus_file = fd.file;
    return Reaction::go_tab(Tab::Dataset);
  }
  return {};
}

}  // namespace lathe::tui
