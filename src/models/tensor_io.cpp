// torch <-> safetensors conversion (see tensor_io.h).
#include "models/tensor_io.h"

#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"

namespace lathe {
namespace {

std::string shape_str(c10::IntArrayRef s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

// F8 values through a 256-entry table (exact, and independent of libtorch's float8 support).
float f8_e4m3_value(std::uint8_t b) {  // e4m3fn: bias 7, no infinities, S.1111.111 is NaN
  const int sign = b >> 7, exp = (b >> 3) & 0xf, man = b & 0x7;
  if (exp == 15 && man == 7) return std::numeric_limits<float>::quiet_NaN();
  float v = exp == 0 ? std::ldexp(man / 8.0f, -6) : std::ldexp(1.0f + man / 8.0f, exp - 7);
  return sign ? -v : v;
}

float f8_e5m2_value(std::uint8_t b) {  // the upper byte of an IEEE half
  return static_cast<float>(c10::Half(static_cast<std::uint16_t>(b << 8), c10::Half::from_bits()));
}

torch::Tensor decode_f8(const TensorView& v) {
  std::array<float, 256> table;
  for (int i = 0; i < 256; ++i)
    table[i] = v.info->dtype == DType::F8_E4M3 ? f8_e4m3_value(i) : f8_e5m2_value(i);
  torch::Tensor out = torch::empty(v.info->shape, torch::kFloat32);
  float* dst = out.data_ptr<float>();
  for (std::size_t i = 0; i < v.size; ++i) dst[i] = table[v.data[i]];
  return out;
}

// The stored tensor as a torch tensor over the mapped bytes (no copy), or decoded for F8.
torch::Tensor raw_tensor(const TensorView& v) {
  if (v.info->dtype == DType::F8_E4M3 || v.info->dtype == DType::F8_E5M2) return decode_f8(v);
  return torch::from_blob(const_cast<std::uint8_t*>(v.data), v.info->shape,
                          torch::TensorOptions().dtype(torch_dtype_of(v.info->dtype)));
}

// Shapes equal up to trailing 1s ([C, C] and [C, C, 1, 1]).
bool same_up_to_trailing_ones(c10::IntArrayRef a, c10::IntArrayRef b) {
  auto strip = [](c10::IntArrayRef s) {
    std::vector<std::int64_t> v(s.begin(), s.end());
    while (v.size() > 1 && v.back() == 1) v.pop_back();
    return v;
  };
  return strip(a) == strip(b);
}

}  // namespace

torch::Dtype torch_dtype_of(DType t) {
  switch (t) {
    case DType::F64: return torch::kFloat64;
    case DType::F32: return torch::kFloat32;
    case DType::F16: return torch::kFloat16;
    case DType::BF16: return torch::kBFloat16;
    case DType::I64: return torch::kInt64;
    case DType::I32: return torch::kInt32;
    case DType::I16: return torch::kInt16;
    case DType::I8: return torch::kInt8;
    case DType::U8: return torch::kUInt8;
    case DType::BOOL: return torch::kBool;
    default:
      throw Error(fmt::format("tensors of dtype {} cannot be loaded: libtorch has no such dtype",
                              dtype_name(t)));
  }
}

DType safetensors_dtype_of(torch::Dtype t) {
  for (DType d : {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32, DType::I16,
                  DType::I8, DType::U8, DType::BOOL})
    if (torch_dtype_of(d) == t) return d;
  throw Error(fmt::format("torch dtype {} cannot be stored in safetensors", c10::toString(t)));
}

torch::Tensor tensor_from_view(const TensorView& view, torch::Dtype dtype) {
  torch::Tensor src = raw_tensor(view);
  torch::Tensor out = torch::empty(src.sizes(), torch::TensorOptions().dtype(dtype));
  out.copy_(src);
  return out;
}

torch::Tensor load_tensor(const TensorRef& ref, torch::Dtype dtype) {
  torch::Tensor src = raw_tensor(ref.view);
  if (ref.qkv_part >= 0) {
    const std::int64_t n = src.size(0) / 3;
    src = src.narrow(0, ref.qkv_part * n, n);
  }
  if (ref.transpose) src = src.t();
  torch::Tensor out = torch::empty(ref.shape, torch::TensorOptions().dtype(dtype));
  if (out.numel() != src.numel())
    throw Error(fmt::format("{}: tensor {} has {} values, its canonical shape {} needs {}",
                            ref.file ? ref.file->path().string() : "?", ref.source_key, src.numel(),
                            shape_str(ref.shape), out.numel()));
  out.view(src.sizes()).copy_(src);
  return out;
}

void load_tensors_into(torch::nn::Module& module, const Checkpoint& ckpt, Component c,
                       const std::map<std::string, TensorRef>& tensors, torch::Dtype dtype) {
  auto params = module.named_parameters(/*recurse=*/true);
  std::vector<std::string> expected;
  for (const auto& p : params) expected.push_back(p.key());
  check_component_keys(ckpt, c, tensors, expected);
  torch::NoGradGuard no_grad;
  for (auto& p : params) {
    const TensorRef& ref = tensors.at(p.key());
    const auto want = p.value().sizes();
    if (!same_up_to_trailing_ones(want, ref.shape))
      throw Error(fmt::format("{}: loading {}: tensor {} (stored as {}): shape {}, expected {}",
                              ref.file->path().string(), component_name(c), p.key(), ref.source_key,
                              shape_str(ref.shape), shape_str(want)));
    p.value().set_data(load_tensor(ref, dtype).view(want));
    ref.file->release(ref.view);
  }
}

void load_component(torch::nn::Module& module, const Checkpoint& ckpt, Component c, torch::Dtype dtype) {
  load_tensors_into(module, ckpt, c, component_tensors(ckpt, c), dtype);
}

std::map<std::string, torch::Tensor> load_component_tensors(const Checkpoint& ckpt, Component c,
                                                            torch::Dtype dtype) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, ref] : component_tensors(ckpt, c)) {
    out.emplace(name, load_tensor(ref, dtype));
    ref.file->release(ref.view);
  }
  return out;
}

void write_tensors(const std::filesystem::path& path,
                   const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                   const std::map<std::string, std::string>& metadata) {
  std::vector<torch::Tensor> keep;  // contiguous CPU copies only where needed
  std::vector<TensorToWrite> out;
  keep.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    keep.push_back(c);
    out.push_back({name, safetensors_dtype_of(c.scalar_type()),
                   std::vector<std::int64_t>(c.sizes().begin(), c.sizes().end()),
                   std::string_view(static_cast<const char*>(c.data_ptr()), c.nbytes())});
  }
  write_safetensors(path, out, metadata);
}

}  // namespace lathe
