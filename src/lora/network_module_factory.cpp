// Building a module of any type: from a spec (training), and the spec from a file's keys
// (loading into a network, `lathe lora merge`). See network_modules.h.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>

#include "common/error.h"
#include "lora/lora_network.h"
#include "lora/network_modules.h"

namespace lathe {

std::shared_ptr<NetworkModuleImpl> make_network_module(const BaseOp& op, const ModuleSpec& spec) {
  switch (spec.algo) {
    case NetworkAlgo::LoRA: return std::make_shared<LoRAModuleImpl>(op, spec.rank, spec.alpha, spec.dora);
    case NetworkAlgo::LoHa: return std::make_shared<LoHaModuleImpl>(op, spec);
    case NetworkAlgo::LoKr: return std::make_shared<LoKrModuleImpl>(op, spec);
  }
  throw Error("LoRA: unknown module type");
}

namespace {

using Shapes = std::map<std::string, std::vector<std::int64_t>>;

const std::vector<std::int64_t>* find(const Shapes& keys, const char* suffix) {
  auto it = keys.find(suffix);
  return it == keys.end() ? nullptr : &it->second;
}

std::string shape_list(const Shapes& keys) {
  std::vector<std::string> parts;
  for (const auto& [k, s] : keys) parts.push_back(fmt::format("{} [{}]", k, fmt::join(s, ", ")));
  return fmt::format("{}", fmt::join(parts, ", "));
}

// LoKr's factor sizes from the w1 / w2 keys; the weight's sizes give the other halves.
void lokr_layout_from_keys(const std::string& name, const Shapes& keys, const std::vector<std::int64_t>& weight,
                           ModuleSpec* s) {
  const auto *w1 = find(keys, "lokr_w1"), *w1a = find(keys, "lokr_w1_a"), *w1b = find(keys, "lokr_w1_b");
  const auto *w2 = find(keys, "lokr_w2"), *w2a = find(keys, "lokr_w2_a"), *w2b = find(keys, "lokr_w2_b");
  if (find(keys, "lokr_t2") || find(keys, "lokr_t1"))
    throw Error(fmt::format("{}: LoKr with Tucker (CP) decomposition (lokr_t2) is not supported", name));
  if (!(w1 || (w1a && w1b)) || !(w2 || (w2a && w2b)))
    throw Error(fmt::format("{}: LoKr needs lokr_w1 (or lokr_w1_a and _b) and lokr_w2 (or lokr_w2_a and _b); "
                            "it has {}",
                            name, shape_list(keys)));
  s->w1_decomposed = w1 == nullptr;
  s->w2_decomposed = w2 == nullptr;
  s->out_l = w1 ? (*w1)[0] : (*w1a)[0];
  s->in_m = w1 ? (*w1)[1] : (*w1b).back();
  if (s->out_l <= 0 || s->in_m <= 0 || weight[0] % s->out_l != 0 || weight[1] % s->in_m != 0)
    throw Error(fmt::format("{}: LoKr w1 factor {} x {} does not divide the base weight [{}]", name, s->out_l, s->in_m,
                            fmt::join(weight, ", ")));
  s->out_k = weight[0] / s->out_l;
  s->in_n = weight[1] / s->in_m;
  // ComfyUI and A1111 take the rank from w2_b, else w1_b; two full factors have scale 1 and
  // LyCORIS stores alpha = rank there, so that alpha names the rank.
  if (w2b) s->rank = (*w2b)[0];
  else if (w1b) s->rank = (*w1b)[0];
  else s->rank = s->alpha >= 1 ? static_cast<std::int64_t>(std::llround(s->alpha)) : 1;
}

}  // namespace

ModuleSpec module_spec_from_keys(const std::string& name, const Shapes& keys, const std::vector<std::int64_t>& weight,
                                 double alpha) {
  ModuleSpec s;
  s.alpha = alpha;
  s.dora = keys.count("dora_scale") > 0;
  if (weight.size() < 2) throw Error(fmt::format("{}: the base tensor is not a weight matrix", name));
  if (keys.count("lora_down.weight") || keys.count("lora_up.weight")) {
    const auto *down = find(keys, "lora_down.weight"), *up = find(keys, "lora_up.weight");
    if (!down || !up) throw Error(fmt::format("{}: lacks its {} weight", name, down ? "lora_up" : "lora_down"));
    if (find(keys, "lora_mid.weight"))
      throw Error(fmt::format("{}: LoCon with Tucker (CP) decomposition (lora_mid) is not supported", name));
    s.algo = NetworkAlgo::LoRA;
    s.rank = (*down)[0];
  } else if (keys.count("hada_w1_a")) {
    if (find(keys, "hada_t1") || find(keys, "hada_t2"))
      throw Error(fmt::format("{}: LoHa with Tucker (CP) decomposition (hada_t1 / hada_t2) is not supported", name));
    for (const char* k : {"hada_w1_b", "hada_w2_a", "hada_w2_b"})
      if (!keys.count(k)) throw Error(fmt::format("{}: LoHa module lacks {}", name, k));
    s.algo = NetworkAlgo::LoHa;
    s.rank = find(keys, "hada_w1_b")->at(0);
  } else if (keys.count("lokr_w1") || keys.count("lokr_w1_a")) {
    s.algo = NetworkAlgo::LoKr;
    lokr_layout_from_keys(name, keys, weight, &s);
  } else {
    throw Error(fmt::format("{}: not a LoRA, LoCon, LoHa or LoKr module (keys: {})", name, shape_list(keys)));
  }
  if (s.rank <= 0) throw Error(fmt::format("{}: rank {} is not positive", name, s.rank));
  return s;
}

}  // namespace lathe
