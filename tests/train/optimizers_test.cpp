// Optimizers against explicit formulas on tiny tensors (one AdamW step, two Lion steps, SGD
// momentum), against torch::optim where libtorch has the same optimizer (bit-exact), Prodigy
// against an independent scalar transcription of prodigyopt's step, Prodigy's d growing on a
// quadratic, and a bit-exact state save/load round trip for every optimizer.
#include "train/optim/optimizers.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "common/error.h"

namespace {

using lathe::OptimizerConfig;
using lathe::OptimizerType;
using lathe::ParamGroup;

torch::Tensor param(std::vector<double> values, torch::Dtype dtype = torch::kFloat32) {
  return torch::tensor(values, torch::TensorOptions().dtype(dtype)).set_requires_grad(true);
}

void set_grad(torch::Tensor& p, const torch::Tensor& g) { p.mutable_grad() = g.clone(); }

// Gradient of 0.5 * ||p - target||^2.
void quadratic_grads(std::vector<torch::Tensor>& ps, const std::vector<torch::Tensor>& targets) {
  for (size_t i = 0; i < ps.size(); ++i) set_grad(ps[i], (ps[i] - targets[i]).detach());
}

TEST(AdamW, OneStepByHand) {
  auto p = param({1.0, -2.0});
  set_grad(p, torch::tensor({0.5f, -1.0f}));
  OptimizerConfig c;  // betas 0.9 / 0.999, eps 1e-8
  c.weight_decay = 0.01;
  auto opt = lathe::make_optimizer(c, {lathe::make_param_group("unet", {p}, 0.1)});
  opt->step();
  // Step 1: m = 0.1 g, v = 0.001 g^2, so m / (1 - 0.9) = g and sqrt(v / (1 - 0.999)) = |g|.
  const double g[2] = {0.5, -1.0}, p0[2] = {1.0, -2.0};
  for (int i = 0; i < 2; ++i) {
    double decayed = p0[i] * (1 - 0.1 * 0.01);
    double expected = decayed - 0.1 * g[i] / (std::abs(g[i]) + 1e-8);
    EXPECT_NEAR(p[i].item<float>(), expected, 1e-6) << i;
  }
  EXPECT_EQ(opt->steps_taken(), 1);
}

TEST(AdamW, MatchesTorchOptimAdamWBitForBit) {
  torch::manual_seed(0);
  auto init = torch::randn({4, 3});
  auto target = torch::randn({4, 3});
  std::vector<torch::Tensor> ours{init.clone().set_requires_grad(true)};
  std::vector<torch::Tensor> theirs{init.clone().set_requires_grad(true)};
  OptimizerConfig c;
  c.weight_decay = 0.05;
  auto opt = lathe::make_optimizer(c, {lathe::make_param_group("unet", ours, 1e-2)});
  torch::optim::AdamW ref(theirs, torch::optim::AdamWOptions(1e-2).weight_decay(0.05));
  for (int step = 0; step < 6; ++step) {
    quadratic_grads(ours, {target});
    quadratic_grads(theirs, {target});
    opt->step();
    ref.step();
  }
  EXPECT_TRUE(torch::equal(ours[0], theirs[0])) << (ours[0] - theirs[0]).abs().max();
}

TEST(AdamW, GroupsUseTheirOwnLrAndSkipMissingGrads) {
  auto a = param({1.0}), b = param({1.0}), frozen = param({1.0});
  set_grad(a, torch::tensor({1.0f}));
  set_grad(b, torch::tensor({1.0f}));
  OptimizerConfig c;
  c.weight_decay = 0;
  auto opt = lathe::make_optimizer(c, {lathe::make_param_group("unet", {a, frozen}, 1e-2),
                                       lathe::make_param_group("text_encoder", {b}, 1e-3)});
  opt->step();
  EXPECT_NEAR(a.item<float>(), 1 - 1e-2, 1e-7);  // first Adam step moves by ~lr
  EXPECT_NEAR(b.item<float>(), 1 - 1e-3, 1e-7);
  EXPECT_EQ(frozen.item<float>(), 1.0f);
  EXPECT_FALSE(opt->state_dict().tensors.count("g0.p1.exp_avg"));
}

TEST(Lion, TwoStepsByHand) {
  auto p = param({1.0, -2.0});
  auto c = OptimizerConfig::defaults_for(OptimizerType::Lion);  // betas 0.9 / 0.99
  c.weight_decay = 0.1;
  auto opt = lathe::make_optimizer(c, {lathe::make_param_group("unet", {p}, 0.01)});
  set_grad(p, torch::tensor({0.5f, -1.0f}));
  opt->step();
  // sign(0.1 g) = (+1, -1); decay by (1 - 0.01 * 0.1); then m = 0.01 g.
  double x0 = 1.0 * 0.999 - 0.01, x1 = -2.0 * 0.999 + 0.01;
  EXPECT_NEAR(p[0].item<float>(), x0, 1e-6);
  EXPECT_NEAR(p[1].item<float>(), x1, 1e-6);
  set_grad(p, torch::tensor({-1.0f, 0.001f}));
  opt->step();
  // sign(0.9 * 0.01 * (0.5, -1) + 0.1 * (-1, 0.001)) = sign(-0.0955, -0.0089) = (-1, -1).
  EXPECT_NEAR(p[0].item<float>(), x0 * 0.999 + 0.01, 1e-6);
  EXPECT_NEAR(p[1].item<float>(), x1 * 0.999 + 0.01, 1e-6);
}

TEST(SGD, MomentumByHandAndNesterovLikeTorch) {
  auto p = param({1.0});
  auto c = OptimizerConfig::defaults_for(OptimizerType::SGD);  // momentum 0.9
  auto opt = lathe::make_optimizer(c, {lathe::make_param_group("unet", {p}, 0.1)});
  set_grad(p, torch::tensor({1.0f}));
  opt->step();  // buffer = 1
  set_grad(p, torch::tensor({2.0f}));
  opt->step();  // buffer = 0.9 + 2 = 2.9
  EXPECT_NEAR(p.item<float>(), 1.0 - 0.1 - 0.29, 1e-6);

  torch::manual_seed(1);
  auto init = torch::randn({5});
  auto target = torch::randn({5});
  std::vector<torch::Tensor> ours{init.clone().set_requires_grad(true)};
  std::vector<torch::Tensor> theirs{init.clone().set_requires_grad(true)};
  c.nesterov = true;
  c.weight_decay = 0.01;
  auto nest = lathe::make_optimizer(c, {lathe::make_param_group("unet", ours, 0.05)});
  torch::optim::SGD ref(theirs,
                        torch::optim::SGDOptions(0.05).momentum(0.9).nesterov(true).weight_decay(0.01));
  for (int step = 0; step < 5; ++step) {
    quadratic_grads(ours, {target});
    quadratic_grads(theirs, {target});
    nest->step();
    ref.step();
  }
  EXPECT_TRUE(torch::equal(ours[0], theirs[0])) << (ours[0] - theirs[0]).abs().max();
}

// prodigyopt's Prodigy.step written out element by element in double, for one tensor, no
// weight decay, no bias correction, unlimited growth.
struct ScalarProdigy {
  double lr = 1.0, b1 = 0.9, b2 = 0.999, b3 = std::sqrt(0.999), eps = 1e-8, d0 = 1e-6;
  double d = 1e-6, d_max = 1e-6, numerator = 0.0;
  std::vector<double> x, x0, m, v, s;

