// The Stage C prior (see stage_c.h). Reference: diffusers StableCascadeUNet (forward,
// _down_encode, _up_decode, get_clip_embeddings); Stability's StageC.
#include "models/stage_c.h"

#include <ATen/Context.h>
#include <fmt/format.h>

#include <mutex>

#include "common/error.h"
#include "models/grad_checkpoint.h"
#include "models/module_adapter.h"

namespace lathe {

namespace nn = torch::nn;

namespace {

// checkpoint() with the random state of the forward replayed in the recompute, so the dropout
// masks of the recomputed block are the forward's (torch.utils.checkpoint's preserve_rng_state);
// the generator is put back afterwards, so the rest of the backward draws nothing differently.
torch::Tensor checkpoint_keeping_rng(const TensorFn& fn, const std::vector<torch::Tensor>& inputs,
                                     const torch::Device& device) {
  at::Generator gen = at::globalContext().defaultGenerator(device);
  torch::Tensor forward_state;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    forward_state = gen.get_state();
  }
  auto calls = std::make_shared<int>(0);
  TensorFn replaying = [fn, gen, forward_state, calls](const std::vector<torch::Tensor>& in) mutable {
    if ((*calls)++ == 0) return fn(in);
    torch::Tensor outer;
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      outer = gen.get_state();
      gen.set_state(forward_state);
    }
    auto restore = [&] {
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(outer);
    };
    try {
      auto out = fn(in);
      restore();
      return out;
    } catch (...) {
      restore();
      throw;
    }
  };
  return checkpoint(replaying, inputs)[0];
}

// Up/down mapping between levels: Sequential(0 channel LayerNorm, 1 UpDownBlock2d) whose
// `blocks` are [conv, Identity] (down) or [Identity, conv] (up), interpolation being off
// (switch_level false).
nn::ModuleList level_mapper(const nn::Conv2d& conv, bool up) {
  auto updown = std::make_shared<nn::Module>();
  auto blocks = up ? nn::ModuleList(nn::Identity(), conv) : nn::ModuleList(conv, nn::Identity());
  updown->register_module("blocks", blocks);
  return nn::ModuleList(StageCChannelNorm(), updown);
}

}  // namespace

StageCImpl::StageCImpl(StageCConfig config) : config_(std::move(config)) {
  config_.validate("Stage C");
  const auto& c = config_;
  const std::int64_t levels = c.levels();
  const std::int64_t c_cond = c.conditioning_dim;
  // Registration order is the reference's: named_modules() (and so the LoRA target list)
  // walks the modules in the order OneTrainer's does.
  clip_txt_pooled_mapper = register_module("clip_txt_pooled_mapper",
                                           nn::Linear(c.clip_text_pooled_in_channels, c_cond * c.clip_seq));
  clip_txt_mapper = register_module("clip_txt_mapper", nn::Linear(c.clip_text_in_channels, c_cond));
  clip_img_mapper = register_module("clip_img_mapper", nn::Linear(c.clip_image_in_channels, c_cond * c.clip_seq));
  embedding_conv = nn::Conv2d(nn::Conv2dOptions(c.in_channels, c.widths[0], 1));
  embedding = register_module("embedding", nn::Sequential(nn::Identity(), embedding_conv, StageCChannelNorm()));

  down_blocks = register_module("down_blocks", nn::ModuleList());
  down_downscalers = register_module("down_downscalers", nn::ModuleList());
  down_repeat_mappers = register_module("down_repeat_mappers", nn::ModuleList());
  for (std::int64_t i = 0; i < levels; ++i) {
    if (i > 0) {
      down_maps.push_back(nn::Conv2d(nn::Conv2dOptions(c.widths[i - 1], c.widths[i], 1)));
      down_downscalers->push_back(level_mapper(down_maps.back(), /*up=*/false));
    } else {
      down_downscalers->push_back(nn::Identity());
    }
    nn::ModuleList level;
    for (std::int64_t l = 0; l < c.down_layers[i]; ++l) {
      level->push_back(StageCResBlock(c.widths[i], 0, c.kernel_size, c.dropout[i]));
      level->push_back(StageCTimestepBlock(c.widths[i], c.timestep_ratio_embedding_dim));
      level->push_back(StageCAttnBlock(c.widths[i], c_cond, c.heads[i], c.dropout[i]));
    }
    down_blocks->push_back(level);
    down_repeat_mappers->push_back(nn::ModuleList());
  }

  up_blocks = register_module("up_blocks", nn::ModuleList());
  up_upscalers = register_module("up_upscalers", nn::ModuleList());
  up_repeat_mappers = register_module("up_repeat_mappers", nn::ModuleList());
  for (std::int64_t i = levels - 1; i >= 0; --i) {
    if (i > 0) {
      up_maps.push_back(nn::Conv2d(nn::Conv2dOptions(c.widths[i], c.widths[i - 1], 1)));
      up_upscalers->push_back(level_mapper(up_maps.back(), /*up=*/true));
    } else {
      up_upscalers->push_back(nn::Identity());
    }
    nn::ModuleList level;
    for (std::int64_t l = 0; l < c.up_layers[i]; ++l) {
      const std::int64_t c_skip = (i < levels - 1 && l == 0) ? c.widths[i] : 0;
      level->push_back(StageCResBlock(c.widths[i], c_skip, c.kernel_size, c.dropout[i]));
      level->push_back(StageCTimestepBlock(c.widths[i], c.timestep_ratio_embedding_dim));
      level->push_back(StageCAttnBlock(c.widths[i], c_cond, c.heads[i], c.dropout[i]));
    }
    up_blocks->push_back(level);
    up_repeat_mappers->push_back(nn::ModuleList());
  }

  clf_conv = nn::Conv2d(nn::Conv2dOptions(c.widths[0], c.out_channels, 1));
  clf = register_module("clf", nn::Sequential(StageCChannelNorm(), clf_conv, nn::Identity()));
}

