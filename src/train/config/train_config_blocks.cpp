// [network] per-block keys (see train_config_blocks.h).
#include "train/config/train_config_blocks.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>

#include "io/profile.h"
#include "train/config/train_config_keys.h"

namespace lathe {
namespace {

// kohya's network_args text of a list: "1,1,,0.5" (an empty item is 0, as kohya reads it).
std::vector<double> comma_numbers(const ProfileTable& t, std::string_view key, const std::string& text) {
  std::vector<double> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    double v = 0.0;
    if (!item.empty()) {
      char* end = nullptr;
      v = std::strtod(item.c_str(), &end);
      if (end != item.c_str() + item.size() || !std::isfinite(v))
        t.fail(key, fmt::format("item {} (\"{}\") is not a number", out.size() + 1, item));
    }
    out.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<double> read_numbers(const ProfileTable& t, std::string_view key) {
  if (!t.has(key)) return {};
  std::vector<double> out;
  if (t.is_string(key)) {
    out = comma_numbers(t, key, *t.get_string(key));
  } else if (t.is_array(key)) {
    out = *t.get_float_array(key);
  } else {
    out = {*t.get_float(key)};  // a single number (mid_lr_weight = 0.5); other types are refused here
  }
  if (out.empty()) t.fail(key, "is empty; give one value per block or remove the key");
  return out;
}

std::vector<std::int64_t> read_ranks(const ProfileTable& t, std::string_view key) {
  std::vector<std::int64_t> out;
  for (double v : read_numbers(t, key)) {
    if (v != std::floor(v) || v < 0 || v > 4096)
      t.fail(key, fmt::format("ranks are whole numbers from 0 (no modules in the block) to 4096, got {}", v));
    out.push_back(static_cast<std::int64_t>(v));
  }
  return out;
}

std::vector<double> read_alphas(const ProfileTable& t, std::string_view key) {
  auto out = read_numbers(t, key);
  for (double v : out)
    if (!(v > 0)) t.fail(key, fmt::format("alphas must be above 0, got {}", v));
  return out;
}

std::vector<double> read_weights(const ProfileTable& t, std::string_view key) {
  auto out = read_numbers(t, key);
  for (double v : out)
    if (v < 0) t.fail(key, fmt::format("weights are 0 (leave the block out) or above, got {}", v));
  return out;
}

// A preset is a string without commas; anything else is a list.
LrWeightSetting read_half_weights(const ProfileTable& t, std::string_view key) {
  LrWeightSetting s;
  if (t.is_string(key) && t.get_string(key)->find(',') == std::string::npos) {
    s.preset = *t.get_string(key);
    try {
      lr_weight_preset(s.preset, 12, std::string(key));  // the name and offset; lengths come later
    } catch (const std::exception& e) {
      std::string msg = e.what();
      t.fail(key, msg.substr(msg.find(": ") + 2));
    }
    return s;
  }
  s.values = read_weights(t, key);
  return s;
}

std::string toml_list(const std::vector<double>& values) {
  std::string out;
  for (double v : values) out += fmt::format("{}{}", out.empty() ? "" : ", ", v);
  return "[" + out + "]";
}

std::string toml_list(const std::vector<std::int64_t>& values) {
  std::string out;
  for (auto v : values) out += fmt::format("{}{}", out.empty() ? "" : ", ", v);
  return "[" + out + "]";
}

}  // namespace

LoRABlockSettings read_network_blocks(const ProfileTable& t, bool convs) {
  LoRABlockSettings s;
  s.dims = read_ranks(t, "block_dims");
  s.alphas = read_alphas(t, "block_alphas");
  for (std::string_view key : {"conv_block_dims", "conv_block_alphas"})
    if (t.has(key) && !convs) t.fail(key, "applies to LoCon only; set network.type = \"locon\" or remove it");
  s.conv_dims = read_ranks(t, "conv_block_dims");
  s.conv_alphas = read_alphas(t, "conv_block_alphas");
  s.down_lr_weight = read_half_weights(t, "down_lr_weight");
  s.mid_lr_weight = read_weights(t, "mid_lr_weight");
  s.up_lr_weight = read_half_weights(t, "up_lr_weight");
  if (auto v = t.get_float("block_lr_zero_threshold")) {
    if (!std::isfinite(*v) || *v < 0) t.fail("block_lr_zero_threshold", fmt::format("must be 0 or above, got {}", *v));
    if (!s.has_lr_weights())
      t.fail("block_lr_zero_threshold", "has no effect without down_lr_weight, mid_lr_weight or up_lr_weight");
    s.lr_zero_threshold = *v;
  }
  return s;
}

std::vector<std::pair<const char*, std::string>> network_block_entries(const LoRABlockSettings& s) {
  std::vector<std::pair<const char*, std::string>> out;
  auto half = [](const LrWeightSetting& w) { return w.preset.empty() ? toml_list(w.values) : toml_quote(w.preset); };
  if (!s.dims.empty()) out.emplace_back("block_dims", toml_list(s.dims));
  if (!s.alphas.empty()) out.emplace_back("block_alphas", toml_list(s.alphas));
  if (!s.conv_dims.empty()) out.emplace_back("conv_block_dims", toml_list(s.conv_dims));
  if (!s.conv_alphas.empty()) out.emplace_back("conv_block_alphas", toml_list(s.conv_alphas));
  if (s.down_lr_weight.set()) out.emplace_back("down_lr_weight", half(s.down_lr_weight));
  if (!s.mid_lr_weight.empty()) out.emplace_back("mid_lr_weight", toml_list(s.mid_lr_weight));
  if (s.up_lr_weight.set()) out.emplace_back("up_lr_weight", half(s.up_lr_weight));
  if (s.lr_zero_threshold > 0) out.emplace_back("block_lr_zero_threshold", fmt::format("{}", s.lr_zero_threshold));
  return out;
}

}  // namespace lathe
