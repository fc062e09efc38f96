// Stable Cascade's EfficientNet image encoder (Stability's EfficientNetEncoder = OneTrainer's
// WuerstchenEfficientNetEncoder(affine_batch_norm=False)): torchvision's efficientnet_v2_s()
// `features` as `backbone` (stem 3x3 s2 conv + BN + SiLU, FusedMBConv and MBConv stages, 1x1
// head conv to 1280), then `mapper` = 1x1 conv to 16 channels + BatchNorm without affine.
// Registered under the encoder file's own key names, so named_parameters()/named_buffers()
// are the file's keys. It makes Stage C's latents from ImageNet-normalized images (see
// effnet_image.h) and is inference-only: BatchNorm uses its running statistics and stochastic
// depth is the identity, as in torchvision's eval mode.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <filesystem>

#include "models/effnet_config.h"

namespace lathe {

// A Sequential with a plain Tensor -> Tensor forward, so Sequentials can nest (libtorch's
// templated Sequential::forward cannot be stored in another Sequential).
struct EffNetSequentialImpl : torch::nn::SequentialImpl {
  using SequentialImpl::SequentialImpl;
  torch::Tensor forward(torch::Tensor x) { return SequentialImpl::forward(std::move(x)); }
};
TORCH_MODULE(EffNetSequential);

// torchvision SqueezeExcitation: x * sigmoid(fc2(silu(fc1(avgpool(x))))).
struct EffNetSqueezeExcitationImpl : torch::nn::Module {
  EffNetSqueezeExcitationImpl(int64_t channels, int64_t squeeze);
  torch::Tensor forward(const torch::Tensor& x);  // [B, C, H, W] -> same
  torch::nn::Conv2d fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(EffNetSqueezeExcitation);

// torchvision FusedMBConv / MBConv: `block` (a Sequential of Conv2dNormActivation children and,
// for MBConv, the squeeze-excitation) plus the residual when stride 1 and in == out.
struct EffNetBlockImpl : torch::nn::Module {
  EffNetBlockImpl(const EffNetStage& stage, int64_t layer, double bn_eps);
  torch::Tensor forward(const torch::Tensor& x);
  EffNetSequential block{nullptr};
  bool residual = false;
};
TORCH_MODULE(EffNetBlock);

struct EffNetEncoderImpl : torch::nn::Module {
  explicit EffNetEncoderImpl(const EffNetConfig& config);

  // ImageNet-normalized RGB [B, 3, H, W] -> backbone features [B, 1280, ceil(H/32), ceil(W/32)].
  torch::Tensor features(const torch::Tensor& image);
  // Backbone features -> latent [B, 16, h, w] (the mapper; no scaling for Stable Cascade).
  torch::Tensor latent_from_features(const torch::Tensor& features);
  torch::Tensor forward(const torch::Tensor& image);  // latent_from_features(features(image))

  // Stays in eval mode whatever is asked: Lathe never trains the encoder, and training mode
  // would switch BatchNorm to batch statistics and update the running ones.
  void train(bool on = true) override;

  const EffNetConfig& config() const { return config_; }

  EffNetSequential backbone{nullptr};
  EffNetSequential mapper{nullptr};

 private:
  EffNetConfig config_;
};
TORCH_MODULE(EffNetEncoder);

// Opens an encoder file (Stability's effnet_encoder.safetensors or any file with its key names,
// float32 / bfloat16 / float16), reads the config from its shapes, and loads every parameter
// and BatchNorm statistic converted to `dtype` on `device`, in eval mode. num_batches_tracked
// may be absent. Throws lathe::Error naming the file and the first missing, unexpected or
// misshapen keys.
EffNetEncoder load_effnet_encoder(const std::filesystem::path& path, torch::Dtype dtype = torch::kFloat32,
                                  torch::Device device = torch::kCPU);

}  // namespace lathe
