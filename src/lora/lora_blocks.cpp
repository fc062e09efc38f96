// kohya's UNet block numbering and the per-block plan (see lora_blocks.h). The numbers follow
// sd-scripts networks/lora.py (get_block_index, get_block_lr_weight, get_block_dims_and_alphas,
// remove_block_dims_and_alphas); where kohya pads, truncates or silently zeroes, Lathe refuses
// with a message naming the key, so a profile means what it says.
#include "lora/lora_blocks.h"

#include <cmath>
#include <cstdlib>
#include <regex>

#include <fmt/format.h>

#include "common/error.h"

namespace lathe {
namespace {

constexpr const char* kPresets = "sine, cosine, linear, reverse_linear, zeros";

bool xl(ModelFamily f) { return f == ModelFamily::SDXL; }

// The number after `prefix` at the start of `name` ("input_blocks_4_1_..." -> 4), or -1.
int leading_number(const std::string& name, const std::string& prefix) {
  if (name.compare(0, prefix.size(), prefix) != 0) return -1;
  std::size_t pos = prefix.size(), end = pos;
  while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end]))) ++end;
  if (end == pos) return -1;
  return std::atoi(name.substr(pos, end - pos).c_str());
}

std::string network_key(const std::string& key) { return "network." + key; }

template <class T>
void check_length(const std::vector<T>& values, std::size_t want, ModelFamily family, const std::string& key,
                  const std::string& what) {
  if (values.size() != want)
    throw Error(fmt::format("{}: has {} values; {} wants {} ({})", network_key(key), values.size(),
                            family_name(family), want, what));
}

std::string all_blocks_text(ModelFamily family) {
  return xl(family) ? "one per block: BASE, IN00-IN08, MID00-MID02, OUT00-OUT08, OUT"
                    : "one per block: IN00-IN11, MID, OUT00-OUT11";
}

std::vector<double> half_weights(const LrWeightSetting& s, std::size_t n, ModelFamily family, const std::string& key,
                                 const std::string& side) {
  if (!s.set()) return std::vector<double>(n, 1.0);
  if (!s.preset.empty()) return lr_weight_preset(s.preset, n, key);
  check_length(s.values, n, family, key, fmt::format("one per {} block, or a preset: {}", side, kPresets));
  return s.values;
}

}  // namespace

std::size_t unet_block_count(ModelFamily f) { return xl(f) ? 23 : 25; }
std::size_t unet_half_block_count(ModelFamily f) { return xl(f) ? 9 : 12; }
std::size_t unet_mid_block_count(ModelFamily f) { return xl(f) ? 3 : 1; }

int unet_block_index(const std::string& lora_name, ModelFamily family) {
  const std::string prefix = "lora_unet_";
  if (lora_name.compare(0, prefix.size(), prefix) != 0) return -1;
  const std::string name = lora_name.substr(prefix.size());
  if (xl(family)) {
    if (name.rfind("time_embed_", 0) == 0 || name.rfind("label_emb_", 0) == 0) return 0;
    if (int n = leading_number(name, "input_blocks_"); n >= 0) return 1 + n;
    if (int n = leading_number(name, "middle_block_"); n >= 0) return 10 + n;
    if (int n = leading_number(name, "output_blocks_"); n >= 0) return 13 + n;
    if (name.rfind("out_", 0) == 0) return 22;
    return -1;
  }
  static const std::regex updown(R"((up|down)_blocks_(\d+)_(resnets|upsamplers|downsamplers|attentions)_(\d+)_)");
  std::smatch m;
  if (std::regex_search(name, m, updown)) {
    const int i = std::stoi(m[2].str()), j = std::stoi(m[4].str());
    const bool sampler = m[3].str() == "upsamplers" || m[3].str() == "downsamplers";
    const int idx = 3 * i + (sampler ? 2 : j);
    return m[1].str() == "down" ? 1 + idx : 13 + idx;
  }
  if (name.find("mid_block_") != std::string::npos) return 12;
  return -1;
}

std::string unet_block_label(ModelFamily family, int index) {
  const int n = static_cast<int>(unet_block_count(family));
  if (index < 0 || index >= n) return fmt::format("block{}", index);
  if (xl(family)) {
    if (index == 0) return "BASE";
    if (index <= 9) return fmt::format("IN{:02}", index - 1);
    if (index <= 12) return fmt::format("MID{:02}", index - 10);
    if (index <= 21) return fmt::format("OUT{:02}", index - 13);
    return "OUT";
  }
  if (index < 12) return fmt::format("IN{:02}", index);
  if (index == 12) return "MID";
  return fmt::format("OUT{:02}", index - 13);
}

