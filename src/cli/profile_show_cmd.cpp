// `lathe profile show FILE [--set k=v ...] [--json]`: the effective value of every key after
// defaults and overrides, marked by where it came from (the file, a --set, or the default),
// so a user sees exactly what a run would use.
#include <fmt/format.h>
#include <toml++/toml.h>

#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "common/error.h"
#include "common/terminal_text.h"
#include "io/profile.h"
#include "train/model/precision.h"
#include "train/config/train_config.h"

namespace lathe::cli {
namespace {

const char* source_name(KeySource s) {
  switch (s) {
    case KeySource::File: return "file";
    case KeySource::Override: return "set";
    case KeySource::Default: break;
  }
  return "default";
}

KeySource source_of(const ProfileCheck& check, const ConfigEntry& e) {
  auto it = check.sources.find(fmt::format("{}.{}", e.section, e.key));
  return it == check.sources.end() ? KeySource::Default : it->second;
}

nlohmann::ordered_json to_json(const toml::node& node) {
  if (auto s = node.as_string()) return s->get();
  if (auto i = node.as_integer()) return i->get();
  if (auto b = node.as_boolean()) return b->get();
  if (auto f = node.as_floating_point()) {
    double v = f->get();
    if (std::isfinite(v)) return v;
    return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");  // JSON has no infinities
  }
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  if (auto a = node.as_array()) {
    for (const toml::node& item : *a) arr.push_back(to_json(item));
  }
  return arr;
}

nlohmann::ordered_json toml_text_to_json(const std::string& text) {
  if (text.empty()) return nullptr;
  toml::table t = toml::parse("v = " + text);
  return to_json(*t.get("v"));
}

// "bf16 on this machine's cpu" beside a key set to "auto" that this machine resolves, else "".
std::string resolved_note(const ConfigEntry& e, const MachinePrecision& m) {
  if (!m.resolved || e.toml != "\"auto\"") return "";
  if (e.section == "model" && e.key == "dtype")
    return fmt::format("{} on this machine's {}", to_string(m.resolved->weights), m.device->str());
  if (e.section == "training" && e.key == "mixed_precision")
    return fmt::format("{} on this machine's {}", to_string(m.resolved->mixed), m.device->str());
  return "";
}

void print_json(const std::string& file, const ProfileCheck& check, const MachinePrecision& m) {
  nlohmann::ordered_json doc;
  doc["schema"] = "lathe.profile";
  doc["version"] = 1;
  doc["profile"] = file;
  doc["ok"] = check.ok();
  doc["errors"] = check.errors;
  doc["warnings"] = check.warnings;
  nlohmann::ordered_json values = nlohmann::ordered_json::object();
  if (check.config) {
    for (const ConfigEntry& e : config_entries(*check.config)) {
      values[fmt::format("{}.{}", e.section, e.key)] = {
          {"value", toml_text_to_json(e.toml)}, {"source", source_name(source_of(check, e))}};
    }
  }
  doc["values"] = values;
  // What "auto" comes to on this machine (null when training.device is not here).
  doc["resolved"] = nullptr;
  if (m.resolved)
    doc["resolved"] = {{"device", m.device->str()},
                       {"model.dtype", to_string(m.resolved->weights)},
                       {"training.mixed_precision", to_string(m.resolved->mixed)}};
  std::cout << doc.dump(2) << "\n";
}

void print_text(const std::string& file, const ProfileCheck& check, const MachinePrecision& m) {
  std::cout << fmt::format(
      "# {}: effective values. Unmarked lines come from the file; \"# default\" and\n"
      "# \"# --set\" mark the others.\n",
      terminal_safe(file));
  std::string section;
  for (const ConfigEntry& e : config_entries(*check.config)) {
    if (e.section != section) {
      section = e.section;
      const auto bracket = section.find('[');  // concepts[2], embeddings[1]: entries of a list
      std::cout << (bracket != std::string::npos
                        ? fmt::format("\n[[{}]]  # {}\n", terminal_safe(section.substr(0, bracket)),
                                      terminal_safe(section))
                        : fmt::format("\n[{}]\n", terminal_safe(section)));
    }
    KeySource src = source_of(check, e);
    // Values come from the profile file: shown with control bytes escaped.
    std::string line = terminal_safe(e.toml.empty() ? fmt::format("# {} is not set", e.key)
                                                    : fmt::format("{} = {}", e.key, e.toml));
    std::string mark = src == KeySource::Default ? "# default" : src == KeySource::Override ? "# --set" : "";
    if (std::string note = resolved_note(e, m); !note.empty()) mark += (mark.empty() ? "# " : "; ") + note;
    if (!mark.empty())
      std::cout << fmt::format("{:<40} {}\n", line, mark);
    else
      std::cout << line << "\n";
  }
  for (const std::string& w : check.warnings) std::cout << "# warning: " << terminal_safe(w) << "\n";
}

int run_profile_show(const Args& args) {
  const std::string& file = args.positional(0);
  ProfileCheck check = check_train_profile(load_profile(file), args.values("set"));
  MachinePrecision precision;
  if (check.config) {
    precision = precision_on_this_machine(*check.config);
    if (!precision.error.empty()) check.errors.push_back(fmt::format("{}: {}", file, precision.error));
    if (!precision.warning.empty()) check.warnings.push_back(precision.warning);
  }
  if (args.has("json")) {
    print_json(file, check, precision);
    return check.ok() ? kExitOk : kExitInputErrors;
  }
  if (!check.ok()) {
    for (const std::string& e : check.errors) std::cout << "error: " << terminal_safe(e) << "\n";
    return kExitInputErrors;
  }
  print_text(file, check, precision);
  std::cout.flush();
  return kExitOk;
}

CommandSpec profile_show_command() {
  CommandSpec spec;
  spec.name = "profile show";
  spec.summary = "Effective values of a training profile, defaults and overrides marked";
  spec.usage = "FILE [--set section.key=value ...] [--json]";
  spec.details =
      "Prints every key a run would use, as TOML: values from the file unmarked, defaults\n"
      "marked '# default', overrides '# --set'. Paths are shown resolved (absolute), and\n"
      "\"auto\" precision is followed by what this machine's device makes of it.\n"
      "With --json: {schema, version, profile, ok, errors, warnings, values, resolved}, where\n"
      "values maps \"section.key\" to {value, source: file|set|default} and resolved is\n"
      "{device, model.dtype, training.mixed_precision} on this machine. Exit code: 0 shown,\n"
      "1 the profile has errors, 2 usage.";
  spec.options = {
      {"set", "KEY=VALUE", "override a key, e.g. --set training.resolution=[768,512]",
       true},
      {"json", "", "print JSON (schema lathe.profile, version 1)"},
  };
  spec.min_positionals = 1;
  spec.max_positionals = 1;
  spec.run = run_profile_show;
  return spec;
}

}  // namespace

LATHE_REGISTER_COMMAND(profile_show_command)

}  // namespace lathe::cli