torch::Tensor StageCImpl::r_embedding(const torch::Tensor& timestep_ratio) const {
  TORCH_CHECK(timestep_ratio.dim() == 1, "Stage C: timestep_ratio must be [B]");
  const auto dim = config_.timestep_ratio_embedding_dim;
  auto r = stage_c_timestep_ratio_embedding(timestep_ratio, dim);
  auto zero = stage_c_timestep_ratio_embedding(torch::zeros_like(timestep_ratio), dim);  // sca, crp
  return torch::cat({r, zero, zero}, 1);
}

torch::Tensor StageCImpl::clip_embeddings(const torch::Tensor& clip_text_pooled, const torch::Tensor& clip_text,
                                          const torch::Tensor& clip_img) {
  auto pooled_in = clip_text_pooled.dim() == 2 ? clip_text_pooled.unsqueeze(1) : clip_text_pooled;
  const auto b = pooled_in.size(0);
  auto pooled = adapted_forward(clip_txt_pooled_mapper, pooled_in)
                    .view({b, pooled_in.size(1) * config_.clip_seq, -1});
  torch::Tensor clip = pooled;
  if (clip_text.defined() && clip_img.defined()) {
    auto img_in = clip_img.dim() == 2 ? clip_img.unsqueeze(1) : clip_img;
    auto text = adapted_forward(clip_txt_mapper, clip_text);
    auto img = adapted_forward(clip_img_mapper, img_in).view({b, img_in.size(1) * config_.clip_seq, -1});
    clip = torch::cat({text, pooled, img}, 1);
  }
  return torch::layer_norm(clip, {config_.conditioning_dim}, {}, {}, 1e-6);
}

torch::Tensor StageCImpl::run_block(const std::shared_ptr<nn::Module>& block, const torch::Tensor& x,
                                    const torch::Tensor& r_embed, const torch::Tensor& clip,
                                    const torch::Tensor& skip) {
  if (auto* res = block->as<StageCResBlockImpl>()) return res->forward(x, skip);
  if (auto* ts = block->as<StageCTimestepBlockImpl>()) return ts->forward(x, r_embed);
  if (auto* attn = block->as<StageCAttnBlockImpl>()) return attn->forward(x, clip);
  throw Error(fmt::format("Stage C: unexpected block {}", block->name()));
}

torch::Tensor StageCImpl::run_block_maybe_checkpointed(const std::shared_ptr<nn::Module>& block,
                                                       const torch::Tensor& x, const torch::Tensor& r_embed,
                                                       const torch::Tensor& clip, const torch::Tensor& skip) {
  if (!config_.gradient_checkpointing || !is_training() || !torch::GradMode::is_enabled())
    return run_block(block, x, r_embed, clip, skip);
  TensorFn fn = [this, block](const std::vector<torch::Tensor>& in) {
    return std::vector<torch::Tensor>{run_block(block, in[0], in[1], in[2], in[3])};
  };
  return checkpoint_keeping_rng(fn, {x, r_embed, clip, skip}, x.device());
}

torch::Tensor StageCImpl::forward_with(const torch::Tensor& sample, const torch::Tensor& r_embed,
                                       const torch::Tensor& clip) {
  const std::int64_t levels = config_.levels();
  auto x = stage_c_channel_norm(adapted_forward(embedding_conv, sample));
  std::vector<torch::Tensor> level_outputs;  // deepest first, as the reference keeps them
  for (std::int64_t i = 0; i < levels; ++i) {
    if (i > 0) x = adapted_forward(down_maps[i - 1], stage_c_channel_norm(x));
    for (const auto& block : *down_blocks[i]->as<nn::ModuleListImpl>())
      x = run_block_maybe_checkpointed(block, x, r_embed, clip, {});
    level_outputs.insert(level_outputs.begin(), x);
  }
  x = level_outputs[0];
  for (std::int64_t k = 0; k < levels; ++k) {
    const auto& level = *up_blocks[k]->as<nn::ModuleListImpl>();
    for (std::size_t j = 0; j < level.size(); ++j) {
      // The first ResBlock of every level but the deepest takes the down path's output.
      const torch::Tensor skip = (j == 0 && k > 0) ? level_outputs[k] : torch::Tensor();
      x = run_block_maybe_checkpointed(level.ptr(j), x, r_embed, clip, skip);
    }
    if (k < levels - 1) x = adapted_forward(up_maps[k], stage_c_channel_norm(x));
  }
  return adapted_forward(clf_conv, stage_c_channel_norm(x));
}

torch::Tensor StageCImpl::forward(const torch::Tensor& sample, const torch::Tensor& timestep_ratio,
                                  const torch::Tensor& clip_text_pooled, const torch::Tensor& clip_text,
                                  const torch::Tensor& clip_img) {
  TORCH_CHECK(sample.dim() == 4 && sample.size(1) == config_.in_channels,
              "Stage C: sample must be [B, ", config_.in_channels, ", H, W]");
  return forward_with(sample, r_embedding(timestep_ratio), clip_embeddings(clip_text_pooled, clip_text, clip_img));
}

}  // namespace lathe
