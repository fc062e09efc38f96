// The SD UNet (see unet.h). Construction mirrors openaimodel.UNetModel: a stack of skip channel
// counts is pushed by every input block and popped by every output block, which fixes the
// Sequential indices (input_blocks.N.M) to the LDM ones.
#include "models/unet.h"

#include "common/error.h"
#include "models/blocks.h"
#include "models/grad_checkpoint.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace lathe {

namespace nn = torch::nn;

void UNetConfig::validate() const {
  const auto n = block_out_channels.size();
  if (n == 0) throw Error("UNet config: block_out_channels is empty");
  if (attention.size() != n || heads.size() != n || transformer_depth.size() != n)
    throw Error(fmt::format("UNet config: {} levels in block_out_channels but {} attention flags, {} head counts, "
                            "{} transformer depths; give one per level", n, attention.size(), heads.size(),
                            transformer_depth.size()));
  for (std::size_t i = 0; i < n; ++i) {
    if (block_out_channels[i] % norm_groups != 0)
      throw Error(fmt::format("UNet config: {} channels at level {} not divisible by {} groups",
                              block_out_channels[i], i, norm_groups));
    if (attention[i] && (heads[i] <= 0 || block_out_channels[i] % heads[i] != 0))
      throw Error(fmt::format("UNet config: {} heads do not divide {} channels at level {}", heads[i],
                              block_out_channels[i], i));
  }
  if (block_out_channels.back() % mid_heads != 0)
    throw Error(fmt::format("UNet config: {} mid-block heads do not divide {} channels", mid_heads,
                            block_out_channels.back()));
  if (adm_in_channels > 0 && addition_time_embed_dim <= 0)
    throw Error("UNet config: adm_in_channels set without addition_time_embed_dim");
}

UNetConfig UNetConfig::sd15() {
  UNetConfig c;
  c.block_out_channels = {320, 640, 1280, 1280};
  c.attention = {true, true, true, false};
  c.heads = {8, 8, 8, 8};
  c.transformer_depth = {1, 1, 1, 1};
  c.mid_heads = 8;
  c.cross_attention_dim = 768;
  return c;
}

UNetConfig UNetConfig::sd2() {
  UNetConfig c = sd15();
  c.heads = {5, 10, 20, 20};
  c.mid_heads = 20;
  c.cross_attention_dim = 1024;
  c.linear_projection = true;
  return c;
}

UNetConfig UNetConfig::sdxl() {
  UNetConfig c;
  c.block_out_channels = {320, 640, 1280};
  c.attention = {false, true, true};
  c.heads = {5, 10, 20};
  c.transformer_depth = {1, 2, 10};
  c.mid_heads = 20;
  c.mid_transformer_depth = 10;
  c.cross_attention_dim = 2048;
  c.linear_projection = true;
  c.addition_time_embed_dim = 256;
  c.adm_in_channels = 2816;
  return c;
}

namespace {

// An int or a per-level list, as diffusers configs allow for several keys.
std::vector<std::int64_t> per_level(const nlohmann::json& v, std::size_t levels, const std::string& key,
                                    const std::string& source) {
  if (v.is_number_integer()) return std::vector<std::int64_t>(levels, v.get<std::int64_t>());
  if (v.is_array() && v.size() == levels) {
    std::vector<std::int64_t> out;
    for (const auto& e : v) {
      if (!e.is_number_integer()) break;
      out.push_back(e.get<std::int64_t>());
    }
    if (out.size() == levels) return out;
  }
  throw Error(fmt::format("{}: `{}` must be an integer or a list of {} integers, got {}", source, key, levels,
                          v.dump()));
}

// Keys whose non-default values this UNet does not implement, with the value it requires.
void require_value(const nlohmann::json& config, const std::string& key, const nlohmann::json& expected,
                   const std::string& source) {
  if (!config.contains(key) || config[key].is_null() || config[key] == expected) return;
  throw Error(fmt::format("{}: `{}` = {} is not supported (Lathe's UNet implements {} only)", source, key,
                          config[key].dump(), expected.dump()));
}

}  // namespace

