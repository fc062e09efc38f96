// EfficientNet encoder config: the v2_s block list, the key/shape table of a config and its
// inverse (detect_effnet_config). Layer order follows torchvision's efficientnet.py: a block's
// `block` Sequential holds Conv2dNormActivation children (conv "0", BatchNorm "1") and, in
// MBConv, the SqueezeExcitation (fc1, fc2) between the depthwise and the project conv.
#include "models/effnet_config.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "io/safetensors.h"
#include "models/checkpoint.h"

namespace lathe {
namespace {

using ShapeMap = std::map<std::string, std::vector<int64_t>>;

// Strides of efficientnet_v2_s's six stages: the weights do not carry them.
constexpr int64_t kV2SStrides[] = {1, 2, 2, 2, 1, 2};
constexpr std::size_t kV2SStageCount = 6;

std::string shape_text(const std::vector<int64_t>& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

// Conv2dNormActivation at `prefix`: conv "0" (no bias) and BatchNorm "1".
void add_conv_norm(ShapeMap& out, const std::string& prefix, int64_t out_ch, int64_t in_ch,
                   int64_t kernel, int64_t groups = 1) {
  out[prefix + "0.weight"] = {out_ch, in_ch / groups, kernel, kernel};
  for (const char* name : {"weight", "bias", "running_mean", "running_var"})
    out[prefix + "1." + name] = {out_ch};
  out[prefix + "1.num_batches_tracked"] = {};
}

void add_block(ShapeMap& out, const std::string& prefix, const EffNetStage& stage, int64_t layer) {
  const int64_t in = effnet_block_in_channels(stage, layer);
  const int64_t expanded = effnet_expanded_channels(in, stage.expand_ratio);
  const std::string block = prefix + "block.";
  if (stage.kind == EffNetBlockKind::Fused) {
    if (expanded != in) {
      add_conv_norm(out, block + "0.", expanded, in, stage.kernel);
      add_conv_norm(out, block + "1.", stage.out_channels, expanded, 1);
    } else {
      add_conv_norm(out, block + "0.", stage.out_channels, in, stage.kernel);
    }
    return;
  }
  int index = 0;
  if (expanded != in) add_conv_norm(out, block + std::to_string(index++) + ".", expanded, in, 1);
  add_conv_norm(out, block + std::to_string(index++) + ".", expanded, expanded, stage.kernel, expanded);
  const int64_t squeeze = effnet_squeeze_channels(in);
  const std::string se = block + std::to_string(index++) + ".";
  out[se + "fc1.weight"] = {squeeze, expanded, 1, 1};
  out[se + "fc1.bias"] = {squeeze};
  out[se + "fc2.weight"] = {expanded, squeeze, 1, 1};
  out[se + "fc2.bias"] = {expanded};
  add_conv_norm(out, block + std::to_string(index) + ".", stage.out_channels, expanded, 1);
}

// Reads shapes of one file, throwing with the file and key when one is missing or misshapen.
class ShapeReader {
 public:
  ShapeReader(const ShapeMap& shapes, const std::string& source) : shapes_(shapes), source_(source) {}

  bool has(const std::string& key) const { return shapes_.count(key) > 0; }

  const std::vector<int64_t>& get(const std::string& key, std::size_t rank) const {
    auto it = shapes_.find(key);
    if (it == shapes_.end())
      fail(fmt::format("has no tensor {}", key));
    if (it->second.size() != rank)
      fail(fmt::format("tensor {} has shape {}; a {}-d tensor was expected", key, shape_text(it->second), rank));
    return it->second;
  }

  // Distinct integer children of `prefix` ("backbone." -> 0..7), checked to be 0..n-1.
  int64_t count_children(const std::string& prefix) const {
    std::set<int64_t> seen;
    for (const auto& kv : shapes_) {
      if (kv.first.rfind(prefix, 0) != 0) continue;
      const std::string rest = kv.first.substr(prefix.size());
      const auto dot = rest.find('.');
      try {
        seen.insert(std::stoll(rest.substr(0, dot)));
      } catch (const std::exception&) {
        fail(fmt::format("tensor {} is not part of an EfficientNet encoder", kv.first));
      }
    }
    const int64_t n = static_cast<int64_t>(seen.size());
    for (int64_t i = 0; i < n; ++i)
      if (!seen.count(i)) fail(fmt::format("has no {}{}.* tensors though {}{}.* exist", prefix, i, prefix, *seen.rbegin()));
    return n;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(fmt::format("{}: {}; this is not an EfficientNetV2-S encoder file (Stable Cascade's "
                            "effnet_encoder.safetensors, keys backbone.* and mapper.*)",
                            source_, what));
  }

 private:
  const ShapeMap& shapes_;
  std::string source_;
};

EffNetStage detect_stage(const ShapeReader& reader, int64_t index, int64_t in_channels) {
  const std::string prefix = fmt::format("backbone.{}.", index);
  const std::string first = prefix + "0.block.";
  EffNetStage stage;
  stage.stride = kV2SStrides[index - 1];
  stage.in_channels = in_channels;
  stage.num_layers = reader.count_children(prefix);
  if (stage.num_layers == 0) reader.fail(fmt::format("stage {} has no blocks", prefix));
  const auto& conv0 = reader.get(first + "0.0.weight", 4);
  if (conv0[1] != in_channels && conv0[1] != 1)
    reader.fail(fmt::format("{}0.0.weight takes {} channels but the previous stage gives {}", first,
                            conv0[1], in_channels));
  int64_t expanded = in_channels;
  if (reader.has(first + "1.fc1.weight") || reader.has(first + "2.fc1.weight")) {
    stage.kind = EffNetBlockKind::MB;
    const bool has_expand = conv0[1] != 1;  // a depthwise conv first means expand ratio 1
    if (has_expand) expanded = conv0[0];
    const int depthwise = has_expand ? 1 : 0;
    stage.kernel = reader.get(fmt::format("{}{}.0.weight", first, depthwise), 4)[3];
    stage.out_channels = reader.get(fmt::format("{}{}.0.weight", first, depthwise + 2), 4)[0];
  } else {
    stage.kind = EffNetBlockKind::Fused;
    stage.kernel = conv0[3];
    if (reader.has(first + "1.0.weight")) {
      expanded = conv0[0];
      stage.out_channels = reader.get(first + "1.0.weight", 4)[0];
    } else {
      stage.out_channels = conv0[0];
    }
  }
  stage.expand_ratio = std::max<int64_t>(1, (expanded + in_channels / 2) / in_channels);
  if (effnet_expanded_channels(in_channels, stage.expand_ratio) != expanded)
    reader.fail(fmt::format("{}0 expands {} channels to {}, which is no integer expand ratio", prefix,
                            in_channels, expanded));
  return stage;
}

}  // namespace

int64_t effnet_expanded_channels(int64_t in, int64_t expand_ratio) {
  const int64_t divisor = 8;
  const double v = static_cast<double>(in * expand_ratio);
  int64_t rounded = std::max<int64_t>(divisor, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (rounded < 0.9 * v) rounded += divisor;  // never round down by more than 10%
  return rounded;
}

int64_t effnet_squeeze_channels(int64_t in) { return std::max<int64_t>(1, in / 4); }

int64_t effnet_block_in_channels(const EffNetStage& stage, int64_t layer) {
  return layer == 0 ? stage.in_channels : stage.out_channels;
}

int64_t effnet_block_stride(const EffNetStage& stage, int64_t layer) { return layer == 0 ? stage.stride : 1; }

EffNetConfig efficientnet_v2_s_config() {
  using K = EffNetBlockKind;
  EffNetConfig c;
  c.stem_channels = 24;
  // kind, expand, kernel, stride, in, out, layers (torchvision _efficientnet_conf "efficientnet_v2_s")
  c.stages = {{K::Fused, 1, 3, 1, 24, 24, 2},   {K::Fused, 4, 3, 2, 24, 48, 4},
              {K::Fused, 4, 3, 2, 48, 64, 4},   {K::MB, 4, 3, 2, 64, 128, 6},
              {K::MB, 6, 3, 1, 128, 160, 9},    {K::MB, 6, 3, 2, 160, 256, 15}};
  return c;
}

std::map<std::string, std::vector<int64_t>> effnet_tensor_shapes(const EffNetConfig& config) {
  ShapeMap out;
  add_conv_norm(out, "backbone.0.", config.stem_channels, 3, 3);
  for (std::size_t s = 0; s < config.stages.size(); ++s)
    for (int64_t layer = 0; layer < config.stages[s].num_layers; ++layer)
      add_block(out, fmt::format("backbone.{}.{}.", s + 1, layer), config.stages[s], layer);
  const int64_t last = config.stages.empty() ? config.stem_channels : config.stages.back().out_channels;
  add_conv_norm(out, fmt::format("backbone.{}.", config.stages.size() + 1), config.head_channels, last, 1);
  out["mapper.0.weight"] = {config.latent_channels, config.head_channels, 1, 1};
  out["mapper.1.running_mean"] = {config.latent_channels};
  out["mapper.1.running_var"] = {config.latent_channels};
  out["mapper.1.num_batches_tracked"] = {};
  return out;
}

EffNetConfig detect_effnet_config(const std::map<std::string, std::vector<int64_t>>& shapes,
                                  const std::string& source) {
  const ShapeReader reader(shapes, source);
  EffNetConfig config;
  const auto& stem = reader.get("backbone.0.0.weight", 4);
  if (stem[1] != 3) reader.fail(fmt::format("backbone.0.0.weight takes {} channels, not RGB", stem[1]));
  config.stem_channels = stem[0];
  const int64_t children = reader.count_children("backbone.");
  if (children != static_cast<int64_t>(kV2SStageCount) + 2)
    reader.fail(fmt::format("backbone has {} stages; EfficientNetV2-S has {} between the stem and the head",
                            std::max<int64_t>(0, children - 2), kV2SStageCount));
  int64_t channels = config.stem_channels;
  for (int64_t s = 1; s <= static_cast<int64_t>(kV2SStageCount); ++s) {
    config.stages.push_back(detect_stage(reader, s, channels));
    channels = config.stages.back().out_channels;
  }
  const std::string head = fmt::format("backbone.{}.0.weight", kV2SStageCount + 1);
  const auto& head_shape = reader.get(head, 4);
  if (head_shape[1] != channels)
    reader.fail(fmt::format("{} takes {} channels but the last stage gives {}", head, head_shape[1], channels));
  config.head_channels = head_shape[0];
  const auto& mapper = reader.get("mapper.0.weight", 4);
  if (mapper[1] != config.head_channels)
    reader.fail(fmt::format("mapper.0.weight takes {} channels but the head gives {}", mapper[1],
                            config.head_channels));
  config.latent_channels = mapper[0];
  return config;
}

std::vector<std::string> effnet_shape_problems(
    const std::map<std::string, std::vector<int64_t>>& shapes,
    const std::map<std::string, std::vector<int64_t>>& expected) {
  auto optional = [](const std::string& key) {
    return key.size() >= 20 && key.compare(key.size() - 20, 20, ".num_batches_tracked") == 0;
  };
  std::vector<std::string> problems;
  for (const auto& [key, shape] : expected) {
    auto it = shapes.find(key);
    if (it == shapes.end()) {
      if (!optional(key)) problems.push_back("missing " + key);
    } else if (it->second != shape) {
      problems.push_back(fmt::format("{}: shape {} but {} expected", key, shape_text(it->second), shape_text(shape)));
    }
  }
  for (const auto& kv : shapes)
    if (!expected.count(kv.first)) problems.push_back("unexpected " + kv.first);
  return problems;
}

void check_real_effnet_shapes(const std::map<std::string, std::vector<int64_t>>& shapes,
                              const std::string& source) {
  const auto problems = effnet_shape_problems(shapes, effnet_tensor_shapes(efficientnet_v2_s_config()));
  if (problems.empty()) return;
  throw Error(fmt::format("{}: not the EfficientNetV2-S encoder Stable Cascade uses ({} difference{}: {}); "
                          "use Stability's effnet_encoder.safetensors",
                          source, problems.size(), problems.size() == 1 ? "" : "s", list_some(problems, 3)));
}

std::map<std::string, std::vector<int64_t>> safetensors_shapes(const std::filesystem::path& path) {
  const SafetensorsFile file(path);
  ShapeMap out;
  for (const auto& info : file.header().tensors) out[info.name] = info.shape;
  return out;
}

}  // namespace lathe
