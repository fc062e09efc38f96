// `lathe runs compare RUN1 RUN2 ...`: runs side by side: state, the best epoch and its loss,
// loss curves as sparklines drawn on one shared scale (so heights compare across runs), and
// the profile keys whose values differ between the frozen profiles.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/runs_common.h"
#include "common/display_width.h"
#include "common/error.h"
#include "common/terminal_text.h"
#include "io/atomic_file.h"
#include "runs/sparkline.h"
#include "train/config/train_config.h"

namespace lathe::cli {
namespace {

constexpr int kCurveWidth = 40;

std::map<std::string, std::string> profile_values(const RunPaths& run) {
  std::map<std::string, std::string> out;
  TrainConfig c = parse_train_config(read_file(run.profile(), 16u << 20), run.profile());
  for (const ConfigEntry& e : config_entries(c)) out[e.section + "." + e.key] = e.toml;
  out.erase("output.dir");  // where runs go is not a difference in training
  return out;
}

// Keys whose value is not the same in every run (a key missing in one counts as different).
std::vector<std::string> differing_keys(const std::vector<std::map<std::string, std::string>>& p) {
  std::map<std::string, bool> keys;
  for (const auto& m : p)
    for (const auto& [k, v] : m) keys[k] = true;
  std::vector<std::string> out;
  for (const auto& [k, unused] : keys) {
    auto value = [&](const std::map<std::string, std::string>& m) {
      auto it = m.find(k);
      return it == m.end() ? std::string("(unset)") : it->second;
    };
    bool same =
        std::all_of(p.begin(), p.end(), [&](const auto& m) { return value(m) == value(p[0]); });
    if (!same) out.push_back(k);
  }
  return out;
}

int run_runs_compare(const Args& args) {
  std::vector<RunView> views;
  for (const std::string& q : args.positionals())
    views.push_back(load_run_view(find_run(runs_root(args), q)));
  std::vector<std::map<std::string, std::string>> profiles;
  for (const RunView& v : views) {
    try {
      profiles.push_back(profile_values(v.paths));
    } catch (const Error& e) {
      throw Error(
          fmt::format("run {}: cannot read its profile.toml: {}", v.paths.run_id(), e.what()));
    }
  }
  std::vector<std::string> keys = differing_keys(profiles);

  // One step axis for all: a run half as long as the longest draws half as wide.
  std::int64_t longest = 1;
  for (const RunView& v : views)
    if (!v.metrics.steps.empty()) longest = std::max(longest, v.metrics.steps.back().step);
  auto width_of = [&](const RunView& v) {
    if (v.metrics.steps.empty()) return 0;
    double share = static_cast<double>(v.metrics.steps.back().step) / static_cast<double>(longest);
    return std::max(1, static_cast<int>(std::lround(kCurveWidth * share)));
  };
  double lo = INFINITY, hi = -INFINITY;
  for (const RunView& v : views)
    for (double x : resample_mean(loss_curve(v.metrics), width_of(v)))
      if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
  const SparkGlyphs glyphs = sparkline_glyphs_for_locale();

  if (args.has("json")) {
    nlohmann::json j = {{"runs", nlohmann::json::array()},
                        {"differing_keys", nlohmann::json::array()}};
    for (std::size_t i = 0; i < views.size(); ++i)
      j["runs"].push_back(
          nlohmann::json::parse(best_report_json(views[i], rank_epochs(views[i].metrics), 1)));
    for (const auto& k : keys) {
      nlohmann::json row = {{"key", k}, {"values", nlohmann::json::array()}};
      for (const auto& p : profiles) row["values"].push_back(p.count(k) ? p.at(k) : "");
      j["differing_keys"].push_back(row);
    }
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }

  std::cout << fmt::format("{:<32} {:<11} {:>6}  {:<24}  {}\n", "RUN", "STATE", "EPOCHS",
                           "BEST EPOCH (LOSS)", "LOSS CURVE (shared scale)");
  for (const RunView& v : views) {
    BestEpochReport r = rank_epochs(v.metrics);
    std::string best = r.ranked.empty()
                           ? "-"
                           : fmt::format("{} ({:.5f} {})", r.ranked[0].epoch, r.ranked[0].score,
                                         r.basis == "validation loss" ? "val" : "train");
    std::optional<std::pair<double, double>> range;
    if (lo <= hi) range = std::make_pair(lo, hi);
    // Cut and padded in terminal cells: a long or CJK run id keeps the columns aligned.
    std::cout << fmt::format("{} {:<11} {:>6}  {:<24}  {}\n",
                             pad_to_width(terminal_safe(v.paths.run_id()), 32,
                                          glyphs == SparkGlyphs::Unicode ? "\u2026" : "~"),
                             run_state_name(v.state), r.by_epoch.size(), best,
                             render_sparkline(loss_curve(v.metrics), width_of(v), glyphs, range));
  }
  if (lo <= hi)
    std::cout << fmt::format("curves: smoothed training loss, {:.4f} (low) to {:.4f} (high)\n", lo,
                             hi);
  if (keys.empty()) {
    std::cout << "profiles: no key differs\n";
    return kExitOk;
  }
  std::cout << fmt::format("profile keys that differ ({}):\n", keys.size());
  std::size_t key_width = 10;
  for (const auto& k : keys) key_width = std::max(key_width, k.size());
  for (const auto& k : keys) {
    std::string row = fmt::format("  {:<{}}", k, key_width);
    for (const auto& p : profiles) row += fmt::format("  {:<18}", p.count(k) ? p.at(k) : "(unset)");
    std::cout << row.substr(0, row.find_last_not_of(' ') + 1) << "\n";
  }
  return kExitOk;
}

CommandSpec runs_compare_command() {
  CommandSpec spec;
  spec.name = "runs compare";
  spec.summary = "Runs side by side: loss curves, best epochs, profile keys that differ";
  spec.usage = "RUN1 RUN2 ... [--json] [--runs-dir DIR]";
  spec.details =
      "The sparklines share one scale (a lower curve is a lower loss) and one step axis (a\n"
      "shorter run draws a shorter curve). The profile keys\n"
      "come from each run's frozen profile.toml (output.dir is left out).";
  spec.options = {json_option(), runs_dir_option()};
  spec.min_positionals = 2;
  spec.run = run_runs_compare;
  return spec;
}

}  // namespace

LATHE_REGISTER_COMMAND(runs_compare_command)

}  // namespace lathe::cli