UNetConfig unet_config_from_diffusers(const nlohmann::json& j, const std::string& source) {
  try {
    require_value(j, "act_fn", "silu", source);
    require_value(j, "flip_sin_to_cos", true, source);
    require_value(j, "freq_shift", 0, source);
    require_value(j, "norm_eps", 1e-5, source);
    require_value(j, "resnet_time_scale_shift", "default", source);
    require_value(j, "time_embedding_type", "positional", source);
    require_value(j, "mid_block_type", "UNetMidBlock2DCrossAttn", source);
    require_value(j, "conv_in_kernel", 3, source);
    require_value(j, "conv_out_kernel", 3, source);
    require_value(j, "class_embed_type", nullptr, source);
    require_value(j, "encoder_hid_dim_type", nullptr, source);
    require_value(j, "center_input_sample", false, source);
    require_value(j, "only_cross_attention", false, source);
    require_value(j, "dual_cross_attention", false, source);
    for (const char* key : {"block_out_channels", "down_block_types", "up_block_types", "cross_attention_dim"})
      if (!j.contains(key)) throw Error(fmt::format("{}: missing `{}`", source, key));

    UNetConfig c;
    c.in_channels = j.value("in_channels", 4);
    c.out_channels = j.value("out_channels", 4);
    c.block_out_channels = j.at("block_out_channels").get<std::vector<std::int64_t>>();
    const auto levels = c.block_out_channels.size();
    c.layers_per_block = j.value("layers_per_block", 2);
    c.norm_groups = j.value("norm_num_groups", 32);
    c.cross_attention_dim = j.at("cross_attention_dim").get<std::int64_t>();
    c.linear_projection = j.value("use_linear_projection", false);

    const auto down = j.at("down_block_types").get<std::vector<std::string>>();
    const auto up = j.at("up_block_types").get<std::vector<std::string>>();
    if (down.size() != levels || up.size() != levels)
      throw Error(fmt::format("{}: {} down and {} up block types for {} levels", source, down.size(), up.size(), levels));
    for (std::size_t i = 0; i < levels; ++i) {
      if (down[i] != "CrossAttnDownBlock2D" && down[i] != "DownBlock2D")
        throw Error(fmt::format("{}: down block type `{}` is not supported", source, down[i]));
      const bool attn = down[i] == "CrossAttnDownBlock2D";
      const std::string& mirror = up[levels - 1 - i];
      if (mirror != (attn ? "CrossAttnUpBlock2D" : "UpBlock2D"))
        throw Error(fmt::format("{}: up block `{}` does not mirror down block `{}` (level {})", source, mirror,
                                down[i], i));
      c.attention.push_back(attn);
    }
    // In SD configs `attention_head_dim` holds the number of heads (a diffusers naming quirk);
    // `num_attention_heads`, when set, is the head count proper.
    const auto& heads_key = j.contains("num_attention_heads") && !j["num_attention_heads"].is_null()
                                ? "num_attention_heads" : "attention_head_dim";
    c.heads = per_level(j.value(heads_key, nlohmann::json(8)), levels, heads_key, source);
    c.transformer_depth = per_level(j.value("transformer_layers_per_block", nlohmann::json(1)), levels,
                                    "transformer_layers_per_block", source);
    if (j.contains("reverse_transformer_layers_per_block") && !j["reverse_transformer_layers_per_block"].is_null())
      throw Error(fmt::format("{}: `reverse_transformer_layers_per_block` is not supported", source));
    c.mid_heads = c.heads.back();
    c.mid_transformer_depth = c.transformer_depth.back();

    const auto add_type = j.value("addition_embed_type", nlohmann::json());
    if (!add_type.is_null()) {
      if (add_type != "text_time")
        throw Error(fmt::format("{}: addition_embed_type {} is not supported", source, add_type.dump()));
      c.addition_time_embed_dim = j.at("addition_time_embed_dim").get<std::int64_t>();
      c.adm_in_channels = j.at("projection_class_embeddings_input_dim").get<std::int64_t>();
    }
    c.validate();
    return c;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: malformed UNet config: {}", source, e.what()));
  }
}

