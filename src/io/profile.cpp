// Profile loading and typed key access over toml++. Every message carries "file:line" and the
// dotted key so a user can go straight to the mistake; type errors say what was found.
#include "io/profile.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <sys/stat.h>

#include <algorithm>
#include <sstream>

#include "common/error.h"
#include "io/atomic_file.h"

namespace lathe {
namespace {

const char* type_phrase(toml::node_type t) {
  switch (t) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

Profile::Profile(std::filesystem::path path, std::unique_ptr<toml::table> root)
    : path_(std::move(path)), root_(std::move(root)) {}
Profile::~Profile() = default;
Profile::Profile(Profile&&) noexcept = default;
Profile& Profile::operator=(Profile&&) noexcept = default;

Profile parse_profile(std::string_view text, const std::filesystem::path& path) {
  try {
    auto table = std::make_unique<toml::table>(toml::parse(text, path.string()));
    return Profile(path, std::move(table));
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw Error(fmt::format("{}:{}:{}: cannot parse the profile: {}", path.string(), where.line,
                            where.column, e.description()));
  }
}

namespace {

// What a path that is not a regular file is, for the message; nullptr for a regular file or
// one that cannot be stat'ed (reading it then reports why).
const char* not_a_file(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode)) return nullptr;
  if (S_ISDIR(st.st_mode)) return "a folder";
  if (S_ISFIFO(st.st_mode)) return "a named pipe (FIFO)";
  if (S_ISCHR(st.st_mode)) return "a character device";
  if (S_ISBLK(st.st_mode)) return "a block device";
  if (S_ISSOCK(st.st_mode)) return "a socket";
  return "a special file";
}

}  // namespace

Profile load_profile(const std::filesystem::path& path) {
  // Checked before opening: opening a FIFO for reading blocks until a writer comes, and a
  // device such as /dev/zero never ends; a profile is a regular .toml file.
  if (const char* what = not_a_file(path))
    throw Error(fmt::format("cannot load profile: {} is {}, not a file; give a profile .toml file",
                            path.string(), what));
  std::string text;
  try {
    text = read_file(path, std::size_t(16) << 20);
  } catch (const Error& e) {
    throw Error(fmt::format("cannot load profile: {}", e.what()));
  }
  return parse_profile(text, path);
}

std::string closest_key(std::string_view key, const std::vector<std::string_view>& known) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, key.size() / 3) + 1;
  for (std::string_view k : known) {
    std::size_t d = edit_distance(key, k);
    if (d < best_distance) {
      best_distance = d;
      best = std::string(k);
    }
  }
  return best;
}

ProfileTable::ProfileTable(const Profile& profile, const toml::table& table, std::string name)
    : profile_(&profile), table_(&table), name_(std::move(name)) {}

ProfileTable ProfileTable::root(const Profile& profile) {
  return ProfileTable(profile, profile.root(), "");
}

const toml::node* ProfileTable::find(std::string_view key) const {
  return table_->get(key);
}

bool ProfileTable::has(std::string_view key) const {
  return find(key) != nullptr;
}

std::vector<std::string> ProfileTable::keys() const {
  std::vector<std::pair<std::string, toml::source_position>> found;
  for (auto&& [k, v] : *table_) found.emplace_back(std::string(k.str()), v.source().begin);
  std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return a.second.line != b.second.line ? a.second.line < b.second.line
                                          : a.second.column < b.second.column;
  });
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.first));
  return out;
}

std::string ProfileTable::key_path(std::string_view key) const {
  return name_.empty() ? std::string(key) : fmt::format("{}.{}", name_, key);
}

std::string ProfileTable::location(std::string_view key) const {
  const toml::node* node = key.empty() ? nullptr : find(key);
  const auto& src = node ? node->source() : table_->source();
  if (src.path && *src.path != profile_->path().string()) return *src.path;
  if (src.begin.line == 0) return profile_->path().string();
  return fmt::format("{}:{}", profile_->path().string(), src.begin.line);
}

void ProfileTable::fail(std::string_view key, std::string_view message) const {
  throw Error(fmt::format("{}: key {}: {}", location(key), key_path(key), message));
}

void ProfileTable::wrong_type(std::string_view key, const toml::node& node,
                              std::string_view expected) const {
  fail(key, fmt::format("expected {}, got {}", expected, type_phrase(node.type())));
}

