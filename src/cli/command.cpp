// Registry, argument parsing and help pages for the subcommands (see command.h).
#include "cli/command.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "common/error.h"
#include "common/terminal_text.h"

namespace lathe::cli {
namespace {

std::vector<CommandSpec>& registry() {
  static std::vector<CommandSpec> commands;
  return commands;
}

const Option kHelpOption{"help", "", "show this help and exit"};

const Option* find_option(const CommandSpec& spec, const std::string& name) {
  if (name == "help") return &kHelpOption;
  for (const auto& opt : spec.options)
    if (opt.name == name) return &opt;
  return nullptr;
}

// Edit distance for "did you mean" hints on mistyped flags and commands.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = 3;  // suggest only near misses
  for (const auto& c : candidates) {
    std::size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

std::vector<std::string> option_names(const CommandSpec& spec) {
  std::vector<std::string> names{"help"};
  for (const auto& o : spec.options) names.push_back(o.name);
  return names;
}

std::string group_of(const std::string& name) {
  auto space = name.find(' ');
  return space == std::string::npos ? std::string() : name.substr(0, space);
}

std::string command_list(const std::string& group) {
  std::vector<const CommandSpec*> shown;
  for (const auto& c : registry())
    if (group.empty() || group_of(c.name) == group) shown.push_back(&c);
  std::sort(shown.begin(), shown.end(),
            [](const CommandSpec* a, const CommandSpec* b) { return a->name < b->name; });
  std::size_t width = 0;
  for (auto* c : shown) width = std::max(width, c->name.size());
  std::string out;
  for (auto* c : shown) out += fmt::format("  {:<{}}  {}\n", c->name, width, c->summary);
  return out;
}

std::string main_help() {
  return fmt::format(
      "lathe {}: a terminal workstation for training Stable Diffusion LoRA adapters\n\n"
      "Usage: lathe <command> [options]\n"
      "       lathe                 open the TUI on the current folder\n\n"
      "Commands:\n{}\n"
      "Run 'lathe <command> --help' for a command's flags.\n"
      "Exit codes: 0 success, 1 the input has errors, 2 usage error.\n",
      LATHE_VERSION_STRING, command_list(""));
}

bool group_exists(const std::string& group) {
  for (const auto& c : registry())
    if (group_of(c.name) == group) return true;
  return false;
}

}  // namespace

std::optional<std::string> Args::value(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::string Args::value_or(const std::string& name, const std::string& fallback) const {
  auto v = value(name);
  return v ? *v : fallback;
}

std::vector<std::string> Args::values(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

long long Args::int_or(const std::string& name, long long fallback) const {
  auto v = value(name);
  if (!v) return fallback;
  try {
    std::size_t used = 0;
    long long n = std::stoll(*v, &used);
    if (used == v->size()) return n;
  } catch (const std::exception&) {
  }
  throw UsageError(fmt::format("--{} expects a whole number, got '{}'", name, *v));
}

double Args::double_or(const std::string& name, double fallback) const {
  auto v = value(name);
  if (!v) return fallback;
  try {
    std::size_t used = 0;
    double d = std::stod(*v, &used);
    if (used == v->size()) return d;
  } catch (const std::exception&) {
  }
  throw UsageError(fmt::format("--{} expects a number, got '{}'", name, *v));
}

void register_command(CommandSpec spec) { registry().push_back(std::move(spec)); }

const std::vector<CommandSpec>& all_commands() { return registry(); }

Args parse_args(const CommandSpec& spec, const std::vector<std::string>& argv) {
  Args args;
  bool options_done = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (options_done || a.size() < 2 || a[0] != '-' || a == "-") {
      args.add_positional(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "-h") {
      args.add_value("help", "");
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      throw UsageError(fmt::format("lathe {}: unknown flag '{}'; flags are spelled --name (see "
                                   "'lathe {} --help')",
                                   spec.name, a, spec.name));
    }
    std::string name = a.substr(2);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const Option* opt = find_option(spec, name);
    if (!opt) {
      std::string hint = closest(name, option_names(spec));
      throw UsageError(fmt::format("lathe {}: unknown flag '--{}'{}; see 'lathe {} --help'",
                                   spec.name, name,
                                   hint.empty() ? "" : fmt::format(" (did you mean --{}?)", hint),
                                   spec.name));
    }
    if (opt->value_name.empty()) {
      if (inline_value)
        throw UsageError(fmt::format("lathe {}: --{} takes no value", spec.name, name));
      args.add_value(name, "");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argv.size())
        throw UsageError(fmt::format("lathe {}: --{} needs a value ({})", spec.name, name,
                                     opt->value_name));
      inline_value = argv[++i];
    }
    if (!opt->repeatable && args.has(name))
      throw UsageError(fmt::format("lathe {}: --{} given twice", spec.name, name));
    args.add_value(name, *inline_value);
  }
  if (args.has("help")) return args;
  const auto n = args.positionals().size();
  if (n < spec.min_positionals)
    throw UsageError(fmt::format("lathe {}: missing argument; usage: lathe {} {}", spec.name,
                                 spec.name, spec.usage));
  if (n > spec.max_positionals)
    throw UsageError(fmt::format("lathe {}: unexpected argument '{}'; usage: lathe {} {}",
                                 spec.name, args.positional(spec.max_positionals), spec.name,
                                 spec.usage));
  return args;
}

std::string help_text(const CommandSpec& spec) {
  std::string out = fmt::format("Usage: lathe {} {}\n\n{}\n", spec.name, spec.usage, spec.summary);
  if (!spec.details.empty()) out += "\n" + spec.details + "\n";
  out += "\nOptions:\n";
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto& o : spec.options) {
    std::string left = "--" + o.name + (o.value_name.empty() ? "" : " " + o.value_name);
    rows.emplace_back(left, o.help + (o.repeatable ? " (repeatable)" : ""));
  }
  rows.emplace_back("-h, --help", kHelpOption.help);
  std::size_t width = 0;
  for (auto& r : rows) width = std::max(width, r.first.size());
  for (auto& r : rows) out += fmt::format("  {:<{}}  {}\n", r.first, width, r.second);
  return out;
}

int run_main(int argc, char** argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  try {
    if (words.empty()) {
      for (const auto& c : registry())
        if (c.name == "tui") return c.run(Args{});
      std::cout << main_help();
      return kExitOk;
    }
    if (words[0] == "--help" || words[0] == "-h" || words[0] == "help") {
      std::cout << main_help();
      return kExitOk;
    }
    if (words[0] == "--version") {
      std::cout << "lathe " << LATHE_VERSION_STRING << "\n";
      return kExitOk;
    }
    // Longest registered name that matches the leading words ("tags add" before "tags").
    const CommandSpec* spec = nullptr;
    std::size_t used = 0;
    for (const auto& c : registry()) {
      std::size_t n = static_cast<std::size_t>(std::count(c.name.begin(), c.name.end(), ' ')) + 1;
      if (n > words.size() || n <= used) continue;
      std::string joined = words[0];
      for (std::size_t i = 1; i < n; ++i) joined += " " + words[i];
      if (joined == c.name) spec = &c, used = n;
    }
    if (!spec) {
      if (group_exists(words[0])) {
        bool asked_help = words.size() == 1 || words[1] == "--help" || words[1] == "-h";
        std::string msg = fmt::format("Usage: lathe {} <subcommand> [options]\n\nSubcommands:\n{}",
                                      words[0], command_list(words[0]));
        if (asked_help) {
          std::cout << msg;
          return words.size() == 1 ? kExitUsage : kExitOk;
        }
        std::cerr << fmt::format("lathe {}: unknown subcommand '{}'\n\n{}", words[0], words[1],
                                 msg);
        return kExitUsage;
      }
      std::vector<std::string> names;
      for (const auto& c : registry()) names.push_back(c.name);
      std::string hint = closest(words[0], names);
      std::cerr << fmt::format("lathe: unknown command '{}'{}; run 'lathe --help' for the list\n",
                               words[0], hint.empty() ? "" : " (did you mean '" + hint + "'?)");
      return kExitUsage;
    }
    Args args = parse_args(*spec, {words.begin() + static_cast<long>(used), words.end()});
    if (args.has("help")) {
      std::cout << help_text(*spec);
      return kExitOk;
    }
    return spec->run(args);
  } catch (const UsageError& e) {  // messages quote paths, keys and values from files
    std::cerr << terminal_safe_lines(e.what()) << "\n";
    return kExitUsage;
  } catch (const Error& e) {
    std::cerr << "error: " << terminal_safe_lines(e.what()) << "\n";
    return kExitInputErrors;
  } catch (const std::exception& e) {
    std::cerr << "error: " << terminal_safe_lines(e.what()) << "\n";
    return kExitInputErrors;
  }
}

}  // namespace lathe::cli
