// Reading a LoRA file's structure from its header (see lora_file_info.h).
#include "lora/lora_file_info.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "common/sha256.h"

namespace lathe {
namespace {

bool strip_suffix(const std::string& key, const std::string& suffix, std::string* stem) {
  if (key.size() <= suffix.size() || key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  *stem = key.substr(0, key.size() - suffix.size());
  return true;
}

}  // namespace

std::string lora_part_of(const std::string& name) {
  for (const char* p : {"lora_unet_", "lora_te1_", "lora_te2_", "lora_te_"}) {
    std::string prefix = p;
    if (name.compare(0, prefix.size(), prefix) == 0) return prefix.substr(5, prefix.size() - 6);
  }
  return "";
}

std::string lora_tensor_sha256(const SafetensorsFile& file) {
  Sha256 h;
  for (const auto& t : file.header().tensors) {  // in data order, which covers the data section
    const TensorView view = file.view(t.name);
    h.update(view.data, view.size);
    file.release(view);
  }
  return h.finish_hex();
}

LoRAFileInfo read_lora_file_info(const SafetensorsFile& file) {
  LoRAFileInfo info;
  info.metadata = file.metadata();
  std::map<std::string, LoRAModuleInfo> modules;
  std::map<std::string, std::pair<bool, bool>> seen;  // down, up
  for (const auto& t : file.header().tensors) {
    info.dtypes[dtype_name(t.dtype)]++;
    std::string stem;
    if (strip_suffix(t.name, ".lora_down.weight", &stem) && !lora_part_of(stem).empty()) {
      auto& m = modules[stem];
      m.down_shape = t.shape;
      seen[stem].first = true;
    } else if (strip_suffix(t.name, ".lora_up.weight", &stem) && !lora_part_of(stem).empty()) {
      modules[stem].up_shape = t.shape;
      seen[stem].second = true;
    } else if (strip_suffix(t.name, ".alpha", &stem) && !lora_part_of(stem).empty()) {
      if (t.numel() != 1)
        throw Error(fmt::format("{}: {} holds {} values, expected one alpha", file.path().string(), t.name, t.numel()));
      modules[stem].alpha = 0;  // value read below
    } else {
      info.other_keys.push_back(t.name);
    }
  }
  if (modules.empty())
    throw Error(fmt::format("{}: no LoRA modules (no lora_unet_* / lora_te*_ keys): not a kohya-format LoRA",
                            file.path().string()));
  for (auto& [name, m] : modules) {
    m.name = name;
    m.part = lora_part_of(name);
    if (!seen[name].first || !seen[name].second)
      throw Error(fmt::format("{}: module {} lacks its {} weight", file.path().string(), name,
                              seen[name].first ? "lora_up" : "lora_down"));
    if (m.down_shape.size() < 2 || m.up_shape.size() < 2 || m.down_shape[0] != m.up_shape[1])
      throw Error(fmt::format("{}: module {}: lora_down [{}] and lora_up [{}] do not share a rank",
                              file.path().string(), name, fmt::join(m.down_shape, ", "), fmt::join(m.up_shape, ", ")));
    m.rank = m.down_shape[0];
    m.conv = m.down_shape.size() == 4;
    m.kernel = m.conv ? m.down_shape[2] : 1;
    if (m.alpha) {
      auto view = file.view(name + ".alpha");
      double a = 0;
      switch (view.info->dtype) {
        case DType::F32: { float f; std::memcpy(&f, view.data, 4); a = f; break; }
        case DType::F64: std::memcpy(&a, view.data, 8); break;
        case DType::F16: case DType::BF16: {
          std::uint16_t h;
          std::memcpy(&h, view.data, 2);
          std::uint32_t bits;
          if (view.info->dtype == DType::BF16) {
            bits = static_cast<std::uint32_t>(h) << 16;
          } else {  // IEEE half -> float
            std::uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
            if (exp == 0) {  // zero or subnormal
              float f = std::ldexp(static_cast<float>(man), -24);
              std::memcpy(&bits, &f, 4);
              bits |= sign;
            } else if (exp == 31) {
              bits = sign | 0x7f800000u | (man << 13);
            } else {
              bits = sign | ((exp + 112) << 23) | (man << 13);
            }
          }
          float f;
          std::memcpy(&f, &bits, 4);
          a = f;
          break;
        }
        default:
          throw Error(fmt::format("{}: {}.alpha has dtype {}, expected a float", file.path().string(), name,
                                  dtype_name(view.info->dtype)));
      }
      m.alpha = a;
    }
    info.parts[m.part]++;
    info.modules.push_back(m);
  }
  return info;
}

}  // namespace lathe