  explicit ScalarProdigy(std::vector<double> init)
      : x(init), x0(init), m(init.size()), v(init.size()), s(init.size()) {}

  void step(const std::vector<double>& g) {
    const double dlr = d * lr;
    double dot = 0, denom = 0;
    for (size_t j = 0; j < x.size(); ++j) dot += g[j] * (x0[j] - x[j]);
    const double delta = (d / d0) * dlr * dot;
    for (size_t j = 0; j < x.size(); ++j) {
      m[j] = b1 * m[j] + d * (1 - b1) * g[j];
      v[j] = b2 * v[j] + d * d * (1 - b2) * g[j] * g[j];
      s[j] = b3 * s[j] + (d / d0) * dlr * g[j];
      denom += std::abs(s[j]);
    }
    numerator = numerator * b3 + delta;
    const double d_hat = numerator / denom;
    double nd = d == d0 ? std::max(d, d_hat) : d;
    d_max = std::max(d_max, d_hat);
    nd = std::min(d_max, nd * std::numeric_limits<double>::infinity());  // growth_rate = inf
    for (size_t j = 0; j < x.size(); ++j) x[j] -= dlr * m[j] / (std::sqrt(v[j]) + nd * eps);
    d = nd;
  }
};

TEST(Prodigy, MatchesScalarTranscriptionOfTheReference) {
  std::vector<double> init{0.5, -1.0, 2.0}, target{3.0, 1.0, -4.0};
  auto p = param(init, torch::kFloat64);
  auto opt = lathe::make_optimizer(OptimizerConfig::defaults_for(OptimizerType::Prodigy),
                                   {lathe::make_param_group("unet", {p}, 1.0)});
  ScalarProdigy ref(init);
  for (int step = 0; step < 8; ++step) {
    std::vector<double> g(3);
    for (int j = 0; j < 3; ++j) g[j] = ref.x[j] - target[j];
    set_grad(p, (p - torch::tensor(target, torch::kFloat64)).detach());
    opt->step();
    ref.step(g);
    for (int j = 0; j < 3; ++j) {
      EXPECT_NEAR(p[j].item<double>(), ref.x[j], 1e-9 * (1 + std::abs(ref.x[j])))
          << "step " << step << " element " << j;
    }
    EXPECT_NEAR(opt->diagnostics().at("d") / ref.d, 1.0, 1e-9) << "step " << step;
  }
}

TEST(Prodigy, DGrowsFromD0OnAQuadraticAndTheLossFalls) {
  torch::manual_seed(2);
  auto target = torch::randn({16}) * 3;
  // One parameter starts at zero, as a LoRA up-projection does (its start is stored as 0-dim).
  std::vector<torch::Tensor> ps{torch::zeros({16}).set_requires_grad(true)};
  auto opt = lathe::make_optimizer(OptimizerConfig::defaults_for(OptimizerType::Prodigy),
                                   {lathe::make_param_group("unet", ps, 1.0)});
  const double loss0 = 0.5 * (ps[0] - target).pow(2).sum().item<double>();
  for (int step = 0; step < 200; ++step) {
    quadratic_grads(ps, {target});
    opt->step();
  }
  EXPECT_EQ(opt->state_dict().tensors.at("g0.p0.p0").dim(), 0);
  const double d = opt->diagnostics().at("d");
  EXPECT_GT(d, 1e3 * 1e-6) << "d stayed near d0";
  const double loss = 0.5 * (ps[0] - target).pow(2).sum().item<double>();
  EXPECT_LT(loss, 0.05 * loss0);
}

TEST(Prodigy, GroupLearningRatesMustAgreeOrBeZero) {
  auto a = param({1.0}), b = param({1.0});
  set_grad(a, torch::tensor({1.0f}));
  set_grad(b, torch::tensor({1.0f}));
  auto c = OptimizerConfig::defaults_for(OptimizerType::Prodigy);
  c.weight_decay = 0.1;
  auto opt = lathe::make_optimizer(c, {lathe::make_param_group("unet", {a}, 1.0),
                                       lathe::make_param_group("text_encoder", {b}, 0.5)});
  EXPECT_THROW(opt->step(), lathe::Error);
  opt->groups()[1].lr = 0.0;
  opt->step();
  EXPECT_NE(a.item<float>(), 1.0f);
  EXPECT_EQ(b.item<float>(), 1.0f);  // frozen: not even weight decay
}

// Runs `first` steps, checkpoints, restores into a fresh optimizer over copied parameters, and
// checks both continue identically for `then` steps.
void check_round_trip(OptimizerConfig c, double lr) {
  torch::manual_seed(4);
  std::vector<torch::Tensor> targets{torch::randn({3, 2}), torch::randn({4}), torch::randn({2})};
  std::vector<torch::Tensor> a{torch::randn({3, 2}).set_requires_grad(true),
                               torch::zeros({4}).set_requires_grad(true),
                               torch::randn({2}).set_requires_grad(true)};
  auto groups = [&](std::vector<torch::Tensor>& ps) {
    return std::vector<ParamGroup>{lathe::make_param_group("unet", {ps[0], ps[1]}, lr),
                                   lathe::make_param_group("text_encoder", {ps[2]}, lr)};
  };
  auto opt_a = lathe::make_optimizer(c, groups(a));
  for (int i = 0; i < 3; ++i) {
    quadratic_grads(a, targets);
    opt_a->step();
  }
  auto saved = opt_a->state_dict();
  for (auto& [k, t] : saved.tensors) t = t.to(torch::kCPU).clone();  // as a checkpoint would
  std::vector<torch::Tensor> b;
  for (auto& p : a) b.push_back(p.detach().clone().set_requires_grad(true));
  auto opt_b = lathe::make_optimizer(c, groups(b));
  opt_b->load_state_dict(saved);
  EXPECT_EQ(opt_b->steps_taken(), 3);
  for (int i = 0; i < 4; ++i) {
    quadratic_grads(a, targets);
    quadratic_grads(b, targets);
    opt_a->step();
    opt_b->step();
  }
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(torch::equal(a[i], b[i])) << lathe::to_string(c.type) << " param " << i;
  }
  EXPECT_EQ(opt_a->diagnostics(), opt_b->diagnostics());
}

