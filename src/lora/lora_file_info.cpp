// Reading a LoRA file's structure from its header (see lora_file_info.h).
#include "lora/lora_file_info.h"

#include <cmath>
#include <cstring>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "common/sha256.h"

namespace lathe {

std::string lora_part_of(const std::string& name) {
  for (const char* p : {"lora_unet_", "lora_te1_", "lora_te2_", "lora_te_"}) {
    std::string prefix = p;
    if (name.compare(0, prefix.size(), prefix) == 0) return prefix.substr(5, prefix.size() - 6);
  }
  return "";
}

std::string network_type_label(const LoRAModuleInfo& m) {
  std::string t = m.algo == "loha" ? "LoHa" : m.algo == "lokr" ? "LoKr" : m.conv && m.kernel > 1 ? "LoCon" : "LoRA";
  return m.dora ? t + " + DoRA" : t;
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

namespace {

// The tensors each type's modules may hold (suffix after "<module>.").
const std::set<std::string>& known_suffixes() {
  static const std::set<std::string> s = {"lora_down.weight", "lora_up.weight", "hada_w1_a", "hada_w1_b",
                                          "hada_w2_a", "hada_w2_b", "lokr_w1", "lokr_w1_a", "lokr_w1_b",
                                          "lokr_w2", "lokr_w2_a", "lokr_w2_b", "alpha", "dora_scale"};
  return s;
}

using Shape = std::vector<std::int64_t>;

// Fills type, rank, conv and kernel from the module's tensors; "" or why the module is broken.
std::string classify(LoRAModuleInfo& m) {
  auto has = [&](const char* k) { return m.shapes.count(k) > 0; };
  auto at = [&](const char* k) -> const Shape& { return m.shapes.at(k); };
  if (has("lora_down.weight") || has("lora_up.weight")) {
    if (!has("lora_down.weight") || !has("lora_up.weight"))
      return fmt::format("lacks its {} weight", has("lora_down.weight") ? "lora_up" : "lora_down");
    m.down_shape = at("lora_down.weight");
    m.up_shape = at("lora_up.weight");
    if (m.down_shape.size() < 2 || m.up_shape.size() < 2 || m.down_shape[0] != m.up_shape[1])
      return fmt::format("lora_down [{}] and lora_up [{}] do not share a rank", fmt::join(m.down_shape, ", "),
                         fmt::join(m.up_shape, ", "));
    m.rank = m.down_shape[0];
    m.conv = m.down_shape.size() == 4;
    m.kernel = m.conv ? m.down_shape[2] : 1;
  } else if (has("hada_w1_a") || has("hada_w1_b") || has("hada_w2_a") || has("hada_w2_b")) {
    m.algo = "loha";
    for (const char* k : {"hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b"})
      if (!has(k) || at(k).size() != 2) return fmt::format("LoHa module lacks a 2-D {}", k);
    const auto &a1 = at("hada_w1_a"), &b1 = at("hada_w1_b"), &a2 = at("hada_w2_a"), &b2 = at("hada_w2_b");
    if (a1[1] != b1[0] || a2[1] != b2[0] || a1 != a2 || b1 != b2)
      return fmt::format("LoHa factors hada_w1_a [{}] hada_w1_b [{}] hada_w2_a [{}] hada_w2_b [{}] do not fit",
                         fmt::join(a1, ", "), fmt::join(b1, ", "), fmt::join(a2, ", "), fmt::join(b2, ", "));
    m.rank = b1[0];
    m.up_shape = a1;
    m.down_shape = b1;
  } else if (has("lokr_w1") || has("lokr_w1_a") || has("lokr_w2") || has("lokr_w2_a")) {
    m.algo = "lokr";
    if (!has("lokr_w1") && !(has("lokr_w1_a") && has("lokr_w1_b"))) return "LoKr module lacks lokr_w1 (or lokr_w1_a and _b)";
    if (!has("lokr_w2") && !(has("lokr_w2_a") && has("lokr_w2_b"))) return "LoKr module lacks lokr_w2 (or lokr_w2_a and _b)";
    // ComfyUI / A1111: the rank is w2_b's, else w1_b's; two full factors are rank-free (scale 1)
    // and LyCORIS stores their alpha as the rank it trained with.
    if (has("lokr_w2_b")) m.rank = at("lokr_w2_b")[0];
    else if (has("lokr_w1_b")) m.rank = at("lokr_w1_b")[0];
    else m.rank = 0;
    if (has("lokr_w2") && at("lokr_w2").size() == 4) {
      m.conv = true;
      m.kernel = at("lokr_w2")[2];
    }
  } else {
    return "has no LoRA, LoHa or LoKr tensors";
  }
  m.dora = has("dora_scale");
  return "";
}

}  // namespace

LoRAFileInfo read_lora_file_info(const SafetensorsFile& file) {
  LoRAFileInfo info;
  info.metadata = file.metadata();
  std::map<std::string, LoRAModuleInfo> modules;
  for (const auto& t : file.header().tensors) {
    info.dtypes[dtype_name(t.dtype)]++;
    const auto dot = t.name.find('.');
    const std::string stem = t.name.substr(0, dot);
    const std::string suffix = dot == std::string::npos ? "" : t.name.substr(dot + 1);
    if (lora_part_of(stem).empty() || !known_suffixes().count(suffix)) {
      info.other_keys.push_back(t.name);
      continue;
    }
    if (suffix == "alpha") {
      if (t.numel() != 1)
        throw Error(fmt::format("{}: {} holds {} values, expected one alpha", file.path().string(), t.name, t.numel()));
      modules[stem].alpha = 0;  // value read below
    }
    modules[stem].shapes[suffix] = t.shape;
  }
  if (modules.empty())
    throw Error(fmt::format("{}: no LoRA modules (no lora_unet_* / lora_te*_ keys): not a kohya-format LoRA",
                            file.path().string()));
  for (auto& [name, m] : modules) {
    m.name = name;
    m.part = lora_part_of(name);
    if (auto why = classify(m); !why.empty()) throw Error(fmt::format("{}: module {} {}", file.path().string(), name, why));
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
    if (m.algo == "lokr" && m.rank == 0) m.rank = m.alpha && *m.alpha >= 1 ? static_cast<std::int64_t>(std::llround(*m.alpha)) : 1;
    info.parts[m.part]++;
    info.modules.push_back(m);
  }
  return info;
}

}  // namespace lathe
