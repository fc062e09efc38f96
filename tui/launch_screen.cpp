// The Launch screen (see launch_screen.h).
#include "tui/launch_screen.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/error.h"
#include "io/profile.h"
#include "runs/detach.h"
#include "runs/run_launcher.h"
#include "train/config/train_config.h"
#include "tui/canvas.h"
#include "tui/prompt_dialog.h"
#include "tui/run_page_screen.h"
#include "tui/text_fit.h"
#include "tui/workspace.h"

namespace lathe::tui {

namespace fs = std::filesystem;

namespace {
enum Action { kOpen = 100, kBack, kEdit, kCheck, kStart, kReset };
}

const std::vector<std::string>& launch_form_keys() {
  static const std::vector<std::string> keys = {
      "model.path",          "dataset.path",  "training.epochs", "training.batch_size",
      "training.resolution", "training.seed", "optimizer.type",  "optimizer.lr",
      "network.rank",        "network.alpha", "saving.name",     "output.dir"};
  return keys;
}

LaunchScreen::LaunchScreen(Workspace& ws) : ws_(ws) {
  list_profiles();
}

const BindingTable& LaunchScreen::binding_table() {
  static const BindingTable t = [] {
    BindingTable b = movement_bindings();
    BindingTable own = {
        {{key::kEnter}, "Enter", "open profile / edit key", kOpen},
        {{key::kTab, key::kLeft, key::kRight}, "Tab", "profiles/form", kBack, false},
        {{'c'}, "c", "check", kCheck},
        {{'S'}, "S", "start the run", kStart},
        {{'x'}, "x", "undo the form's edits", kReset, false},
    };
    b.insert(b.end(), own.begin(), own.end());
    return b;
  }();
  return t;
}

void LaunchScreen::list_profiles() {
  profiles_.clear();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(ws_.paths().profiles_dir, ec))
    if (e.path().extension() == ".toml") profiles_.push_back(e.path());
  std::sort(profiles_.begin(), profiles_.end());
}

std::vector<std::string> LaunchScreen::overrides() const {
  std::vector<std::string> out;
  for (const auto& f : fields_)
    if (f.edited) out.push_back(f.key + "=" + f.value);
  return out;
}

void LaunchScreen::check() {
  ProfileCheck pc = check_train_profile(load_profile(loaded_), overrides());
  errors_ = pc.errors;
  warnings_ = pc.warnings;
  if (pc.config) {
    for (const auto& w : missing_files(*pc.config)) warnings_.push_back(w);
    // Effective values for the keys not edited (defaults included, paths resolved).
    for (const auto& entry : config_entries(*pc.config))
      for (auto& f : fields_)
        if (!f.edited && f.key == entry.section + "." + entry.key) f.value = entry.toml;
  }
  note_ = pc.ok() ? fmt::format("profile is valid ({} warning(s))", warnings_.size())
                  : fmt::format("{} error(s)", errors_.size());
}

void LaunchScreen::load_form() {
  loaded_ = profiles_[static_cast<std::size_t>(profile_cursor_.selected)];
  fields_.clear();
  for (const auto& k : launch_form_keys()) fields_.push_back(Field{k, "", false});
  field_cursor_ = {};
  check();
  on_form_ = true;
}

std::string LaunchScreen::unsaved() const {
  std::size_t n = overrides().size();
  return n == 0 ? "" : fmt::format("{} edited key(s) of {}", n, loaded_.filename().string());
}