std::optional<std::int64_t> ProfileTable::get_int(std::string_view key) const {
  const toml::node* n = find(key);
  if (!n) return std::nullopt;
  if (auto v = n->as_integer()) return v->get();
  wrong_type(key, *n, "an integer");
}

std::optional<double> ProfileTable::get_float(std::string_view key) const {
  const toml::node* n = find(key);
  if (!n) return std::nullopt;
  if (auto v = n->as_floating_point()) return v->get();
  if (auto v = n->as_integer()) return static_cast<double>(v->get());
  wrong_type(key, *n, "a number");
}

std::optional<bool> ProfileTable::get_bool(std::string_view key) const {
  const toml::node* n = find(key);
  if (!n) return std::nullopt;
  if (auto v = n->as_boolean()) return v->get();
  wrong_type(key, *n, "true or false");
}

std::optional<std::string> ProfileTable::get_string(std::string_view key) const {
  const toml::node* n = find(key);
  if (!n) return std::nullopt;
  if (auto v = n->as_string()) return v->get();
  wrong_type(key, *n, "a string");
}

std::optional<std::vector<std::string>> ProfileTable::get_string_array(std::string_view key) const {
  const toml::node* n = find(key);
  if (!n) return std::nullopt;
  const toml::array* arr = n->as_array();
  if (!arr) wrong_type(key, *n, "an array of strings");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& item = *arr->get(i);
    if (auto s = item.as_string()) {
      out.push_back(s->get());
      continue;
    }
    fail(key, fmt::format("expected an array of strings, item {} is {}", i + 1,
                          type_phrase(item.type())));
  }
  return out;
}

std::optional<std::vector<std::int64_t>> ProfileTable::get_int_array(std::string_view key) const {
  const toml::node* n = find(key);
  if (!n) return std::nullopt;
  const toml::array* arr = n->as_array();
  if (!arr) wrong_type(key, *n, "an array of integers");
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& item = *arr->get(i);
    if (auto v = item.as_integer()) {
      out.push_back(v->get());
      continue;
    }
    fail(key, fmt::format("expected an array of integers, item {} is {}", i + 1,
                          type_phrase(item.type())));
  }
  return out;
}

std::optional<std::vector<double>> ProfileTable::get_float_array(std::string_view key) const {
  const toml::node* n = find(key);
  if (!n) return std::nullopt;
  const toml::array* arr = n->as_array();
  if (!arr) wrong_type(key, *n, "an array of numbers");
  std::vector<double> out;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& item = *arr->get(i);
    if (auto v = item.as_floating_point()) {
      out.push_back(v->get());
    } else if (auto v = item.as_integer()) {
      out.push_back(static_cast<double>(v->get()));
    } else {
      fail(key, fmt::format("expected an array of numbers, item {} is {}", i + 1, type_phrase(item.type())));
    }
  }
  return out;
}

bool ProfileTable::is_string(std::string_view key) const {
  const toml::node* n = find(key);
  return n && n->is_string();
}

bool ProfileTable::is_array(std::string_view key) const {
  const toml::node* n = find(key);
  return n && n->is_array();
}

std::optional<ProfileTable> ProfileTable::get_table(std::string_view key) const {
  const toml::node* n = find(key);
  if (!n) return std::nullopt;
  if (auto t = n->as_table()) return ProfileTable(*profile_, *t, key_path(key));
  wrong_type(key, *n, "a table");
}

std::vector<ProfileTable> ProfileTable::get_table_array(std::string_view key) const {
  const toml::node* n = find(key);
  if (!n) return {};
  const toml::array* arr = n->as_array();
  if (!arr) wrong_type(key, *n, fmt::format("an array of tables ([[{}]])", key));
  std::vector<ProfileTable> out;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& item = *arr->get(i);
    const toml::table* t = item.as_table();
    if (!t)
      fail(key, fmt::format("expected an array of tables ([[{}]]), item {} is {}", key, i + 1,
                            type_phrase(item.type())));
    out.emplace_back(*profile_, *t, fmt::format("{}[{}]", key_path(key), i + 1));
  }
  return out;
}

void ProfileTable::check_known_keys(const std::vector<std::string_view>& known) const {
  for (const std::string& key : keys()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string guess = closest_key(key, known);
    fail(key, guess.empty() ? std::string("unknown key; remove it or check the spelling")
                            : fmt::format("unknown key; did you mean {}?", guess));
  }
}

}  // namespace lathe
