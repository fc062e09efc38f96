// The shape of Stable Cascade's EfficientNet image encoder (Stability's EfficientNetEncoder,
// OneTrainer's WuerstchenEfficientNetEncoder): torchvision's efficientnet_v2_s().features as
// `backbone` and a 1x1 conv + non-affine BatchNorm to 16 channels as `mapper`. The config is
// read from a file's tensor shapes (stage widths, depths, expand ratios, SE widths), so the real
// encoder and the tiny test encoder load through the same code; strides are the v2_s
// architecture's own and cannot be seen in the weights. Torch-free: the expected key/shape
// table of a config is computed here, so a file's header can be checked without building the
// network.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace lathe {

// torchvision's two block types: FusedMBConv (3x3 expand conv, 1x1 project) and MBConv (1x1
// expand, depthwise conv, squeeze-excitation, 1x1 project).
enum class EffNetBlockKind { Fused, MB };

struct EffNetStage {
  EffNetBlockKind kind = EffNetBlockKind::Fused;
  int64_t expand_ratio = 1;
  int64_t kernel = 3;
  int64_t stride = 1;          // of the stage's first block; the rest use 1
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t num_layers = 1;
};

struct EffNetConfig {
  int64_t stem_channels = 24;
  std::vector<EffNetStage> stages;
  int64_t head_channels = 1280;  // the 1x1 conv closing `features`
  int64_t latent_channels = 16;  // mapper output (Stage C's c_in)
  double backbone_bn_eps = 1e-3;  // torchvision EfficientNetV2 norm_layer
  double mapper_bn_eps = 1e-5;    // nn.BatchNorm2d default

};

// Expanded width of a block with `in` input channels (torchvision's _make_divisible(in * ratio,
// 8)) and its squeeze-excitation width (max(1, in / 4)).
int64_t effnet_expanded_channels(int64_t in, int64_t expand_ratio);
int64_t effnet_squeeze_channels(int64_t in);

// Input channels and stride of layer `layer` of a stage (only the first takes the stage's).
int64_t effnet_block_in_channels(const EffNetStage& stage, int64_t layer);
int64_t effnet_block_stride(const EffNetStage& stage, int64_t layer);

// torchvision's efficientnet_v2_s block list at full width (the encoder users download).
EffNetConfig efficientnet_v2_s_config();

// Every key of an encoder file with this config and its shape, as torchvision names them
// (`backbone.S.L.block.I.0.weight`, BatchNorm running stats and num_batches_tracked, SE
// `fc1`/`fc2`, `mapper.0.weight`, `mapper.1.running_*`).
std::map<std::string, std::vector<int64_t>> effnet_tensor_shapes(const EffNetConfig& config);

// Reads the config from a file's key -> shape table. Throws lathe::Error naming `source` and
// the missing or malformed key when the tensors are not an EfficientNetV2-S style encoder
// (wrong stage count, a block that is neither FusedMBConv nor MBConv, widths that disagree).
EffNetConfig detect_effnet_config(const std::map<std::string, std::vector<int64_t>>& shapes,
                                  const std::string& source);

// Differences between a file's shapes and those of `expected`: "missing K", "unexpected K",
// "K: shape [..] but [..] expected". num_batches_tracked keys are optional (unused in eval).
std::vector<std::string> effnet_shape_problems(
    const std::map<std::string, std::vector<int64_t>>& shapes,
    const std::map<std::string, std::vector<int64_t>>& expected);

// Checks that an encoder file's header is the real EfficientNetV2-S encoder (784 keys, 20.2M
// parameters); throws lathe::Error naming `source` and the first differing keys otherwise.
void check_real_effnet_shapes(const std::map<std::string, std::vector<int64_t>>& shapes,
                              const std::string& source);

// A file's key -> shape table from its safetensors header (no tensor data read).
std::map<std::string, std::vector<int64_t>> safetensors_shapes(const std::filesystem::path& path);

}  // namespace lathe
