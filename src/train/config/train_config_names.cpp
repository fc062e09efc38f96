// The profile's words for its enum values (train_config.h), apart from the parser: the
// training core (precision.cpp, which names the dtypes it chose) is built without toml++ for
// the GPU benchmark (bench/gpu/run.sh) and links this file alone.
#include "train/config/train_config.h"

namespace lathe {

const char* to_string(WeightDType v) {
  switch (v) {
    case WeightDType::FP32: return "fp32";
    case WeightDType::FP16: return "fp16";
    case WeightDType::BF16: return "bf16";
  }
  return "fp32";
}

const char* to_string(const std::optional<WeightDType>& v) { return v ? to_string(*v) : "auto"; }

const char* to_string(MixedPrecision v) {
  switch (v) {
    case MixedPrecision::No: return "no";
    case MixedPrecision::FP16: return "fp16";
    case MixedPrecision::BF16: return "bf16";
    case MixedPrecision::Auto: return "auto";
  }
  return "no";
}

const char* to_string(CropMode v) { return v == CropMode::Random ? "random" : "center"; }

const char* to_string(LatentCache v) {
  switch (v) {
    case LatentCache::Off: return "off";
    case LatentCache::Memory: return "memory";
    case LatentCache::Disk: return "disk";
  }
  return "memory";
}

const char* to_string(NetworkType v) {
  switch (v) {
    case NetworkType::LoRA: return "lora";
    case NetworkType::LoCon: return "locon";
    case NetworkType::LoHa: return "loha";
    case NetworkType::LoKr: return "lokr";
    case NetworkType::Embedding: return "embedding";
  }
  return "lora";
}

}  // namespace lathe
