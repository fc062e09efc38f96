// `lathe runs show RUN`: one run in full: state (with a resume hint when it was stopped, failed
// or interrupted), progress, times, last error, a profile summary from the frozen profile.toml,
// the LoRA files saved so far and the best epochs.
#include <fmt/format.h>

#include <algorithm>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/runs_common.h"
#include "common/error.h"
#include "common/terminal_text.h"
#include "io/atomic_file.h"
#include "runs/run_log.h"
#include "runs/sparkline.h"
#include "train/loop/checkpoint_state.h"
#include "train/config/train_config.h"

namespace fs = std::filesystem;

namespace lathe::cli {
namespace {

// The keys a user looks at first; the whole profile is in profile.toml.
const char* const kSummaryKeys[] = {
    "model.path",      "dataset.path",        "network.type",        "network.rank",
    "network.alpha",   "optimizer.type",      "optimizer.lr",        "schedule.type",
    "training.epochs", "training.batch_size", "training.resolution", "training.seed",
    "training.device", "validation.split",    "saving.name",         "saving.every_n_epochs"};

std::vector<std::pair<std::string, std::string>> profile_summary(const RunPaths& run) {
  std::vector<std::pair<std::string, std::string>> out;
  TrainConfig c = parse_train_config(read_file(run.profile(), 16u << 20), run.profile());
  for (const ConfigEntry& e : config_entries(c)) {
    std::string key = e.section + "." + e.key;
    for (const char* wanted : kSummaryKeys)
      if (key == wanted && !e.toml.empty()) out.emplace_back(key, e.toml);
  }
  return out;
}

std::vector<std::pair<std::string, std::uintmax_t>> saved_files(const RunPaths& run) {
  std::vector<std::pair<std::string, std::uintmax_t>> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run.epochs(), ec))
    if (e.path().extension() == ".safetensors")
      out.emplace_back(fs::relative(e.path(), run.dir).generic_string(), e.file_size(ec));
  std::sort(out.begin(), out.end());
  return out;
}

std::string state_line(const RunView& v) {
  const RunStatus& s = v.status;
  std::string line = run_state_name(v.state);
  if (v.state == RunState::Running || v.state == RunState::Paused || v.state == RunState::Stopping)
    line += fmt::format(" (pid {} on {})", s.pid, terminal_safe(s.hostname));
  if (v.state != s.state) line += fmt::format(" (status.json says {})", run_state_name(s.state));
  return line;
}

// The checkpoint a resume goes on from, as found on disk (status.json names the last one
// written, which may since have been damaged), and every newer one that cannot be loaded.
void print_checkpoints(const RunView& v) {
  const ResumePoint point = find_resume_point(v.paths.dir);
  for (const auto& [dir, why] : point.damaged)
    std::cout << fmt::format("  damaged     checkpoints/{}: {}\n",
                             terminal_safe(dir.filename().string()), terminal_safe(why));
  if (point.checkpoint)
    std::cout << fmt::format("  checkpoint  checkpoints/{} (step {}){}\n",
                             terminal_safe(point.checkpoint->filename().string()), point.step,
                             point.damaged.empty() ? "" : ", the newest that loads");
  else if (!point.damaged.empty())
    std::cout << "  checkpoint  none that loads\n";
}

int show_json(const RunView& v) {
  nlohmann::json j = nlohmann::json::parse(run_status_to_json(v.status));
  j["effective_state"] = run_state_name(v.state);
  j["dir"] = v.paths.dir.string();
  nlohmann::json files = nlohmann::json::array();
  for (const auto& [f, size] : saved_files(v.paths))
    files.push_back({{"file", f}, {"bytes", size}});
  j["saved_files"] = files;
  const ResumePoint point = find_resume_point(v.paths.dir);
  j["resume_checkpoint"] = point.checkpoint
                               ? nlohmann::json("checkpoints/" + point.checkpoint->filename().string())
                               : nlohmann::json(nullptr);
  nlohmann::json damaged = nlohmann::json::array();
  for (const auto& [dir, why] : point.damaged)
    damaged.push_back({{"checkpoint", "checkpoints/" + dir.filename().string()}, {"error", why}});
  j["damaged_checkpoints"] = damaged;
  j["best"] = nlohmann::json::parse(best_report_json(v, rank_epochs(v.metrics), 0));
  std::cout << j.dump(2) << "\n";
  return kExitOk;
}

