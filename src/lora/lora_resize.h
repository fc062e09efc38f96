// Resizing a kohya-format LoRA / LoCon file to a lower rank (`lathe lora resize`), with
// kohya-ss sd-scripts networks/resize_lora.py semantics: each module's delta up @ down (conv
// kernels flattened to [out, in * kh * kw]) is factored by SVD and cut to a fixed rank, or to a
// rank chosen from its singular values (ratio to the largest, share of the Frobenius norm, share
// of their sum), never above the requested rank; the new pair is down = Vh_r, up = U_r S_r, and
// alpha becomes scale * new_rank, so the kept part of the delta is unchanged. What is cut is
// reported per module: the Frobenius share kept and the relative error ||delta - new|| / ||delta||
// (= sqrt(1 - kept^2): the discarded singular values' share).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

namespace lathe {

// kohya's dynamic_method: none (fixed rank), sv_ratio, sv_fro, sv_cumulative.
enum class ResizeMode { Fixed, Ratio, Frobenius, Cumulative };
const char* resize_mode_name(ResizeMode m);        // "fixed", "ratio", "frobenius", "cumulative"
const char* resize_mode_kohya_name(ResizeMode m);  // "", "sv_ratio", "sv_fro", "sv_cumulative"

struct LoRAResizeOptions {
  std::int64_t rank = 4;                  // the rank, or in dynamic modes the highest rank
  std::optional<std::int64_t> conv_rank;  // conv modules (4-D, as kohya's new_conv_rank); default rank
  ResizeMode mode = ResizeMode::Fixed;
  // ratio: keep singular values above S[0] / param (param >= 1); frobenius: the smallest rank
  // keeping this share of the Frobenius norm (0 < param <= 1); cumulative: of the sum of S.
  double param = 0.0;
  // Stored dtype of the new tensors; nullopt keeps each module's own.
  std::optional<torch::Dtype> dtype;
};

// Throws lathe::Error naming the option (--rank, --param, ...) that is out of range.
void check_resize_options(const LoRAResizeOptions& options);

struct ModuleResize {
  std::string name;
  bool conv = false;
  std::int64_t old_rank = 0, new_rank = 0;
  double old_alpha = 0, new_alpha = 0;
  double fro_retained = 1.0;    // sqrt(sum of kept S^2 / sum of S^2)
  double sum_retained = 1.0;    // sum of kept S / sum of S
  double relative_error = 0.0;  // sqrt(sum of cut S^2 / sum of S^2)
  double max_ratio = 1.0;       // S[0] / S[new_rank - 1]
};

// One module's new pair and its report.
struct ResizedModule {
  torch::Tensor down, up;  // fp32; down [r, in(, kh, kw)], up [out, r(, 1, 1)]
  ModuleResize report;
};

// Resizes one module: `down` [r, in] or [r, in, kh, kw], `up` [out, r] or [out, r, 1, 1] (any
// float dtype), alpha as stored (nullopt: a file without alphas, alpha = rank). `rank` is the
// fixed rank or the dynamic mode's highest, capped at the module's own rank. A zero delta keeps
// rank 1, as kohya does.
ResizedModule resize_module(const std::string& name, const torch::Tensor& down, const torch::Tensor& up,
                            std::optional<double> alpha, std::int64_t rank, ResizeMode mode, double param);

struct LoRAResizeReport {
  std::vector<ModuleResize> modules;  // in name order
  std::int64_t max_old_rank = 0;
  std::size_t copied_keys = 0;        // tensors copied unchanged (not lora_down / lora_up / alpha)
};

// Reads `in`, resizes every module and writes `out` atomically (out may be in: the file is
// replaced only once the new one is complete). Metadata: kohya's updates (ss_training_comment
// noting the resize, ss_network_dim / ss_network_alpha: the new ones, or "Dynamic"), the
// sshs_* hashes of the new tensors, and lathe_resize (JSON: source rank, mode, param, the mean
// Frobenius share kept). Throws lathe::Error naming the file: not a LoRA, modules of a type
// resize does not handle (LoHa, LoKr), bad options.
LoRAResizeReport resize_lora_file(const std::filesystem::path& in, const std::filesystem::path& out,
                                  const LoRAResizeOptions& options);

}  // namespace lathe
