// The subcommand registry and argument parser of the `lathe` binary. Each subcommand lives in
// its own file and registers a CommandSpec; the dispatcher, `--help` pages and flag validation
// all read the same specs, so help never drifts from what a command accepts.
#pragma once

#include <cstddef>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lathe::cli {

// Exit codes of every command (DESIGN.md): 0 success, 1 input has errors, 2 usage error.
enum ExitCode : int { kExitOk = 0, kExitInputErrors = 1, kExitUsage = 2 };

struct Option {
  std::string name;        // long name without dashes: "batch-size"
  std::string value_name;  // empty for a flag that takes no value: "N"
  std::string help;
  bool repeatable = false;  // may be given several times (e.g. --set)
};

class Args {
 public:
  const std::vector<std::string>& positionals() const { return positionals_; }
  const std::string& positional(std::size_t i) const { return positionals_.at(i); }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::optional<std::string> value(const std::string& name) const;
  std::string value_or(const std::string& name, const std::string& fallback) const;
  std::vector<std::string> values(const std::string& name) const;
  // Typed getters throw UsageError naming the flag when the value does not parse.
  long long int_or(const std::string& name, long long fallback) const;
  double double_or(const std::string& name, double fallback) const;

  void add_positional(std::string v) { positionals_.push_back(std::move(v)); }
  void add_value(const std::string& name, std::string v) { values_[name].push_back(std::move(v)); }

 private:
  std::vector<std::string> positionals_;
  std::map<std::string, std::vector<std::string>> values_;
};

struct CommandSpec {
  std::string name;      // "audit", or "tags add" for a command in a group
  std::string summary;   // one line for the command list
  std::string usage;     // after the command name: "DIR|PROFILE [options]"
  std::string details;   // paragraphs printed under the usage line in --help
  std::vector<Option> options;
  std::size_t min_positionals = 0;
  std::size_t max_positionals = std::numeric_limits<std::size_t>::max();
  std::function<int(const Args&)> run;
};

void register_command(CommandSpec spec);
const std::vector<CommandSpec>& all_commands();

// Parses argv against the registry and runs the matching command; returns the exit code.
int run_main(int argc, char** argv);

// Parses the arguments after the command name. Throws UsageError on unknown flags,
// missing values or a wrong number of positionals.
Args parse_args(const CommandSpec& spec, const std::vector<std::string>& argv);

std::string help_text(const CommandSpec& spec);

}  // namespace lathe::cli

// Registers a command from a function returning its CommandSpec, at program start.
#define LATHE_REGISTER_COMMAND(factory)                                      \
  namespace {                                                                \
  const bool factory##_registered = (::lathe::cli::register_command(factory()), true); \
  }
