// `--set section.key=value`: edits the parsed profile before validation, so an override is
// checked by exactly the rules a line in the file is. The value is parsed as TOML under the
// source name "--set section.key=value", which is what error messages then point at.
#include <fmt/format.h>
#include <toml++/toml.h>

#include <filesystem>
#include <set>

#include "common/error.h"
#include "io/profile.h"
#include "train/config/train_config.h"
#include "train/config/train_config_keys.h"

namespace lathe {
namespace {

std::string trim(std::string_view s) {
  std::size_t b = s.find_first_not_of(" \t");
  std::size_t e = s.find_last_not_of(" \t");
  return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}

// The value as TOML when it is one (16, 1e-4, [768, 512], "x", true); a bare word that is
// not TOML (cuda:0, ../models/x.safetensors) is taken as a string.
toml::table parse_value(const std::string& value, const std::string& source) {
  if (value.find_first_of("\r\n") == std::string::npos) {
    try {
      toml::table t = toml::parse("v = " + value, source);
      if (t.size() == 1 && t.contains("v")) return t;
    } catch (const toml::parse_error&) {
    }
  }
  return toml::parse("v = " + toml_quote(value), source);
}

// A relative path given on the command line means the current directory, as every shell user
// expects, not the profile's folder (where relative paths inside the file are rooted).
void make_path_absolute(const std::string& section, const std::string& name, toml::table& parsed) {
  static const std::set<std::string> path_keys = {"model.path", "model.tokenizer", "model.vae",
                                                  "dataset.path", "validation.concept"};
  if (!path_keys.count(section + "." + name)) return;
  toml::value<std::string>* v = parsed.get("v")->as_string();
  if (!v || v->get().empty() || v->get().rfind(kTinyRandomPrefix, 0) == 0) return;
  std::filesystem::path p(v->get());
  if (p.is_relative()) v->get() = std::filesystem::absolute(p).lexically_normal().string();
}

[[noreturn]] void fail(const std::string& assignment, const std::string& message) {
  throw Error(fmt::format("--set {}: {}", assignment, message));
}

}  // namespace

void apply_override(Profile& profile, const std::string& assignment) {
  std::size_t eq = assignment.find('=');
  if (eq == std::string::npos)
    fail(assignment, "expected section.key=value, such as network.rank=16");
  std::string key = trim(std::string_view(assignment).substr(0, eq));
  std::string value = trim(std::string_view(assignment).substr(eq + 1));
  std::size_t dot = key.find('.');
  if (dot == std::string::npos || dot == 0 || key.find('.', dot + 1) != std::string::npos)
    fail(assignment, "the key must be section.key, such as training.epochs");
  std::string section = key.substr(0, dot);
  std::string name = key.substr(dot + 1);

  const auto& sections = profile_sections();
  if (std::find(sections.begin(), sections.end(), section) == sections.end()) {
    std::string guess = closest_key(section, sections);
    fail(assignment, fmt::format("unknown section {}{}", section,
                                 guess.empty() ? "" : fmt::format("; did you mean {}?", guess)));
  }
  if (section == "concepts")
    fail(assignment, "[[concepts]] is a list and cannot be set; edit the profile, or set "
                     "dataset.path to a kohya folder");
  if (section == "embeddings")
    fail(assignment, "[[embeddings]] is a list and cannot be set; edit the profile");
  const auto& keys = profile_section_keys(section);
  if (std::find(keys.begin(), keys.end(), name) == keys.end()) {
    std::string guess = closest_key(name, keys);
    fail(assignment,
         fmt::format("unknown key {}{}", key,
                     guess.empty() ? "" : fmt::format("; did you mean {}.{}?", section, guess)));
  }
  if (value.empty()) fail(assignment, "no value after '='");

  toml::table& root = profile.mutable_root();
  // A caption/image key already written under the other of [dataset] / [training] is
  // replaced there, so the override does not collide with it.
  if (is_data_option_key(name) && (section == "dataset" || section == "training")) {
    const char* other = section == "dataset" ? "training" : "dataset";
    if (const toml::table* t = root[other].as_table(); t && t->contains(name)) section = other;
  }
  toml::node* existing = root.get(section);
  if (!existing) existing = &root.insert_or_assign(section, toml::table{}).first->second;
  toml::table* table = existing->as_table();
  if (!table) fail(assignment, fmt::format("{} in the profile is not a [{}] table", section, section));
  toml::table parsed = parse_value(value, fmt::format("--set {}", assignment));
  make_path_absolute(section, name, parsed);
  table->insert_or_assign(name, std::move(*parsed.get("v")));
}

}  // namespace lathe
