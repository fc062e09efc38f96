// Target selection, kohya naming, injection and the kohya state dict of a LoRA network (see
// lora_network.h). Targets are found by walking the models' module trees for kohya's target
// classes, mirrored by Lathe's: SpatialTransformer (Transformer2DModel), ResBlock
// (ResnetBlock2D), Downsample / Upsample, CLIPEncoderLayer (CLIPAttention + CLIPMLP).
#include "lora/lora_network.h"

#include <algorithm>
#include <functional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "io/safetensors.h"
#include "models/blocks.h"
#include "models/checkpoint.h"
#include "models/key_maps.h"
#include "models/module_adapter.h"
#include "models/tensor_io.h"
#include "lora/lora_file_info.h"
#include "lora/network_modules.h"

namespace lathe {
namespace nn = torch::nn;
namespace {

bool is_linear(const nn::Module& m) { return dynamic_cast<const nn::LinearImpl*>(&m) != nullptr; }
const nn::Conv2dImpl* as_conv(const nn::Module& m) { return dynamic_cast<const nn::Conv2dImpl*>(&m); }
bool is_conv_1x1(const nn::Module& m) {
  auto* c = as_conv(m);
  return c && (*c->options.kernel_size())[0] == 1 && (*c->options.kernel_size())[1] == 1;
}

std::string join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "." + b; }

// The rank and alpha of each kind of module: one pair for every module, or per UNet block.
struct RankRule {
  std::int64_t rank = 0, conv_rank = 0;
  double alpha = 0, conv_alpha = 0;
  const LoRABlockPlan* plan = nullptr;  // per block when set (UNet only)
};

// kohya's rule inside a target class: Linear and 1x1 conv get (rank, alpha); larger convs get
// (conv_rank, conv_alpha) when LoCon is on; anything else, or a rank of 0, is skipped. With a
// block plan the pair is that of the target's block.
void add_children(const std::string& path, nn::Module& parent, LoRAPart part, const RankRule& rule,
                  const std::function<int(const std::string&)>& block_of, std::vector<LoRATarget>* out) {
  for (const auto& item : parent.named_modules()) {
    auto& m = *item.value();
    const bool linear = is_linear(m) || is_conv_1x1(m);
    if (!linear && !as_conv(m)) continue;
    const std::string module_path = join(path, item.key());
    const int block = block_of ? block_of(module_path) : -1;
    const bool by_block = rule.plan && block >= 0;
    LoRATarget t;
    if (linear) {
      t.rank = by_block ? rule.plan->dims[block] : rule.rank;
      t.alpha = by_block ? rule.plan->alphas[block] : rule.alpha;
    } else {
      t.rank = by_block ? rule.plan->conv_dims[block] : rule.conv_rank;
      t.alpha = by_block ? rule.plan->conv_alphas[block] : rule.conv_alpha;
    }
    if (t.rank <= 0) continue;
    t.part = part;
    t.module_path = module_path;
    t.block = block;
    t.base = item.value();
    out->push_back(std::move(t));
  }
}

RankRule rank_rule(const LoRAOptions& o) {
  RankRule r;
  r.rank = o.rank;
  r.alpha = o.alpha;
  r.conv_rank = o.conv_rank;
  r.conv_alpha = o.conv_alpha;
  return r;
}

// kohya trains SD 1.x / 2.x as a diffusers UNet (diffusers names) and SDXL as its own
// LDM-named UNet; the kohya name of a UNet module path.
std::function<std::string(const std::string&)> unet_namer(UNet unet, ModelFamily family) {
  if (family == ModelFamily::SDXL) return [](const std::string& path) { return kohya_lora_name(LoRAPart::UNet, path); };
  std::vector<std::string> keys;
  for (const auto& p : unet->named_parameters()) keys.push_back(p.key());
  auto table = std::make_shared<NameTable>(unet_name_table(unet_topology_from_ldm(keys)));
  return [table](const std::string& path) {
    auto d = table->b_to_a(path + ".weight");
    if (!d || d->size() < 7) throw Error(fmt::format("LoRA: UNet module {} has no diffusers name (key map)", path));
    return kohya_lora_name(LoRAPart::UNet, d->substr(0, d->size() - 7));  // drop ".weight"
  };
}

void unet_targets(UNet unet, ModelFamily family, const LoRAOptions& o, const LoRABlockPlan* plan,
                  std::vector<LoRATarget>* out) {
  const std::size_t first = out->size();
  const auto namer = unet_namer(unet, family);
  RankRule rule = rank_rule(o);
  rule.plan = plan;
  const bool convs = o.conv_rank > 0;
  auto block_of = [&](const std::string& path) { return unet_block_index(namer(path), family); };
  for (const auto& item : unet->named_modules("", /*include_self=*/false)) {
    auto& m = *item.value();
    bool transformer = dynamic_cast<SpatialTransformerImpl*>(&m) != nullptr;
    bool conv_block = dynamic_cast<ResBlockImpl*>(&m) || dynamic_cast<DownsampleImpl*>(&m) ||
                      dynamic_cast<UpsampleImpl*>(&m);
    if (transformer || (conv_block && convs)) add_children(item.key(), m, LoRAPart::UNet, rule, block_of, out);
  }
  for (std::size_t i = first; i < out->size(); ++i) (*out)[i].name = namer((*out)[i].module_path);
}

void text_encoder_targets(const CLIPTextModel& te, LoRAPart part, const LoRAOptions& o,
                          std::vector<LoRATarget>* out) {
  const std::size_t first = out->size();
  RankRule linear_only = rank_rule(o);
  linear_only.conv_rank = 0;
  for (const auto& item : te->named_modules("", /*include_self=*/false)) {
    auto& m = *item.value();
    if (dynamic_cast<CLIPEncoderLayerImpl*>(&m)) add_children(item.key(), m, part, linear_only, nullptr, out);
  }
  for (std::size_t i = first; i < out->size(); ++i) (*out)[i].name = kohya_lora_name(part, (*out)[i].module_path);
}

std::string shape_text(const torch::Tensor& t) { return fmt::format("[{}]", fmt::join(t.sizes(), ", ")); }

}  // namespace

