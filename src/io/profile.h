// TOML profiles: loading with errors that name file:line:column, and typed access to keys with
// errors that name the file, line and dotted key ("profile.toml:12: key training.batch_size:
// expected an integer, got a string"). Generic on purpose: the dataset section and the
// training schema are both built on ProfileTable.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toml {
inline namespace v3 {
class table;
class node;
}  // namespace v3
}  // namespace toml

namespace lathe {

// A parsed profile. Owns the TOML document; ProfileTable views point into it.
class Profile {
 public:
  Profile(std::filesystem::path path, std::unique_ptr<toml::table> root);
  ~Profile();
  Profile(Profile&&) noexcept;
  Profile& operator=(Profile&&) noexcept;

  const std::filesystem::path& path() const { return path_; }
  const toml::table& root() const { return *root_; }
  // For `--set` overrides, which edit the document before it is validated.
  toml::table& mutable_root() { return *root_; }

 private:
  std::filesystem::path path_;
  std::unique_ptr<toml::table> root_;
};

// Reads and parses a profile file. Throws lathe::Error: "profile.toml:3:9: cannot parse:
// <what toml++ says>", that the file cannot be read, or that the path is not a regular file (a
// folder, a FIFO, a device: refused before it is opened, so nothing blocks).
Profile load_profile(const std::filesystem::path& path);

// Parses profile text; `path` is only used in messages and for resolving relative paths.
Profile parse_profile(std::string_view text, const std::filesystem::path& path);

// A table inside a profile with its dotted name ("training", "concepts[2]"), so every error
// can name the key in full. Getters return nullopt when the key is absent and throw
// lathe::Error when it has the wrong type.
class ProfileTable {
 public:
  ProfileTable(const Profile& profile, const toml::table& table, std::string name);
  static ProfileTable root(const Profile& profile);

  const std::string& name() const { return name_; }
  const Profile& profile() const { return *profile_; }
  bool has(std::string_view key) const;
  std::vector<std::string> keys() const;  // in file order

  std::optional<std::int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;  // an integer is accepted too
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<std::vector<std::string>> get_string_array(std::string_view key) const;
  std::optional<std::vector<std::int64_t>> get_int_array(std::string_view key) const;
  std::optional<std::vector<double>> get_float_array(std::string_view key) const;  // integers too
  // Present and of that type (for keys that take either a string or a list).
  bool is_string(std::string_view key) const;
  bool is_array(std::string_view key) const;
  std::optional<ProfileTable> get_table(std::string_view key) const;
  // [[key]] entries (an array of tables); empty when absent. Their names are "key[1]", ...
  std::vector<ProfileTable> get_table_array(std::string_view key) const;

  // "training.batch_size" for key "batch_size" of table "training".
  std::string key_path(std::string_view key) const;
  // "profile.toml:12" for the key's value, or the table's own line when the key is absent.
  // A value that came from elsewhere (a `--set` override parsed with its own source name)
  // is located by that name instead.
  std::string location(std::string_view key) const;
  // Throws lathe::Error "<location>: key <key_path>: <message>".
  [[noreturn]] void fail(std::string_view key, std::string_view message) const;

  // Throws for the first key not in `known`, suggesting the closest known key when it is a
  // likely typo ("did you mean caption_extension?").
  void check_known_keys(const std::vector<std::string_view>& known) const;

 private:
  const toml::node* find(std::string_view key) const;
  [[noreturn]] void wrong_type(std::string_view key, const toml::node& node,
                               std::string_view expected) const;

  const Profile* profile_;
  const toml::table* table_;
  std::string name_;
};

// The known name closest to `key` by edit distance, or empty when none is close.
std::string closest_key(std::string_view key, const std::vector<std::string_view>& known);

}  // namespace lathe
