// `lathe lora resize FILE --rank R [--out FILE]`: cuts a kohya-format LoRA / LoCon to a lower
// rank by SVD of each module's delta (lora/lora_resize.h, kohya's resize_lora semantics), fixed
// or dynamic (--dynamic ratio|frobenius|cumulative --param X), and reports how much of each
// module's delta was kept.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>

#include "cli/command.h"
#include "common/error.h"
#include "common/terminal_text.h"
#include "lora/lora_resize.h"

namespace lathe::cli {
namespace {
namespace fs = std::filesystem;

ResizeMode parse_mode(const std::string& text) {
  for (ResizeMode m : {ResizeMode::Ratio, ResizeMode::Frobenius, ResizeMode::Cumulative})
    if (text == resize_mode_name(m) || text == resize_mode_kohya_name(m)) return m;
  throw UsageError(fmt::format("lora resize: --dynamic \"{}\" is not ratio, frobenius or cumulative", text));
}

torch::Dtype parse_precision(const std::string& text) {
  if (text == "fp32" || text == "float") return torch::kFloat32;
  if (text == "fp16") return torch::kFloat16;
  if (text == "bf16") return torch::kBFloat16;
  throw UsageError(fmt::format("lora resize: --precision \"{}\" is not fp32, fp16 or bf16", text));
}

// "name-r8.safetensors" beside the input (dynamic: "name-frobenius0.9.safetensors").
fs::path default_out(const fs::path& in, const LoRAResizeOptions& o) {
  const std::string tag = o.mode == ResizeMode::Fixed ? fmt::format("r{}", o.rank)
                                                      : fmt::format("{}{:g}", resize_mode_name(o.mode), o.param);
  return in.parent_path() / (in.stem().string() + "-" + tag + in.extension().string());
}

nlohmann::json to_json(const fs::path& in, const fs::path& out, const LoRAResizeReport& r) {
  nlohmann::json mods = nlohmann::json::array();
  for (const auto& m : r.modules)
    mods.push_back({{"name", m.name}, {"type", m.conv ? "conv" : "linear"}, {"old_rank", m.old_rank},
                    {"new_rank", m.new_rank}, {"old_alpha", m.old_alpha}, {"new_alpha", m.new_alpha},
                    {"fro_retained", m.fro_retained}, {"sum_retained", m.sum_retained},
                    {"relative_error", m.relative_error}, {"max_ratio", m.max_ratio}});
  return {{"file", in.string()}, {"out", out.string()}, {"max_old_rank", r.max_old_rank},
          {"copied_keys", r.copied_keys}, {"modules", mods}};
}

void print_module(const ModuleResize& m) {
  std::cout << fmt::format("  {:<6} {:>4} -> {:<4} alpha {:>8g} -> {:<8g} kept {:6.2f} %  error {:6.2f} %  {}\n",
                           m.conv ? "conv" : "linear", m.old_rank, m.new_rank, m.old_alpha, m.new_alpha,
                           100 * m.fro_retained, 100 * m.relative_error, terminal_safe(m.name));
}

void print_text(const fs::path& out, const LoRAResizeReport& r, bool all) {
  double mean = 0, worst = 1, mean_err = 0;
  std::map<std::int64_t, std::size_t> ranks;
  for (const auto& m : r.modules) {
    mean += m.fro_retained;
    mean_err += m.relative_error;
    worst = std::min(worst, m.fro_retained);
    ranks[m.new_rank]++;
  }
  const double n = static_cast<double>(std::max<std::size_t>(1, r.modules.size()));
  std::string rank_text;
  for (const auto& [rank, count] : ranks) rank_text += fmt::format("{}{} ({})", rank_text.empty() ? "" : ", ", rank, count);
  std::cout << fmt::format("resized {} modules from rank {} -> {}\n", r.modules.size(), r.max_old_rank,
                           terminal_safe(out.string()));
  std::cout << fmt::format("  new ranks   {}\n", rank_text);
  std::cout << fmt::format("  Frobenius norm kept: mean {:.2f} %, lowest {:.2f} %; relative error mean {:.2f} %\n",
                           100 * mean / n, 100 * worst, 100 * mean_err / n);
  if (r.copied_keys > 0) std::cout << fmt::format("  {} other tensors copied unchanged\n", r.copied_keys);
  std::vector<ModuleResize> shown = r.modules;
  if (!all) {
    std::sort(shown.begin(), shown.end(), [](const auto& a, const auto& b) { return a.fro_retained < b.fro_retained; });
    if (shown.size() > 5) shown.resize(5);
    std::cout << "modules that lost most (--verbose lists all)\n";
  } else {
    std::cout << "modules\n";
  }
  for (const auto& m : shown) print_module(m);
}

CommandSpec lora_resize_spec() {
  CommandSpec s;
  s.name = "lora resize";
  s.summary = "cut a LoRA / LoCon file to a lower rank by SVD (kohya's resize_lora)";
  s.usage = "FILE --rank R [--out FILE] [--conv-rank R] [--dynamic ratio|frobenius|cumulative --param X]";
  s.details =
      "Each module's delta up @ down is factored by SVD and cut: to --rank (fixed), or in a dynamic mode to\n"
      "the smallest rank whose singular values pass the test, at most --rank: ratio keeps those above the\n"
      "largest / X (X >= 1), frobenius keeps share X of the Frobenius norm, cumulative share X of the sum\n"
      "of singular values (0 < X <= 1). alpha becomes scale x new rank, so what is kept is unchanged. A\n"
      "module never grows above its own rank. --conv-rank applies to conv modules (4-D, as kohya's\n"
      "new_conv_rank; default --rank). The report gives the Frobenius share kept and the relative error\n"
      "||delta - resized|| / ||delta|| per module. Metadata: ss_network_dim / ss_network_alpha (or\n"
      "\"Dynamic\"), a note in ss_training_comment and lathe_resize, new sshs_* hashes. Written atomically;\n"
      "--out defaults to FILE-r<R>.safetensors beside FILE.";
  s.options = {{"rank", "R", "the new rank, or the highest rank in a dynamic mode (required)"},
               {"out", "FILE", "where to write (default FILE-r<R>.safetensors)"},
               {"conv-rank", "R", "rank of conv modules (default --rank)"},
               {"dynamic", "MODE", "ratio, frobenius or cumulative (kohya's sv_ratio, sv_fro, sv_cumulative)"},
               {"param", "X", "the dynamic mode's threshold"},
               {"precision", "P", "fp32, fp16 or bf16 (default: the file's)"},
               {"verbose", "", "list every module"},
               {"json", "", "print JSON"}};
  s.min_positionals = 1;
  s.max_positionals = 1;
  s.run = [](const Args& args) {
    if (!args.has("rank")) throw UsageError("lora resize: --rank R is required");
    LoRAResizeOptions o;
    o.rank = args.int_or("rank", 0);
    if (args.has("conv-rank")) o.conv_rank = args.int_or("conv-rank", 0);
    if (auto mode = args.value("dynamic")) {
      o.mode = parse_mode(*mode);
      if (!args.has("param")) throw UsageError(fmt::format("lora resize: --dynamic {} needs --param X", *mode));
      o.param = args.double_or("param", 0);
    } else if (args.has("param")) {
      throw UsageError("lora resize: --param applies with --dynamic only");
    }
    if (auto p = args.value("precision")) o.dtype = parse_precision(*p);
    try {
      check_resize_options(o);
    } catch (const Error& e) {
      throw UsageError(std::string("lora resize: ") + e.what());
    }
    const fs::path in = args.positional(0);
    const fs::path out = args.value("out") ? fs::path(*args.value("out")) : default_out(in, o);
    const LoRAResizeReport r = resize_lora_file(in, out, o);
    if (args.has("json"))
      std::cout << to_json(in, out, r).dump(2) << "\n";
    else
      print_text(out, r, args.has("verbose"));
    return kExitOk;
  };
  return s;
}

}  // namespace

LATHE_REGISTER_COMMAND(lora_resize_spec)

}  // namespace lathe::cli