void LaunchScreen::draw(Canvas& c, const Rect& body) {
  int lw = std::clamp(body.w / 4, 20, 30);
  Rect left{body.y, body.x, body.h, lw};
  Rect right{body.y, body.x + lw + 1, body.h, body.w - lw - 1};
  c.heading(Rect{left.y, left.x, 1, left.w}, "Profiles", !on_form_);
  visible_ = left.h - 1;
  profile_cursor_.clamp(static_cast<int>(profiles_.size()), visible_);
  for (int row = 0; row < visible_; ++row) {
    int i = profile_cursor_.top + row;
    if (i >= static_cast<int>(profiles_.size())) break;
    bool sel = i == profile_cursor_.selected;
    c.line(
        left.y + 1 + row, left.x,
        std::string(sel ? ">" : " ") + profiles_[static_cast<std::size_t>(i)].filename().string(),
        left.w, sel ? (on_form_ ? Role::SelectedIdle : Role::Selected) : Role::Normal);
  }
  if (profiles_.empty())
    c.text(left.y + 1, left.x, "no profiles in " + ws_.paths().profiles_dir.string(), Role::Warn,
           left.w);
  c.heading(Rect{right.y, right.x, 1, right.w},
            loaded_.empty() ? "Profile" : "Profile " + loaded_.string(), on_form_);
  if (loaded_.empty()) {
    c.text(right.y + 2, right.x + 1, "Enter opens the selected profile.", Role::Dim, right.w - 2);
    return;
  }
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    const Field& f = fields_[i];
    bool sel = on_form_ && static_cast<int>(i) == field_cursor_.selected;
    std::string text = fmt::format("{}{:<20} {}{}", sel ? ">" : " ", f.key,
                                   f.value.empty() ? "(unset)" : f.value, f.edited ? "  *" : "");
    c.line(right.y + 1 + static_cast<int>(i), right.x, text, right.w,
           sel        ? Role::Selected
           : f.edited ? Role::Info
                      : Role::Normal);
  }
  int y = right.y + 2 + static_cast<int>(fields_.size());
  c.text(y++, right.x + 1, note_, errors_.empty() ? Role::Ok : Role::Error, right.w - 2);
  for (const auto& e : errors_)
    for (const auto& l : wrap_text(e, right.w - 2))
      if (y < right.bottom()) c.text(y++, right.x + 1, l, Role::Error, right.w - 2);
  for (const auto& w : warnings_)
    for (const auto& l : wrap_text("warning: " + w, right.w - 2))
      if (y < right.bottom()) c.text(y++, right.x + 1, l, Role::Warn, right.w - 2);
}

Reaction LaunchScreen::start() {
  check();
  if (!errors_.empty()) return Reaction::draw();
  LaunchRequest req;
  req.profile = loaded_;
  req.overrides = overrides();
  // The profile's [output] dir decides where the run goes, as with `lathe train`.
  req.exe = current_executable();
  LaunchOutcome out = launch_run(req);  // throws lathe::Error with the reason; shown in a dialog
  for (auto& f : fields_) f.edited = false;
  note_ = out.queued ? "queued run " + out.run.run_id() : "started run " + out.run.run_id();
  Reaction r = Reaction::go_tab(Tab::Runs);
  r.push = std::make_unique<RunPageScreen>(out.run);
  return r;
}

Reaction LaunchScreen::on_action(int action) {
  if (action < 100) {
    if (on_form_)
      field_cursor_.move(action, static_cast<int>(fields_.size()),
                         static_cast<int>(fields_.size()));
    else
      profile_cursor_.move(action, static_cast<int>(profiles_.size()), visible_);
    return Reaction::draw();
  }
  switch (action) {
    case kOpen:
      if (!on_form_) {
        if (profiles_.empty()) return {};
        load_form();
        return Reaction::draw();
      }
      if (fields_.empty()) return {};
      {
        std::size_t i = static_cast<std::size_t>(field_cursor_.selected);
        return Reaction::open(std::make_unique<PromptDialog>(
            "Edit " + fields_[i].key, "Value (TOML: 16, 1e-4, \"text\", true):", fields_[i].value,
            [this, i](const std::string& text) {
              fields_[i].value = text;
              fields_[i].edited = true;
              check();
              return Reaction::draw();
            }));
      }
    case kBack:
      on_form_ = !on_form_ && !fields_.empty();
      return Reaction::draw();
    case kCheck:
      if (loaded_.empty()) return {};
      check();
      return Reaction::draw();
    case kReset:
      if (loaded_.empty()) return {};
      for (auto& f : fields_) f.edited = false;
      check();
      return Reaction::draw();
    case kStart:
      if (loaded_.empty()) return {};
      return start();
  }
  return {};
}

}  // namespace lathe::tui