int run_runs_show(const Args& args) {
  const RunPaths run = run_from_args(args);
  move_stalled_queue(run.dir.parent_path(), args.has("json") ? std::cerr : std::cout);
  RunView v = load_run_view(run);
  if (args.has("json")) return show_json(v);
  const RunStatus& s = v.status;
  std::cout << fmt::format("run {}\n", terminal_safe(v.paths.run_id()));
  std::cout << fmt::format("  folder      {}\n", terminal_safe(v.paths.dir.string()));
  std::cout << fmt::format("  state       {}\n", state_line(v));
  if (std::string hint = resume_hint(v); !hint.empty())
    std::cout << fmt::format("              {}\n", terminal_safe(hint));
  std::cout << fmt::format("  progress    step {}/{}, epoch {}/{}{}\n", s.step, s.total_steps,
                           s.epoch, s.total_epochs,
                           s.step > 0 ? fmt::format(", last loss {:.5f}", s.last_loss) : "");
  if (!s.device.empty() || s.peak_gpu_mib > 0)
    std::cout << fmt::format("  device      {}{}\n", s.device.empty() ? "?" : terminal_safe(s.device),
                             s.peak_gpu_mib > 0 ? fmt::format(", peak GPU memory {:.2f} GiB (last step {:.2f} GiB)",
                                                              s.peak_gpu_mib / 1024, s.last_peak_gpu_mib / 1024)
                                                : "");
  if (s.started_at > 0) {
    double end = s.finished_at > 0 ? s.finished_at : s.updated_at;
    // Sampling ([sample]) is counted apart: training time is the wall time less it.
    const double sampling = std::min(s.sampling_seconds, end - s.started_at);
    std::cout << fmt::format("  started     {} UTC ({} ago: {} of training{})\n",
                             format_utc(s.started_at), format_duration(unix_now() - s.started_at),
                             format_duration(end - s.started_at - sampling),
                             sampling > 0 ? fmt::format(", {} of sampling", format_duration(sampling)) : "");
  }
  if (s.finished_at > 0)
    std::cout << fmt::format("  finished    {} UTC\n", format_utc(s.finished_at));
  if (!s.last_error.empty())
    std::cout << fmt::format("  last error  {}\n", terminal_safe(s.last_error));
  print_checkpoints(v);
  std::vector<double> curve = loss_curve(v.metrics);
  if (!curve.empty())
    std::cout << fmt::format("  loss curve  {}\n",
                             render_sparkline(curve, 48, sparkline_glyphs_for_locale()));

  std::cout << "profile (profile.toml)\n";
  try {
    for (const auto& [key, value] : profile_summary(v.paths))
      std::cout << fmt::format("  {:<22}{}\n", key, value);
  } catch (const Error& e) {
    std::cout << fmt::format("  cannot read it: {}\n", e.what());
  }
  auto files = saved_files(v.paths);
  std::cout << fmt::format("saved LoRA files ({})\n", files.size());
  for (const auto& [f, size] : files)
    std::cout << fmt::format("  {}  ({:.1f} KiB)\n", f, static_cast<double>(size) / 1024.0);
  const BestEpochReport best = rank_epochs(v.metrics);
  // A run that ended (max_steps) or was saved inside its first epoch has files but no epoch
  // to rank: say that, not "no epoch has been saved yet" under a list of saved files.
  if (best.ranked.empty() && !files.empty())
    std::cout << "best epochs\n  none ranked: no epoch has ended, so the files above were saved within an "
                 "epoch\n";
  else
    std::cout << "best epochs\n" << best_report_text(v, best, 3);
  return kExitOk;
}

CommandSpec runs_show_command() {
  CommandSpec spec;
  spec.name = "runs show";
  spec.summary = "A run's status, profile summary, saved epochs and best epochs";
  spec.usage = "RUN [--runs-dir DIR] [--json]";
  spec.details = "RUN is a run id, a unique prefix or suffix of one, or a run folder.";
  spec.options = {runs_dir_option(), json_option()};
  spec.min_positionals = 1;
  spec.max_positionals = 1;
  spec.run = run_runs_show;
  return spec;
}

}  // namespace

LATHE_REGISTER_COMMAND(runs_show_command)

}  // namespace lathe::cli
