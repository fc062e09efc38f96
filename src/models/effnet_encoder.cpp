// EfficientNet encoder modules (see effnet_encoder.h). Each Conv2dNormActivation is a
// Sequential (conv "0", BatchNorm "1", SiLU "2" when activated) so the children's indices are
// torchvision's and named_parameters() gives the file's keys without a name map.
#include "models/effnet_encoder.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include "common/error.h"
#include "io/safetensors.h"
#include "models/checkpoint.h"
#include "models/tensor_io.h"

namespace lathe {
namespace {

namespace nn = torch::nn;

// torchvision Conv2dNormActivation: conv (padding (k-1)/2, no bias), BatchNorm, SiLU.
EffNetSequential conv_norm(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups,
                           double bn_eps, bool activation) {
  EffNetSequential seq(
      nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding((kernel - 1) / 2).groups(groups).bias(false)),
      nn::BatchNorm2d(nn::BatchNormOptions(out).eps(bn_eps)));
  if (activation) seq->push_back(nn::SiLU());
  return seq;
}

}  // namespace

EffNetSqueezeExcitationImpl::EffNetSqueezeExcitationImpl(int64_t channels, int64_t squeeze) {
  fc1 = register_module("fc1", nn::Conv2d(nn::Conv2dOptions(channels, squeeze, 1)));
  fc2 = register_module("fc2", nn::Conv2d(nn::Conv2dOptions(squeeze, channels, 1)));
}

torch::Tensor EffNetSqueezeExcitationImpl::forward(const torch::Tensor& x) {
  auto scale = torch::adaptive_avg_pool2d(x, {1, 1});  // [B, C, 1, 1]
  scale = torch::sigmoid(fc2(torch::silu(fc1(scale))));
  return x * scale;
}

EffNetBlockImpl::EffNetBlockImpl(const EffNetStage& stage, int64_t layer, double bn_eps) {
  const int64_t in = effnet_block_in_channels(stage, layer);
  const int64_t stride = effnet_block_stride(stage, layer);
  const int64_t expanded = effnet_expanded_channels(in, stage.expand_ratio);
  const int64_t out = stage.out_channels;
  residual = stride == 1 && in == out;
  block = EffNetSequential();
  if (stage.kind == EffNetBlockKind::Fused) {
    if (expanded != in) {
      block->push_back(conv_norm(in, expanded, stage.kernel, stride, 1, bn_eps, true));  // fused expand
      block->push_back(conv_norm(expanded, out, 1, 1, 1, bn_eps, false));              // project
    } else {
      block->push_back(conv_norm(in, out, stage.kernel, stride, 1, bn_eps, true));
    }
  } else {
    if (expanded != in) block->push_back(conv_norm(in, expanded, 1, 1, 1, bn_eps, true));  // expand
    block->push_back(conv_norm(expanded, expanded, stage.kernel, stride, expanded, bn_eps, true));  // depthwise
    block->push_back(EffNetSqueezeExcitation(expanded, effnet_squeeze_channels(in)));
    block->push_back(conv_norm(expanded, out, 1, 1, 1, bn_eps, false));  // project
  }
  register_module("block", block);
}

torch::Tensor EffNetBlockImpl::forward(const torch::Tensor& x) {
  auto out = block->forward(x);
  // torchvision: stochastic_depth(result) + input; stochastic depth is the identity in eval.
  return residual ? out + x : out;
}

EffNetEncoderImpl::EffNetEncoderImpl(const EffNetConfig& config) : config_(config) {
  backbone = EffNetSequential();
  backbone->push_back(conv_norm(3, config.stem_channels, 3, 2, 1, config.backbone_bn_eps, true));
  for (const auto& stage : config.stages) {
    EffNetSequential blocks;
    for (int64_t layer = 0; layer < stage.num_layers; ++layer)
      blocks->push_back(EffNetBlock(stage, layer, config.backbone_bn_eps));
    backbone->push_back(blocks);
  }
  const int64_t last = config.stages.empty() ? config.stem_channels : config.stages.back().out_channels;
  backbone->push_back(conv_norm(last, config.head_channels, 1, 1, 1, config.backbone_bn_eps, true));
  register_module("backbone", backbone);

  mapper = EffNetSequential(
      nn::Conv2d(nn::Conv2dOptions(config.head_channels, config.latent_channels, 1).bias(false)),
      nn::BatchNorm2d(nn::BatchNormOptions(config.latent_channels).eps(config.mapper_bn_eps).affine(false)));
  register_module("mapper", mapper);
  train(false);
}

torch::Tensor EffNetEncoderImpl::features(const torch::Tensor& image) { return backbone->forward(image); }

torch::Tensor EffNetEncoderImpl::latent_from_features(const torch::Tensor& features) {
  return mapper->forward(features);
}

torch::Tensor EffNetEncoderImpl::forward(const torch::Tensor& image) {
  return latent_from_features(features(image));
}

void EffNetEncoderImpl::train(bool /*on*/) { nn::Module::train(false); }

EffNetEncoder load_effnet_encoder(const std::filesystem::path& path, torch::Dtype dtype, torch::Device device) {
  const std::string source = path.string();
  if (!std::filesystem::exists(path))
    throw Error(fmt::format("{}: no such effnet encoder file; Stable Cascade needs Stability's "
                            "effnet_encoder.safetensors (the EfficientNetV2-S image encoder)",
                            source));
  const SafetensorsFile file(path);
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& info : file.header().tensors) shapes[info.name] = info.shape;
  const EffNetConfig config = detect_effnet_config(shapes, source);
  const auto problems = effnet_shape_problems(shapes, effnet_tensor_shapes(config));
  if (!problems.empty())
    throw Error(fmt::format("{}: the effnet encoder's tensors do not fit together ({}: {})", source,
                            problems.size(), list_some(problems, 3)));

  EffNetEncoder encoder(config);
  torch::NoGradGuard no_grad;
  auto fill = [&](const std::string& key, torch::Tensor& target, torch::Dtype as) {
    if (!file.contains(key)) return;  // only num_batches_tracked may be absent (checked above)
    const auto view = file.view(key);
    try {
      target.set_data(tensor_from_view(view, as));
    } catch (const Error& e) {
      throw Error(fmt::format("{}: tensor {}: {}", source, key, e.what()));
    }
    file.release(view);
  };
  for (auto& p : encoder->named_parameters()) fill(p.key(), p.value(), dtype);
  for (auto& b : encoder->named_buffers())
    fill(b.key(), b.value(), b.value().is_floating_point() ? dtype : b.value().scalar_type());
  encoder->to(device);
  encoder->eval();
  return encoder;
}

}  // namespace lathe
