// `lathe lora inspect FILE`: what a kohya-format LoRA file holds: the network type of its modules
// (LoRA, LoCon, LyCORIS LoHa / LoKr, DoRA), module counts per part, ranks,
// alphas (and so scales), linear vs conv (LoCon) modules, dtypes, keys that are not LoRA keys,
// and its metadata with ss_* values pretty-printed (ss_tag_frequency summarised). --json gives
// the same for scripts; --keys lists every module.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>

#include "cli/command.h"
#include "common/error.h"
#include "common/terminal_text.h"
#include "io/safetensors.h"
#include "lora/lora_block_norms.h"
#include "lora/lora_file_info.h"
#include "models/checkpoint.h"

namespace lathe::cli {
namespace {

std::string alpha_text(const LoRAModuleInfo& m) {
  return m.alpha ? fmt::format("{:g}", *m.alpha) : fmt::format("none (= rank {})", m.rank);
}

// "rank 4 x 192, rank 8 x 10"
template <typename F>
std::string histogram(const std::vector<LoRAModuleInfo>& mods, F key) {
  std::map<std::string, std::size_t> counts;
  for (const auto& m : mods) counts[key(m)]++;
  std::string out;
  for (const auto& [k, n] : counts) out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", k, n);
  return out;
}

std::string tag_frequency_summary(const std::string& value) {
  auto j = nlohmann::json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return "(not JSON: " + value.substr(0, 60) + ")";
  std::map<std::string, long long> total;
  for (const auto& [folder, tags] : j.items())
    if (tags.is_object())
      for (const auto& [tag, n] : tags.items()) total[tag] += n.is_number() ? n.get<long long>() : 0;
  std::vector<std::pair<std::string, long long>> top(total.begin(), total.end());
  std::sort(top.begin(), top.end(), [](auto& a, auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  std::string out = fmt::format("{} folder{}, {} tags", j.size(), j.size() == 1 ? "" : "s", total.size());
  for (std::size_t i = 0; i < top.size() && i < 8; ++i)
    out += fmt::format("{}{} {}", i == 0 ? "; top: " : ", ", top[i].first, top[i].second);
  return out;
}

std::string pretty_value(const std::string& key, const std::string& value) {
  if (key == "ss_tag_frequency") return tag_frequency_summary(value);
  if (!value.empty() && (value[0] == '{' || value[0] == '[')) {
    auto j = nlohmann::json::parse(value, nullptr, false);
    if (!j.is_discarded()) return j.dump();
  }
  return value.size() > 200 ? value.substr(0, 200) + fmt::format("... ({} chars)", value.size()) : value;
}

nlohmann::json to_json(const std::string& path, const LoRAFileInfo& info) {
  nlohmann::json j;
  j["file"] = path;
  j["module_count"] = info.modules.size();
  j["parts"] = info.parts;
  j["dtypes"] = info.dtypes;
  j["other_keys"] = info.other_keys;
  nlohmann::json mods = nlohmann::json::array();
  for (const auto& m : info.modules) {
    nlohmann::json e = {{"name", m.name}, {"part", m.part}, {"rank", m.rank},
                        {"type", m.conv ? "conv" : "linear"}, {"kernel", m.kernel},
                        {"down_shape", m.down_shape}, {"up_shape", m.up_shape}, {"algo", m.algo},
                        {"dora", m.dora}, {"network_type", network_type_label(m)}, {"shapes", m.shapes}};
    e["alpha"] = m.alpha ? nlohmann::json(*m.alpha) : nlohmann::json(nullptr);
    mods.push_back(e);
  }
  j["modules"] = mods;
  j["metadata"] = info.metadata;
  return j;
}

// Metadata, key names and the path come from the file: every one is shown with its control
// bytes escaped (terminal_safe), so a LoRA cannot clear the screen or fake output lines.
// "(sshs_model_hash matches)": whether the hash written at saving still describes the tensors.
std::string hash_note(const LoRAFileInfo& info, const std::string& tensor_sha256) {
  auto it = info.metadata.find("sshs_model_hash");
  if (it == info.metadata.end()) return "no sshs_model_hash";
  return it->second == tensor_sha256 ? "sshs_model_hash matches" : "sshs_model_hash differs: the tensors changed";
}

void print_text(const std::string& path, const LoRAFileInfo& info, bool keys, const std::string& tensor_sha256) {
  std::cout << fmt::format("{}\n", terminal_safe(path));
  std::string parts;
  for (const auto& [p, n] : info.parts) parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", p, n);
  std::cout << fmt::format("  modules   {} ({})\n", info.modules.size(), parts);
  std::cout << fmt::format("  network   {}\n", histogram(info.modules, network_type_label));
  std::cout << fmt::format("  types     {}\n", histogram(info.modules, [](const LoRAModuleInfo& m) {
                             if (m.conv) return fmt::format("conv {}x{}", m.kernel, m.kernel);
                             // LoHa / LoKr factors keep a conv's kernel flattened: the keys cannot tell.
                             return std::string(m.algo == "lora" ? "linear" : "2-D factors (linear or flattened conv)");
                           }));
  std::cout << fmt::format("  ranks     {}\n", histogram(info.modules, [](const LoRAModuleInfo& m) { return std::to_string(m.rank); }));
  std::cout << fmt::format("  alphas    {}\n", histogram(info.modules, alpha_text));
  std::string dtypes;
  for (const auto& [d, n] : info.dtypes) dtypes += fmt::format("{}{} ({} tensors)", dtypes.empty() ? "" : ", ", d, n);
  std::cout << fmt::format("  dtypes    {}\n", dtypes);
  std::cout << fmt::format("  sha256    {} (A1111's hash; {})\n", tensor_sha256, hash_note(info, tensor_sha256));
  if (!info.other_keys.empty())
    std::cout << fmt::format("  other keys {}: {}\n", info.other_keys.size(),
                             terminal_safe(list_some(info.other_keys)));
  std::cout << fmt::format("metadata ({} keys)\n", info.metadata.size());
  std::vector<std::pair<std::string, std::string>> shown;
  for (const auto& [k, v] : info.metadata) shown.emplace_back(terminal_safe(k), terminal_safe(pretty_value(k, v)));
  std::size_t width = 0;
  for (const auto& kv : shown) width = std::max(width, kv.first.size());
  for (const auto& [k, v] : shown) std::cout << fmt::format("  {:<{}}  {}\n", k, width, v);
  if (keys) {
    std::cout << "modules\n";
    for (const auto& m : info.modules) {
      if (m.algo == "lora" && !m.dora) {
        std::cout << fmt::format("  {}  rank {}  alpha {}  {}  down [{}]\n", terminal_safe(m.name), m.rank, alpha_text(m),
                                 m.conv ? fmt::format("conv{}x{}", m.kernel, m.kernel) : "linear",
                                 fmt::join(m.down_shape, ", "));
        continue;
      }
      std::string tensors;  // LoHa / LoKr / DoRA: every tensor's shape ("lokr_w1 [4, 4], ...")
      for (const auto& [suffix, shape] : m.shapes)
        if (suffix != "alpha") tensors += fmt::format("{}{} [{}]", tensors.empty() ? "" : ", ", suffix, fmt::join(shape, ", "));
      std::cout << fmt::format("  {}  {}  rank {}  alpha {}  {}\n", terminal_safe(m.name), network_type_label(m), m.rank,
                               alpha_text(m), tensors);
    }
  }
}

// Which blocks learned most: the summed delta norm per UNet block (lora/lora_block_norms.h),
// blocks with modules only, with each block's share of the UNet total and a bar.
void print_block_norms(const LoRABlockNorms& n) {
  double total = 0, top = 0;
  for (const auto& b : n.blocks) {
    total += b.norm;
    top = std::max(top, b.norm);
  }
  std::cout << fmt::format("blocks (UNet, {} numbering): ||delta|| (alpha's scale included) summed per block\n",
                           n.family == ModelFamily::SDXL ? "SDXL" : "SD 1.x / 2.x");
  std::cout << fmt::format("  {:<6} {:>7} {:>11} {:>7}\n", "block", "modules", "norm", "share");
  for (const auto& b : n.blocks) {
    if (b.modules == 0) continue;
    const int bar = top > 0 ? static_cast<int>(std::lround(24 * b.norm / top)) : 0;
    std::cout << fmt::format("  {:<6} {:>7} {:>11.5g} {:>6.1f}%  {}\n", b.label, b.modules, b.norm,
                             total > 0 ? 100 * b.norm / total : 0.0, std::string(static_cast<std::size_t>(bar), '#'));
  }
  if (n.text_encoder_modules > 0)
    std::cout << fmt::format("  text encoders: {} modules, norm {:.5g}\n", n.text_encoder_modules, n.text_encoder_norm);
  if (n.unnumbered_modules > 0)
    std::cout << fmt::format("  UNet modules outside kohya's blocks: {}, norm {:.5g}\n", n.unnumbered_modules, n.unnumbered_norm);
  if (n.skipped_modules > 0)
    std::cout << fmt::format("  {} Tucker (CP) modules not counted (Lathe does not compute their delta)\n", n.skipped_modules);
}

nlohmann::json block_norms_json(const LoRABlockNorms& n) {
  nlohmann::json blocks = nlohmann::json::array();
  for (const auto& b : n.blocks)
    blocks.push_back({{"index", b.index}, {"label", b.label}, {"modules", b.modules}, {"norm", b.norm}});
  return {{"family", family_id(n.family)}, {"unet", blocks},
          {"text_encoders", {{"modules", n.text_encoder_modules}, {"norm", n.text_encoder_norm}}},
          {"skipped_modules", n.skipped_modules}};
}

CommandSpec lora_inspect_spec() {
  CommandSpec s;
  s.name = "lora inspect";
  s.summary = "what a kohya-format LoRA file holds: modules, ranks, alphas, metadata";
  s.usage = "FILE [--json] [--keys]";
  s.details = "Reads the safetensors header, and the tensor bytes once for their SHA-256 (the hash A1111\n"
              "gives the file, checked against sshs_model_hash). Parts: unet (lora_unet_*), te (lora_te_*,\n"
              "SD 1.x/2.x), te1/te2 (SDXL's two text encoders). ss_tag_frequency is summarised; --json has\n"
              "it whole. The blocks table sums each module's delta norm per UNet block (kohya's numbering:\n"
              "IN00-IN11, MID, OUT00-OUT11; SDXL BASE, IN00-IN08, MID00-MID02, OUT00-OUT08, OUT): which blocks\n"
              "learned most.";
  s.options = {{"json", "", "print JSON"}, {"keys", "", "list every module with rank, alpha and shape"}};
  s.min_positionals = 1;
  s.max_positionals = 1;
  s.run = [](const Args& args) {
    const std::string path = args.positional(0);
    SafetensorsFile file(path);
    auto info = read_lora_file_info(file);
    const std::string tensor_sha256 = lora_tensor_sha256(file);
    const LoRABlockNorms norms = lora_block_norms(file);
    if (args.has("json")) {
      nlohmann::json j = to_json(path, info);
      j["tensor_sha256"] = tensor_sha256;
      j["block_norms"] = block_norms_json(norms);
      // Metadata that is not UTF-8 must not abort the output: replaced in the JSON text.
      std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
      print_text(path, info, args.has("keys"), tensor_sha256);
      print_block_norms(norms);
    }
    return kExitOk;
  };
  return s;
}

}  // namespace

LATHE_REGISTER_COMMAND(lora_inspect_spec)

}  // namespace lathe::cli