UNetConfig detect_unet_config(const std::map<std::string, std::vector<std::int64_t>>& shapes,
                              const std::string& source) {
  auto shape = [&](const std::string& key) -> const std::vector<std::int64_t>& {
    auto it = shapes.find(key);
    if (it == shapes.end())
      throw Error(fmt::format("{}: UNet tensor `{}` not found; is this an SD UNet?", source, key));
    return it->second;
  };
  auto has = [&](const std::string& key) { return shapes.count(key) > 0; };

  UNetConfig c;
  const auto& conv_in = shape("input_blocks.0.0.weight");
  c.in_channels = conv_in.at(1);
  c.out_channels = shape("out.2.weight").at(0);
  // layers_per_block: input blocks before the first downsampler.
  std::int64_t idx = 1;
  while (has(fmt::format("input_blocks.{}.0.in_layers.2.weight", idx))) ++idx;
  c.layers_per_block = idx - 1;
  if (c.layers_per_block < 1) throw Error(fmt::format("{}: no UNet resnet blocks found", source));
  const auto L = c.layers_per_block;
  for (std::int64_t level = 0;; ++level) {
    const auto first = 1 + (L + 1) * level;
    const auto key = fmt::format("input_blocks.{}.0.out_layers.3.weight", first);
    if (!has(key)) break;
    c.block_out_channels.push_back(shape(key).at(0));
    const auto attn_prefix = fmt::format("input_blocks.{}.1.", first);
    const bool attn = has(attn_prefix + "proj_in.weight");
    c.attention.push_back(attn);
    std::int64_t depth = 0;
    while (has(fmt::format("{}transformer_blocks.{}.attn1.to_q.weight", attn_prefix, depth))) ++depth;
    c.transformer_depth.push_back(std::max<std::int64_t>(depth, 1));
    if (attn) {
      c.linear_projection = shape(attn_prefix + "proj_in.weight").size() == 2;
      c.cross_attention_dim = shape(attn_prefix + "transformer_blocks.0.attn2.to_k.weight").at(1);
    }
    if (!has(fmt::format("input_blocks.{}.0.op.weight", first + L))) break;
  }
  std::int64_t mid_depth = 0;
  while (has(fmt::format("middle_block.1.transformer_blocks.{}.attn1.to_q.weight", mid_depth))) ++mid_depth;
  c.mid_transformer_depth = mid_depth;
  // (widths that are not multiples of 64, as in tiny test models, get one head per level)
  auto heads_for = [&](std::int64_t channels) -> std::int64_t {
    if (!c.linear_projection) return channels % 8 == 0 ? 8 : 1;
    return channels % 64 == 0 ? channels / 64 : 1;
  };
  for (auto ch : c.block_out_channels) c.heads.push_back(heads_for(ch));
  c.mid_heads = heads_for(c.block_out_channels.back());
  if (has("label_emb.0.0.weight")) {
    c.adm_in_channels = shape("label_emb.0.0.weight").at(1);
    c.addition_time_embed_dim = 256;  // SDXL: 2816 = 1280 pooled + 6 x 256
  }
  c.norm_groups = 32;
  c.validate();
  return c;
}

UNetImpl::UNetImpl(UNetConfig config) : config_(std::move(config)) {
  config_.validate();
  const auto& c = config_;
  const auto ch0 = c.block_out_channels[0];
  const auto temb = c.time_embed_dim();
  time_embed = register_module("time_embed", nn::Sequential(nn::Linear(ch0, temb), nn::SiLU(), nn::Linear(temb, temb)));
  if (c.adm_in_channels > 0) {
    // A ModuleList holds the inner Sequential (libtorch cannot nest a Sequential in a Sequential).
    label_emb = register_module("label_emb", nn::ModuleList(nn::Sequential(nn::Linear(c.adm_in_channels, temb),
                                                                           nn::SiLU(), nn::Linear(temb, temb))));
  }

  auto transformer = [&](std::int64_t ch, std::int64_t heads, std::int64_t depth) {
    return SpatialTransformer(ch, heads, depth, c.cross_attention_dim, c.linear_projection, c.norm_groups);
  };
  input_blocks = register_module("input_blocks", nn::ModuleList());
  input_blocks->push_back(nn::ModuleList(nn::Conv2d(nn::Conv2dOptions(c.in_channels, ch0, 3).padding(1))));
  std::vector<std::int64_t> skips{ch0};
  std::int64_t ch = ch0;
  for (std::int64_t level = 0; level < c.levels(); ++level) {
    const auto out_ch = c.block_out_channels[level];
    for (std::int64_t i = 0; i < c.layers_per_block; ++i) {
      nn::ModuleList block(ResBlock(ch, out_ch, temb, c.norm_groups));
      ch = out_ch;
      if (c.attention[level]) block->push_back(transformer(ch, c.heads[level], c.transformer_depth[level]));
      input_blocks->push_back(block);
      skips.push_back(ch);
    }
    if (level + 1 < c.levels()) {
      input_blocks->push_back(nn::ModuleList(Downsample(ch)));
      skips.push_back(ch);
    }
  }
  middle_block = register_module("middle_block", nn::ModuleList(ResBlock(ch, ch, temb, c.norm_groups),
                                                                transformer(ch, c.mid_heads, c.mid_transformer_depth),
                                                                ResBlock(ch, ch, temb, c.norm_groups)));
  output_blocks = register_module("output_blocks", nn::ModuleList());
  for (std::int64_t level = c.levels() - 1; level >= 0; --level) {
    const auto out_ch = c.block_out_channels[level];
    for (std::int64_t i = 0; i <= c.layers_per_block; ++i) {
      const auto skip = skips.back();
      skips.pop_back();
      nn::ModuleList block(ResBlock(ch + skip, out_ch, temb, c.norm_groups));
      ch = out_ch;
      if (c.attention[level]) block->push_back(transformer(ch, c.heads[level], c.transformer_depth[level]));
      if (level > 0 && i == c.layers_per_block) block->push_back(Upsample(ch));
      output_blocks->push_back(block);
    }
  }
  out = register_module("out", nn::Sequential(make_group_norm(c.norm_groups, ch, 1e-5), nn::SiLU(),
                                              nn::Conv2d(nn::Conv2dOptions(ch, c.out_channels, 3).padding(1))));
}

