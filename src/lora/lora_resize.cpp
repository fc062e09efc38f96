// `lathe lora resize` core (see lora_resize.h). kohya factors the full delta with a dense SVD
// (or svd_lowrank above 2048 dims); the delta up @ down has rank <= r, so the same singular
// values and vectors come exactly from two thin QRs and an r x r SVD: up = Qu Ru, down^T = Qd Rd,
// up @ down = Qu (Ru Rd^T) Qd^T. That is exact at any size and costs O((out + in) r^2), so an
// SDXL file resizes in seconds on a CPU. The factorisation runs in fp64.
#include "lora/lora_resize.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "common/error.h"
#include "io/model_hashes.h"
#include "io/safetensors.h"
#include "lora/lora_file_info.h"
#include "lora/lora_metadata.h"
#include "models/tensor_io.h"

namespace lathe {
namespace {

constexpr double kMinSingularValue = 1e-6;  // kohya's MIN_SV: below it the delta is zero

// kohya's index_sv_* + 1: the new rank a dynamic mode picks from S (descending), before the cap.
std::int64_t dynamic_rank(const std::vector<double>& s, ResizeMode mode, double param) {
  const std::int64_t n = static_cast<std::int64_t>(s.size());
  std::int64_t index = n - 1;
  if (mode == ResizeMode::Ratio) {
    const double min_sv = s[0] / param;
    index = std::count_if(s.begin(), s.end(), [&](double v) { return v > min_sv; }) - 1;
  } else {
    // searchsorted(cumulative share, target): the first rank whose share reaches the target.
    const bool fro = mode == ResizeMode::Frobenius;
    const double target = fro ? param * param : param;
    double total = 0.0, running = 0.0;
    for (double v : s) total += fro ? v * v : v;
    for (std::int64_t i = 0; i < n; ++i) {
      running += fro ? s[i] * s[i] : s[i];
      if (running / total >= target) {
        index = i;
        break;
      }
    }
  }
  return std::clamp<std::int64_t>(index, 0, n - 1) + 1;
}

}  // namespace

const char* resize_mode_name(ResizeMode m) {
  switch (m) {
    case ResizeMode::Fixed: return "fixed";
    case ResizeMode::Ratio: return "ratio";
    case ResizeMode::Frobenius: return "frobenius";
    case ResizeMode::Cumulative: return "cumulative";
  }
  return "fixed";
}

const char* resize_mode_kohya_name(ResizeMode m) {
  switch (m) {
    case ResizeMode::Fixed: return "";
    case ResizeMode::Ratio: return "sv_ratio";
    case ResizeMode::Frobenius: return "sv_fro";
    case ResizeMode::Cumulative: return "sv_cumulative";
  }
  return "";
}

void check_resize_options(const LoRAResizeOptions& o) {
  if (o.rank < 1) throw Error(fmt::format("--rank must be 1 or more, got {}", o.rank));
  if (o.conv_rank && *o.conv_rank < 1) throw Error(fmt::format("--conv-rank must be 1 or more, got {}", *o.conv_rank));
  if (!std::isfinite(o.param)) throw Error("--param must be a finite number");
  switch (o.mode) {
    case ResizeMode::Fixed: break;
    case ResizeMode::Ratio:
      if (o.param < 1)
        throw Error(fmt::format("--dynamic ratio keeps singular values above the largest / param; --param must be "
                                "1 or more (e.g. 8), got {}", o.param));
      break;
    case ResizeMode::Frobenius:
    case ResizeMode::Cumulative:
      if (!(o.param > 0 && o.param <= 1))
        throw Error(fmt::format("--dynamic {} keeps a share of the delta; --param must be above 0 and at most 1 "
                                "(e.g. 0.9), got {}", resize_mode_name(o.mode), o.param));
      break;
  }
}

ResizedModule resize_module(const std::string& name, const torch::Tensor& down, const torch::Tensor& up,
                            std::optional<double> alpha, std::int64_t rank, ResizeMode mode, double param) {
  torch::NoGradGuard no_grad;
  const bool conv = down.dim() == 4;
  const std::int64_t old_rank = down.size(0);
  const auto d = down.to(torch::kFloat64).flatten(1);  // [r, in * kh * kw]
  const auto u = up.to(torch::kFloat64).flatten(1);    // [out, r]
  auto [qu, ru] = torch::linalg_qr(u);                 // [out, k1], [k1, r]
  auto [qd, rd] = torch::linalg_qr(d.t());             // [in', k2], [k2, r]
  auto [um, sv, vmh] = torch::linalg_svd(ru.matmul(rd.t()), /*full_matrices=*/false);
  const auto u_full = qu.matmul(um);                   // [out, k]
  const auto vh_full = vmh.matmul(qd.t());             // [k, in']
  std::vector<double> s(sv.data_ptr<double>(), sv.data_ptr<double>() + sv.numel());

  const double scale = alpha && *alpha > 0 ? *alpha / static_cast<double>(old_rank) : 1.0;
  std::int64_t new_rank = mode == ResizeMode::Fixed ? rank : dynamic_rank(s, mode, param);
  new_rank = std::min({new_rank, rank, old_rank, static_cast<std::int64_t>(s.size())});
  if (s.empty() || s[0] <= kMinSingularValue) new_rank = 1;  // a zero delta: rank 1, as kohya

  ResizedModule out;
  ModuleResize& r = out.report;
  r.name = name;
  r.conv = conv;
  r.old_rank = old_rank;
  r.new_rank = new_rank;
  r.old_alpha = alpha && *alpha > 0 ? *alpha : static_cast<double>(old_rank);
  r.new_alpha = scale * static_cast<double>(new_rank);
  double sq_all = 0, sq_kept = 0, sum_all = 0, sum_kept = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    sq_all += s[i] * s[i];
    sum_all += std::abs(s[i]);
    if (static_cast<std::int64_t>(i) < new_rank) {
      sq_kept += s[i] * s[i];
      sum_kept += std::abs(s[i]);
    }
  }
  if (sq_all > 0) {
    r.fro_retained = std::sqrt(sq_kept / sq_all);
    r.sum_retained = sum_kept / sum_all;
    r.relative_error = std::sqrt(std::max(0.0, sq_all - sq_kept) / sq_all);
    r.max_ratio = s[new_rank - 1] > 0 ? s[0] / s[new_rank - 1] : INFINITY;
  }

