// Strict loading of Stage C weights into the module (see stage_c_loader.h).
#include "models/stage_c_loader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "models/tensor_io.h"

namespace lathe {

namespace {

std::string shape_str(c10::IntArrayRef s) { return fmt::format("[{}]", fmt::join(s.begin(), s.end(), ", ")); }

// Builds modules with parameters of `dtype` while alive, so a bf16 load never holds the model
// in float32 first (3.6B: 7.2 GB, not 14.4 GB, before the stored values replace the initial ones).
class DefaultDtypeScope {
 public:
  explicit DefaultDtypeScope(torch::Dtype dtype) : saved_(c10::get_default_dtype()) {
    c10::set_default_dtype(c10::scalarTypeToTypeMeta(dtype));
  }
  ~DefaultDtypeScope() { c10::set_default_dtype(saved_); }
  DefaultDtypeScope(const DefaultDtypeScope&) = delete;
  DefaultDtypeScope& operator=(const DefaultDtypeScope&) = delete;

 private:
  caffe2::TypeMeta saved_;
};

}  // namespace

void load_stage_c_weights(StageCImpl& model, const StageCWeights& weights, torch::Dtype dtype) {
  auto params = model.named_parameters(/*recurse=*/true);
  std::vector<std::string> expected;
  for (const auto& p : params) expected.push_back(p.key());
  check_stage_c_keys(weights, expected);
  torch::NoGradGuard no_grad;
  for (auto& p : params) {
    const TensorRef& ref = weights.tensors.at(p.key());
    if (c10::IntArrayRef(ref.shape) != p.value().sizes())
      throw Error(fmt::format("{}: Stage C tensor {} (stored as {}) has shape {}, the model built from the weights "
                              "expects {}", ref.file->path().string(), p.key(), ref.source_key,
                              shape_str(ref.shape), shape_str(p.value().sizes())));
    p.value().set_data(load_tensor(ref, dtype).to(p.value().device()));
    ref.file->release(ref.view);
  }
}

StageC load_stage_c(const std::filesystem::path& path, torch::Dtype dtype, const StageCOpenOptions& options) {
  const StageCWeights weights = open_stage_c(path, options);
  StageC model{nullptr};
  {
    DefaultDtypeScope scope(torch::isFloatingType(dtype) ? dtype : torch::kFloat32);
    model = StageC(weights.config);
  }
  load_stage_c_weights(*model, weights, dtype);
  model->eval();
  return model;
}

}  // namespace lathe
