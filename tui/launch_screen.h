// The Launch screen: pick a profile from profiles/, edit its main keys in a form, check it
// exactly as `lathe profile check` does (check_train_profile with the edits as --set
// overrides), and start it detached through the same launch_run as `lathe train`; the TUI
// then shows the new run's page. The profile file itself is never rewritten: the edits
// travel as overrides and end up in the run's frozen profile.toml.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tui/list_cursor.h"
#include "tui/screen.h"

namespace lathe::tui {

class Workspace;

// The keys the form shows, in order.
const std::vector<std::string>& launch_form_keys();

class LaunchScreen : public Screen {
 public:
  explicit LaunchScreen(Workspace& ws);
  std::string title() const override { return "Launch"; }
  const BindingTable& bindings() const override { return binding_table(); }
  static const BindingTable& binding_table();
  void draw(Canvas& canvas, const Rect& body) override;
  Reaction on_action(int action) override;
  std::string unsaved() const override;

 private:
  struct Field {
    std::string key;    // "training.epochs"
    std::string value;  // TOML text as shown / typed
    bool edited = false;
  };
  void list_profiles();
  void load_form();
  std::vector<std::string> overrides() const;
  void check();
  Reaction start();

  Workspace& ws_;
  std::vector<std::filesystem::path> profiles_;
  ListCursor profile_cursor_, field_cursor_;
  bool on_form_ = false;
  std::vector<Field> fields_;
  std::filesystem::path loaded_;
  std::vector<std::string> errors_, warnings_;
  std::string note_;
  int visible_ = 10;
};

}  // namespace lathe::tui