const char* lora_part_prefix(LoRAPart p) {
  switch (p) {
    case LoRAPart::UNet: return "lora_unet";
    case LoRAPart::TextEncoder: return "lora_te";
    case LoRAPart::TextEncoder1: return "lora_te1";
    case LoRAPart::TextEncoder2: return "lora_te2";
  }
  return "lora_unknown";
}

std::string kohya_lora_name(LoRAPart part, const std::string& kohya_path) {
  std::string name = std::string(lora_part_prefix(part)) + "_" + kohya_path;
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

LoRABlockPlan lora_block_plan(ModelFamily family, const LoRAOptions& o) {
  return resolve_block_plan(o.blocks, family, o.rank, o.alpha, o.conv_rank, o.conv_alpha);
}

std::vector<LoRATarget> lora_targets(UNet unet, const std::vector<CLIPTextModel>& text_encoders,
                                     ModelFamily family, const LoRAOptions& options) {
  std::vector<LoRATarget> out;
  if (options.unet) {
    if (!unet) throw Error("LoRA: the UNet is to be adapted but no UNet was given");
    const LoRABlockPlan plan = lora_block_plan(family, options);
    unet_targets(unet, family, options, options.blocks.any() ? &plan : nullptr, &out);
  }
  if (options.text_encoders) {
    if (text_encoders.empty() || text_encoders.size() > 2)
      throw Error(fmt::format("LoRA: text encoders are to be adapted but {} were given (want 1 or 2)",
                              text_encoders.size()));
    if (text_encoders.size() == 1) {
      text_encoder_targets(text_encoders[0], LoRAPart::TextEncoder, options, &out);
    } else {
      text_encoder_targets(text_encoders[0], LoRAPart::TextEncoder1, options, &out);
      text_encoder_targets(text_encoders[1], LoRAPart::TextEncoder2, options, &out);
    }
  }
  std::set<std::string> seen;
  for (const auto& t : out)
    if (!seen.insert(t.name).second) throw Error(fmt::format("LoRA: two modules map to the name {}", t.name));
  return out;
}

namespace {

// The module a target gets from the network options: LoKr's layout depends on the base shape.
ModuleSpec spec_for(const LoRAOptions& o, const LoRATarget& t) {
  if (o.algo == NetworkAlgo::LoKr) {
    const auto op = base_op_of(*t.base);
    return lokr_spec(op.weight_shape[0], op.weight_shape[1], t.rank, t.alpha, o.lokr_factor, o.lokr_decompose_both,
                     o.dora);
  }
  ModuleSpec s;
  s.algo = o.algo;
  s.rank = t.rank;
  s.alpha = t.alpha;
  s.dora = o.dora;
  return s;
}

}  // namespace

LoRANetworkImpl::LoRANetworkImpl(UNet unet, std::vector<CLIPTextModel> text_encoders,
                                 ModelFamily family, LoRAOptions options)
    : family_(family), options_(options), unet_(unet), text_encoders_(std::move(text_encoders)) {
  block_plan_ = lora_block_plan(family_, options_);
  targets_ = lora_targets(unet_, text_encoders_, family_, options_);
  for (auto& t : targets_) t.spec = spec_for(options_, t);
  build_modules();
}

void LoRANetworkImpl::build_modules() {
  try {
    for (auto& t : targets_) {
      t.module = register_module(t.name, make_network_module(base_op_of(*t.base), t.spec));
      t.module->multiplier = options_.multiplier;
      t.module->dropout = options_.dropout;
      t.module->rank_dropout = options_.rank_dropout;
      t.module->module_dropout = options_.module_dropout;
      NetworkModuleImpl* m = t.module.get();
      attach_adapter(*t.base, this, [m](const torch::Tensor& x, const torch::Tensor& out) { return m->forward(x, out); });
      attached_.push_back(t.base.get());
    }
  } catch (...) {
    detach_all();
    throw;
  }
}

LoRANetworkImpl::LoRANetworkImpl(UNet unet, std::vector<CLIPTextModel> text_encoders, ModelFamily family,
                                 const std::filesystem::path& file, double multiplier)
    : family_(family), unet_(unet), text_encoders_(std::move(text_encoders)) {
  SafetensorsFile f(file);
  std::map<std::string, std::map<std::string, std::vector<std::int64_t>>> modules;  // name -> suffix -> shape
  std::map<std::string, torch::Tensor> state;
  std::vector<std::string> stray;
  for (const auto& key : f.names()) {
    const auto dot = key.find('.');
    const std::string name = key.substr(0, dot);
    if (dot == std::string::npos || lora_part_of(name).empty()) {
      stray.push_back(key);
      continue;
    }
    modules[name][key.substr(dot + 1)] = f.info(key).shape;
    state[key] = tensor_from_view(f.view(key), torch::kFloat32);
  }
  if (modules.empty() || !stray.empty())
    throw Error(fmt::format("loading LoRA {}: {}", file.string(),
                            modules.empty() ? std::string("no lora_unet_* / lora_te*_ modules")
                                            : fmt::format("{} keys are no module's: {}", stray.size(), list_some(stray))));
  options_.multiplier = multiplier;
  options_.unet = false;
  options_.text_encoders = false;
  for (const auto& kv : modules) (lora_part_of(kv.first) == "unet" ? options_.unet : options_.text_encoders) = true;
  LoRAOptions all = options_;
  all.conv_rank = 1;  // every candidate, convolutions included
  std::map<std::string, LoRATarget> candidates;
  for (auto& t : lora_targets(unet_, text_encoders_, family_, all)) candidates[t.name] = t;
  std::vector<std::string> unmatched;
  for (auto& [name, keys] : modules) {
    auto it = candidates.find(name);
    if (it == candidates.end()) {
      unmatched.push_back(name);
      continue;
    }
    LoRATarget& t = it->second;
    auto a = state.find(name + ".alpha");
    t.spec = module_spec_from_keys(name, keys, base_op_of(*t.base).weight_shape,
                                   a == state.end() ? 0.0 : a->second.item<double>());
    t.rank = t.spec.rank;
    t.alpha = t.spec.alpha;
    options_.algo = t.spec.algo;
    options_.dora = options_.dora || t.spec.dora;
    (base_op_of(*t.base).conv && base_op_of(*t.base).weight_shape[2] > 1 ? options_.conv_rank : options_.rank) = t.rank;
  }
  if (!unmatched.empty())
    throw Error(fmt::format("loading LoRA {}: {} of {} modules have no target in this {} model: {}", file.string(),
                            unmatched.size(), modules.size(), family_name(family_), list_some(unmatched)));
  for (auto& t : lora_targets(unet_, text_encoders_, family_, all))
    if (modules.count(t.name)) targets_.push_back(candidates.at(t.name));
  build_modules();
  load_state(state, file.string());
}

LoRANetworkImpl::~LoRANetworkImpl() { detach_all(); }

void LoRANetworkImpl::detach_all() {
  for (auto* m : attached_) detach_adapter(*m, this);
  attached_.clear();
}

std::vector<LoRATarget> LoRANetworkImpl::targets(LoRAPart part) const {
  std::vector<LoRATarget> out;
  for (const auto& t : targets_)
    if (t.part == part) out.push_back(t);
  return out;
}

std::vector<torch::Tensor> LoRANetworkImpl::unet_parameters() const {
  std::vector<torch::Tensor> out;
  for (const auto& t : targets_)
    if (t.part == LoRAPart::UNet)
      for (auto& p : t.module->parameters()) out.push_back(p);
  return out;
}

std::vector<torch::Tensor> LoRANetworkImpl::text_encoder_parameters() const {
  std::vector<torch::Tensor> out;
  for (const auto& t : targets_)
    if (t.part != LoRAPart::UNet)
      for (auto& p : t.module->parameters()) out.push_back(p);
  return out;
}

std::map<int, std::vector<torch::Tensor>> LoRANetworkImpl::unet_parameters_by_block() const {
  std::map<int, std::vector<torch::Tensor>> out;
  for (const auto& t : targets_)
    if (t.part == LoRAPart::UNet)
      for (auto& p : t.module->parameters()) out[t.block].push_back(p);
  return out;
}

void LoRANetworkImpl::set_multiplier(double m) {
  options_.multiplier = m;
  for (auto& t : targets_) t.module->multiplier = m;
}

std::vector<std::pair<std::string, torch::Tensor>> LoRANetworkImpl::kohya_state(torch::Dtype dtype) const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  torch::NoGradGuard no_grad;
  for (const auto& p : named_parameters()) out.emplace_back(p.key(), p.value().detach().to(torch::kCPU, dtype).contiguous());
  for (const auto& b : named_buffers()) out.emplace_back(b.key(), b.value().detach().to(torch::kCPU, dtype).contiguous());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

void LoRANetworkImpl::save(const std::filesystem::path& path, torch::Dtype dtype,
                           const std::map<std::string, std::string>& metadata) const {
  if (dtype != torch::kFloat32 && dtype != torch::kFloat16 && dtype != torch::kBFloat16)
    throw Error(fmt::format("saving LoRA {}: save precision must be fp32, fp16 or bf16", path.string()));
  write_tensors(path, kohya_state(dtype), metadata);
}

void LoRANetworkImpl::load(const std::filesystem::path& path) {
  SafetensorsFile file(path);
  std::map<std::string, torch::Tensor> state;
  for (const auto& name : file.names()) state[name] = tensor_from_view(file.view(name), torch::kFloat32);
  load_state(state, path.string());
}

void LoRANetworkImpl::load_state(const std::map<std::string, torch::Tensor>& state, const std::string& source) {
  std::map<std::string, torch::Tensor> expected;
  for (const auto& p : named_parameters()) expected[p.key()] = p.value();
  for (const auto& b : named_buffers()) expected[b.key()] = b.value();
  std::vector<std::string> unknown, missing, mismatched;
  for (const auto& kv : state) {
    auto it = expected.find(kv.first);
    if (it == expected.end()) {
      unknown.push_back(kv.first);
    } else if (!kv.second.sizes().equals(it->second.sizes())) {
      mismatched.push_back(fmt::format("{} {} (network expects {})", kv.first, shape_text(kv.second),
                                       shape_text(it->second)));
    }
  }
  // Files without `.alpha` keys predate kohya's alpha: their alpha is the rank.
  for (const auto& kv : expected)
    if (!state.count(kv.first) && !(kv.first.size() > 6 && kv.first.compare(kv.first.size() - 6, 6, ".alpha") == 0))
      missing.push_back(kv.first);
  if (!unknown.empty() || !missing.empty() || !mismatched.empty()) {
    std::string msg = fmt::format("loading LoRA {}: does not match this network ({} family, rank {}, conv rank {})",
                                  source, family_name(family_), options_.rank, options_.conv_rank);
    if (!unknown.empty()) msg += fmt::format("\n  {} unknown keys: {}", unknown.size(), list_some(unknown));
    if (!missing.empty()) msg += fmt::format("\n  {} missing keys: {}", missing.size(), list_some(missing));
    if (!mismatched.empty())
      msg += fmt::format("\n  {} shape mismatches (different rank?): {}", mismatched.size(), list_some(mismatched, 3));
    throw Error(msg + "\n  check the network options (rank, conv_rank, text encoders) against the file");
  }
  torch::NoGradGuard no_grad;
  for (auto& t : targets_) {
    for (auto& p : t.module->named_parameters()) {
      const auto& v = state.at(t.name + "." + p.key());
      p.value().copy_(v.to(p.value().device(), p.value().scalar_type()));
    }
    auto a = state.find(t.name + ".alpha");
    t.module->set_alpha(a == state.end() ? 0.0 : a->second.item<double>());
  }
}

}  // namespace lathe