  // kohya: down = Vh_r, up = U_r diag(S_r); conv kernels back to their shapes.
  // s has min(out, in', r) >= 1 entries and new_rank <= s.size().
  const auto s_r = sv.slice(0, 0, new_rank);
  const auto new_up = u_full.slice(1, 0, new_rank).mul(s_r.unsqueeze(0));
  const auto new_down = vh_full.slice(0, 0, new_rank);
  std::vector<std::int64_t> down_shape = down.sizes().vec(), up_shape = up.sizes().vec();
  down_shape[0] = new_rank;
  up_shape[1] = new_rank;
  out.down = new_down.reshape(down_shape).to(torch::kFloat32).contiguous();
  out.up = new_up.reshape(up_shape).to(torch::kFloat32).contiguous();
  return out;
}

LoRAResizeReport resize_lora_file(const std::filesystem::path& in, const std::filesystem::path& out,
                                  const LoRAResizeOptions& options) {
  check_resize_options(options);
  SafetensorsFile file(in);
  const LoRAFileInfo info = read_lora_file_info(file);
  // LoHa / LoKr modules have no lora_down / lora_up pair to factor.
  auto refuse = [&](const std::string& what) {
    throw Error(fmt::format("{}: {} is not a LoRA / LoCon module (LoHa or LoKr?); resize handles LoRA and LoCon only",
                            in.string(), what));
  };
  for (const auto& m : info.modules)
    if (!file.contains(m.name + ".lora_down.weight") || !file.contains(m.name + ".lora_up.weight")) refuse(m.name);
  for (const auto& key : info.other_keys)
    if (key.find(".hada_") != std::string::npos || key.find(".lokr_") != std::string::npos) refuse(key);

  std::map<std::string, torch::Tensor> tensors;  // sorted by name, as Lathe writes LoRA files
  LoRAResizeReport report;
  std::set<std::string> module_keys;
  for (const auto& m : info.modules) {
    const std::string down_key = m.name + ".lora_down.weight", up_key = m.name + ".lora_up.weight";
    const TensorView dv = file.view(down_key), uv = file.view(up_key);
    const torch::Dtype stored = options.dtype.value_or(torch_dtype_of(dv.info->dtype));
    const std::int64_t rank = m.conv ? options.conv_rank.value_or(options.rank) : options.rank;
    ResizedModule r = resize_module(m.name, tensor_from_view(dv, torch::kFloat32), tensor_from_view(uv, torch::kFloat32),
                                    m.alpha, rank, options.mode, options.param);
    tensors[down_key] = r.down.to(stored);
    tensors[up_key] = r.up.to(stored);
    tensors[m.name + ".alpha"] = torch::scalar_tensor(r.report.new_alpha, torch::kFloat32).to(stored);
    module_keys.insert({down_key, up_key, m.name + ".alpha"});
    report.max_old_rank = std::max(report.max_old_rank, m.rank);
    report.modules.push_back(r.report);
  }
  for (const auto& t : file.header().tensors) {
    if (module_keys.count(t.name)) continue;
    const TensorView v = file.view(t.name);
    tensors[t.name] = tensor_from_view(v, torch_dtype_of(t.dtype));
    ++report.copied_keys;
  }

  std::map<std::string, std::string> metadata = file.metadata();
  const std::string comment = metadata.count("ss_training_comment") ? metadata["ss_training_comment"] : "";
  double fro_sum = 0;
  for (const auto& m : report.modules) fro_sum += m.fro_retained;
  const double mean_fro = report.modules.empty() ? 1.0 : fro_sum / static_cast<double>(report.modules.size());
  if (options.mode == ResizeMode::Fixed) {
    const std::int64_t conv_rank = options.conv_rank.value_or(options.rank);
    const std::string conv = conv_rank == options.rank ? "" : fmt::format(" (conv: {})", conv_rank);
    metadata["ss_training_comment"] = fmt::format("dimension is resized from {} to {}{}; {}", report.max_old_rank,
                                                  options.rank, conv, comment);
    metadata["ss_network_dim"] = std::to_string(options.rank);
    // kohya writes the alpha of the last module it resized.
    metadata["ss_network_alpha"] = python_float(report.modules.empty() ? 0.0 : report.modules.back().new_alpha);
  } else {
    metadata["ss_training_comment"] = fmt::format("Dynamic resize with {}: {} from {}; {}", resize_mode_kohya_name(options.mode),
                                                  python_float(options.param), report.max_old_rank, comment);
    metadata["ss_network_dim"] = "Dynamic";
    metadata["ss_network_alpha"] = "Dynamic";
  }
  nlohmann::json note = {{"from_file", in.filename().string()}, {"from_rank", report.max_old_rank},
                         {"mode", resize_mode_name(options.mode)}, {"rank", options.rank},
                         {"mean_fro_retained", mean_fro}};
  if (options.conv_rank) note["conv_rank"] = *options.conv_rank;
  if (options.mode != ResizeMode::Fixed) note["param"] = options.param;
  metadata["lathe_resize"] = note.dump();

  std::vector<std::pair<std::string, torch::Tensor>> ordered(tensors.begin(), tensors.end());
  std::vector<TensorToWrite> to_hash;
  for (const auto& [name, t] : ordered)
    to_hash.push_back({name, safetensors_dtype_of(t.scalar_type()), t.sizes().vec(),
                       std::string_view(static_cast<const char*>(t.data_ptr()), t.nbytes())});
  const AddnetHashes hashes = addnet_hashes(to_hash, metadata);
  metadata["sshs_model_hash"] = hashes.model_hash;
  metadata["sshs_legacy_hash"] = hashes.legacy_hash;
  write_tensors(out, ordered, metadata);
  return report;
}

}  // namespace lathe