TEST(OptimizerState, RoundTripIsBitExactForEveryOptimizer) {
  check_round_trip(OptimizerConfig::defaults_for(OptimizerType::AdamW), 1e-2);
  check_round_trip(OptimizerConfig::defaults_for(OptimizerType::Lion), 1e-3);
  check_round_trip(OptimizerConfig::defaults_for(OptimizerType::SGD), 1e-2);
  auto prodigy = OptimizerConfig::defaults_for(OptimizerType::Prodigy);
  prodigy.use_bias_correction = true;
  prodigy.safeguard_warmup = true;
  prodigy.weight_decay = 0.01;
  check_round_trip(prodigy, 1.0);
}

std::string load_error(const lathe::OptimizerState& s, lathe::Optimizer& opt) {
  try {
    opt.load_state_dict(s);
  } catch (const lathe::Error& e) {
    return e.what();
  }
  return "";
}

TEST(OptimizerState, RejectsStateThatDoesNotFit) {
  auto p = param({1.0, 2.0});
  set_grad(p, torch::tensor({1.0f, 1.0f}));
  auto opt = lathe::make_optimizer(OptimizerConfig{}, {lathe::make_param_group("unet", {p}, 1e-3)});
  opt->step();
  auto good = opt->state_dict();

  auto s = good;
  s.type = "lion";
  EXPECT_NE(load_error(s, *opt).find("\"lion\""), std::string::npos);
  s = good;
  s.tensors["g0.p0.exp_avg"] = torch::zeros({3});
  EXPECT_NE(load_error(s, *opt).find("g0.p0.exp_avg"), std::string::npos);
  s = good;
  s.tensors.erase("g0.p0.exp_avg_sq");
  EXPECT_NE(load_error(s, *opt).find("g0.p0.exp_avg_sq"), std::string::npos);
  s = good;
  s.tensors["g1.p0.exp_avg"] = torch::zeros({2});
  EXPECT_NE(load_error(s, *opt).find("g1.p0.exp_avg"), std::string::npos);
  s = good;
  s.tensors["g0.p0.momentum"] = torch::zeros({2});
  EXPECT_NE(load_error(s, *opt).find("g0.p0.momentum"), std::string::npos);
  s = good;
  s.scalars["num_groups"] = 2;
  EXPECT_NE(load_error(s, *opt).find("2 parameter groups"), std::string::npos);
  EXPECT_EQ(load_error(good, *opt), "");
}

TEST(OptimizerConfig, ChecksNameTheKey) {
  OptimizerConfig c;
  c.beta1 = 1.0;
  EXPECT_THROW(lathe::check_optimizer_config(c), lathe::Error);
  c = OptimizerConfig::defaults_for(OptimizerType::SGD);
  c.nesterov = true;
  c.momentum = 0;
  EXPECT_THROW(lathe::check_optimizer_config(c), lathe::Error);
  c = OptimizerConfig::defaults_for(OptimizerType::Prodigy);
  c.growth_rate = 0.5;
  EXPECT_THROW(lathe::make_optimizer(c, {}), lathe::Error);
  try {
    lathe::optimizer_type_from_string("adam8bit", "optimizer.type");
    FAIL();
  } catch (const lathe::Error& e) {
    EXPECT_NE(std::string(e.what()).find("optimizer.type"), std::string::npos);
  }
}

}  // namespace