std::vector<double> lr_weight_preset(const std::string& preset, std::size_t n, const std::string& key) {
  std::string name = preset;
  double offset = 0.0;
  if (auto plus = preset.find('+'); plus != std::string::npos) {
    name = preset.substr(0, plus);
    const std::string number = preset.substr(plus + 1);
    char* end = nullptr;
    offset = std::strtod(number.c_str(), &end);
    if (number.empty() || end != number.c_str() + number.size() || !std::isfinite(offset))
      throw Error(fmt::format("{}: \"{}\": the offset after '+' is not a number (write \"sine+0.5\")",
                              network_key(key), preset));
  }
  std::vector<double> out(n);
  const double last = static_cast<double>(n - 1);
  for (std::size_t i = 0; i < n; ++i) {
    const double up = static_cast<double>(i) / last, down = static_cast<double>(n - 1 - i) / last;
    if (name == "sine") out[i] = std::sin(M_PI * up / 2);
    else if (name == "cosine") out[i] = std::sin(M_PI * down / 2);
    else if (name == "linear") out[i] = up;
    else if (name == "reverse_linear") out[i] = down;
    else if (name == "zeros") out[i] = 0.0;
    else
      throw Error(fmt::format("{}: \"{}\" is not a list or a preset; presets: {} (with an optional \"+offset\")",
                              network_key(key), preset, kPresets));
    out[i] += offset;
  }
  return out;
}

LoRABlockPlan resolve_block_plan(const LoRABlockSettings& s, ModelFamily family, std::int64_t rank, double alpha,
                                 std::int64_t conv_rank, double conv_alpha) {
  const std::size_t n = unet_block_count(family);
  LoRABlockPlan plan;
  plan.dims.assign(n, rank);
  plan.alphas.assign(n, alpha);
  plan.conv_dims.assign(n, conv_rank);
  plan.conv_alphas.assign(n, conv_alpha);
  if (!s.dims.empty()) {
    check_length(s.dims, n, family, "block_dims", all_blocks_text(family));
    plan.dims = s.dims;
  }
  if (!s.alphas.empty()) {
    check_length(s.alphas, n, family, "block_alphas", all_blocks_text(family));
    plan.alphas = s.alphas;
  }
  if ((!s.conv_dims.empty() || !s.conv_alphas.empty()) && conv_rank <= 0)
    throw Error(fmt::format("{}: convolutions are not adapted; set network.type = \"locon\" or remove it",
                            network_key(s.conv_dims.empty() ? "conv_block_alphas" : "conv_block_dims")));
  if (!s.conv_dims.empty()) {
    check_length(s.conv_dims, n, family, "conv_block_dims", all_blocks_text(family));
    plan.conv_dims = s.conv_dims;
  }
  if (!s.conv_alphas.empty()) {
    check_length(s.conv_alphas, n, family, "conv_block_alphas", all_blocks_text(family));
    plan.conv_alphas = s.conv_alphas;
  }
  auto check_dims = [](const std::vector<std::int64_t>& dims, const char* key) {
    for (auto d : dims)
      if (d < 0 || d > 4096) throw Error(fmt::format("{}: ranks must be 0 (no modules) to 4096, got {}", network_key(key), d));
  };
  auto check_alphas = [](const std::vector<double>& alphas, const char* key) {
    for (double a : alphas)
      if (!std::isfinite(a) || a <= 0) throw Error(fmt::format("{}: alphas must be above 0, got {}", network_key(key), a));
  };
  check_dims(plan.dims, "block_dims");
  check_dims(plan.conv_dims, "conv_block_dims");
  check_alphas(plan.alphas, "block_alphas");
  check_alphas(plan.conv_alphas, "conv_block_alphas");

  const std::size_t half = unet_half_block_count(family), mid_n = unet_mid_block_count(family);
  auto down = half_weights(s.down_lr_weight, half, family, "down_lr_weight", "down");
  auto up = half_weights(s.up_lr_weight, half, family, "up_lr_weight", "up");
  std::vector<double> mid(mid_n, 1.0);
  if (!s.mid_lr_weight.empty()) {
    check_length(s.mid_lr_weight, mid_n, family, "mid_lr_weight", "one per middle block");
    mid = s.mid_lr_weight;
  }
  plan.lr_weighted = s.has_lr_weights();
  if (xl(family)) plan.lr_weights.push_back(1.0);  // BASE
  for (auto* part : {&down, &mid, &up}) plan.lr_weights.insert(plan.lr_weights.end(), part->begin(), part->end());
  if (xl(family)) plan.lr_weights.push_back(1.0);  // OUT
  for (std::size_t i = 0; i < n; ++i) {
    double& w = plan.lr_weights[i];
    if (!std::isfinite(w) || w < 0) {
      // Both families' up blocks start at index 13; the middle starts at 12 (SD) or 10 (SDXL).
      const char* key = i < (xl(family) ? 10u : 12u) ? "down_lr_weight" : i < 13u ? "mid_lr_weight" : "up_lr_weight";
      throw Error(fmt::format("{}: block {} has weight {}; weights are 0 (leave the block out) or above",
                              network_key(key), unet_block_label(family, static_cast<int>(i)), w));
    }
    if (w <= s.lr_zero_threshold) w = 0.0;
    if (w == 0.0) plan.dims[i] = plan.conv_dims[i] = 0;  // kohya: no lr, no modules
  }
  return plan;
}

std::string block_list_text(const std::vector<double>& values) {
  std::string out;
  for (double v : values) out += fmt::format("{}{:g}", out.empty() ? "" : ",", v);
  return out;
}

std::string block_list_text(const std::vector<std::int64_t>& values) {
  std::string out;
  for (auto v : values) out += fmt::format("{}{}", out.empty() ? "" : ",", v);
  return out;
}

std::string lr_weight_text(const LrWeightSetting& s) { return s.preset.empty() ? block_list_text(s.values) : s.preset; }

}  // namespace lathe
