// Diffusion losses. The pseudo-Huber forms are kohya's, not torch's piecewise huber_loss: they
// are smooth everywhere, behave like MSE / c near 0 and like 2|x| (times c for "huber") far out.
#include "diffusion/losses.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>

#include "common/error.h"

namespace lathe {

LossType loss_type_from_string(const std::string& text, const std::string& key) {
  if (text == "mse" || text == "l2") return LossType::MSE;
  if (text == "huber") return LossType::Huber;
  if (text == "smooth_l1") return LossType::SmoothL1;
  throw Error(fmt::format("{}: unknown loss \"{}\"; use \"mse\", \"huber\" or \"smooth_l1\"",
                          key, text));
}

std::string to_string(LossType type) {
  switch (type) {
    case LossType::MSE: return "mse";
    case LossType::Huber: return "huber";
    case LossType::SmoothL1: return "smooth_l1";
  }
  return "mse";
}

HuberSchedule huber_schedule_from_string(const std::string& text, const std::string& key) {
  if (text == "constant") return HuberSchedule::Constant;
  if (text == "exponential") return HuberSchedule::Exponential;
  if (text == "snr") return HuberSchedule::SNR;
  throw Error(fmt::format(
      "{}: unknown Huber schedule \"{}\"; use \"constant\", \"exponential\" or \"snr\"", key,
      text));
}

std::string to_string(HuberSchedule schedule) {
  switch (schedule) {
    case HuberSchedule::Constant: return "constant";
    case HuberSchedule::Exponential: return "exponential";
    case HuberSchedule::SNR: return "snr";
  }
  return "snr";
}

void check_loss_config(const LossConfig& c) {
  if (c.type != LossType::MSE) {
    // exponential needs ln(c) <= 0 and snr a threshold in (0, 1]; keep one rule for all.
    if (!(c.huber_c > 0.0) || !(c.huber_c <= 1.0)) {
      throw Error(fmt::format("noise.huber_c = {}: must be in (0, 1]", c.huber_c));
    }
    if (!(c.huber_scale > 0.0) || !std::isfinite(c.huber_scale)) {
      throw Error(fmt::format("noise.huber_scale = {}: must be a finite number > 0",
                              c.huber_scale));
    }
  }
  if (!(c.min_snr_gamma >= 0.0) || !std::isfinite(c.min_snr_gamma)) {
    throw Error(fmt::format("noise.min_snr_gamma = {}: must be >= 0 (0 turns it off)",
                            c.min_snr_gamma));
  }
}

torch::Tensor elementwise_loss(const torch::Tensor& pred, const torch::Tensor& target,
                               LossType type, const torch::Tensor& huber_c) {
  auto diff = pred - target;
  if (type == LossType::MSE) return diff * diff;
  TORCH_CHECK(huber_c.defined(), "elementwise_loss: Huber / smooth-L1 need huber_c [B]");
  std::vector<int64_t> shape(static_cast<size_t>(pred.dim()), 1);
  shape[0] = pred.size(0);
  auto c = huber_c.to(pred.device(), pred.scalar_type()).view(shape);
  auto pseudo = 2.0 * (torch::sqrt(diff * diff + c * c) - c);
  return type == LossType::Huber ? c * pseudo : pseudo;
}

torch::Tensor huber_threshold(const LossConfig& config, const NoiseSchedule& schedule,
                              const torch::Tensor& timesteps) {
  auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(timesteps.device());
  const double c = config.huber_c;
  switch (config.huber_schedule) {
    case HuberSchedule::Constant:
      return torch::full({timesteps.size(0)}, c * config.huber_scale, opts);
    case HuberSchedule::Exponential: {
      const double alpha = -std::log(c) / static_cast<double>(schedule.num_timesteps());
      return torch::exp(-alpha * timesteps.to(torch::kFloat32)) * config.huber_scale;
    }
    case HuberSchedule::SNR: {
      auto t = timesteps.to(schedule.device(), torch::kLong);
      auto acp = schedule.alphas_cumprod().index_select(0, t);
      auto sigma = torch::sqrt((1.0 - acp) / acp);
      auto one_plus = 1.0 + sigma;
      return ((1.0 - c) / (one_plus * one_plus) + c).to(timesteps.device());
    }
  }
  return {};
}

torch::Tensor min_snr_weight(const torch::Tensor& snr, double gamma, Prediction prediction) {
  auto clipped = torch::clamp_max(snr, gamma);
  if (prediction == Prediction::VPrediction) return clipped / (snr + 1.0);
  return torch::where(snr > 0, clipped / snr, torch::ones_like(snr));
}

torch::Tensor per_sample_mean(const torch::Tensor& loss) {
  if (loss.dim() <= 1) return loss;
  return loss.reshape({loss.size(0), -1}).mean(1);
}

torch::Tensor diffusion_loss(const torch::Tensor& pred, const torch::Tensor& target,
                             const torch::Tensor& timesteps, const NoiseSchedule& schedule,
                             Prediction prediction, const LossConfig& config,
                             const torch::Tensor& sample_weights) {
  torch::Tensor c;
  if (config.type != LossType::MSE) c = huber_threshold(config, schedule, timesteps);
  auto loss = per_sample_mean(elementwise_loss(pred.to(torch::kFloat32),
                                               target.to(torch::kFloat32), config.type, c));
  if (sample_weights.defined()) loss = loss * sample_weights.to(loss.device(), loss.scalar_type());
  if (config.min_snr_gamma > 0.0) {
    auto w = min_snr_weight(schedule.snr(timesteps), config.min_snr_gamma, prediction);
    loss = loss * w.to(loss.device(), loss.scalar_type());
  }
  return loss.mean();
}

}  // namespace lathe