torch::Tensor UNetImpl::run_block(nn::ModuleList& block, torch::Tensor h, const torch::Tensor& emb,
                                  const torch::Tensor& context) {
  for (const auto& layer : *block) {
    if (auto* res = layer->as<ResBlockImpl>()) h = res->forward(h, emb);
    else if (auto* st = layer->as<SpatialTransformerImpl>()) h = st->forward(h, context);
    else if (auto* down = layer->as<DownsampleImpl>()) h = down->forward(h);
    else if (auto* up = layer->as<UpsampleImpl>()) h = up->forward(h);
    else if (auto* conv = layer->as<nn::Conv2dImpl>()) h = conv->forward(h);
    else throw Error(fmt::format("UNet: unexpected layer {}", layer->name()));
  }
  return h;
}

torch::Tensor UNetImpl::run_block_maybe_checkpointed(nn::ModuleList& block, const torch::Tensor& h,
                                                     const torch::Tensor& emb, const torch::Tensor& context) {
  if (!config_.gradient_checkpointing || !is_training() || !torch::GradMode::is_enabled())
    return run_block(block, h, emb, context);
  auto fn = [this, block](const std::vector<torch::Tensor>& in) mutable {
    return std::vector<torch::Tensor>{run_block(block, in[0], in[1], in[2])};
  };
  return checkpoint(fn, {h, emb, context})[0];
}

torch::Tensor UNetImpl::sdxl_vector(const torch::Tensor& text_embeds, const torch::Tensor& time_ids) const {
  TORCH_CHECK(time_ids.dim() == 2, "time_ids must be [B, n]");
  const auto b = time_ids.size(0);
  // [B*n] -> [B*n, D] -> [B, n*D]: the D features of time_ids[:, 0] first.
  auto features = timestep_features(time_ids.reshape({-1}), config_.addition_time_embed_dim, text_embeds.scalar_type());
  return torch::cat({text_embeds, features.reshape({b, -1})}, 1);
}

torch::Tensor UNetImpl::forward(const torch::Tensor& x, const torch::Tensor& timesteps, const torch::Tensor& context,
                                const torch::Tensor& y) {
  // Inputs follow the weights' dtype (bf16 base weights take fp32 latents and context, see
  // train/precision.h); the result comes back in x's dtype, so losses stay fp32. Under autocast
  // the weights stay fp32 and autocast picks the compute dtype.
  const auto in_dtype = x.scalar_type();
  const auto dtype = time_embed->ptr(0)->as<nn::LinearImpl>()->weight.scalar_type();
  auto as_weights = [dtype](const torch::Tensor& t) { return t.defined() && t.is_floating_point() ? t.to(dtype) : t; };
  const auto ctx = as_weights(context);
  auto emb = time_embed->forward(timestep_features(timesteps, config_.block_out_channels[0], dtype));  // [B, 4*C0]
  if (label_emb) {
    TORCH_CHECK(y.defined(), "this UNet (SDXL) needs the added vector y [B, adm_in_channels]");
    emb = emb + label_emb[0]->as<nn::SequentialImpl>()->forward(as_weights(y));
  }
  std::vector<torch::Tensor> skips;
  auto h = as_weights(x);
  for (const auto& block : *input_blocks) {
    auto list = std::dynamic_pointer_cast<nn::ModuleListImpl>(block);
    nn::ModuleList holder(list);
    h = run_block_maybe_checkpointed(holder, h, emb, ctx);
    skips.push_back(h);
  }
  {
    h = run_block_maybe_checkpointed(middle_block, h, emb, ctx);
  }
  for (const auto& block : *output_blocks) {
    nn::ModuleList holder(std::dynamic_pointer_cast<nn::ModuleListImpl>(block));
    h = torch::cat({h, skips.back()}, 1);  // [B, C + Cskip, H, W]
    skips.pop_back();
    h = run_block_maybe_checkpointed(holder, h, emb, ctx);
  }
  return out->forward(h).to(in_dtype);
}

}  // namespace lathe
