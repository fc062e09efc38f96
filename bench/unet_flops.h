// Shared by the network benchmarks (unet_bench, train_step_bench): the analytic FLOP count of
// a UNet configuration, process CPU time, and peak RSS (VmHWM, resettable through
// /proc/self/clear_refs). FLOPs are 2 x the multiply-adds of every convolution, Linear and
// attention matmul; normalisations, activations and softmax are not counted (a few %).
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "models/unet.h"

namespace lathe::bench {

// User + system CPU seconds of the whole process (all torch threads). On a machine shared with
// other work, FLOP per CPU-second still measures the code, where FLOP/s measures the sharing.
inline double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

inline void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

inline double peak_rss_mib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
  return 0;
}

// Forward FLOPs split into dense layers and attention products (self / cross), since the
// frozen-weight backward costs one pass over the dense layers and the cross-attention products,
// two over the self-attention products (both q and k need gradients).
struct Flops {
  double dense = 0, self_attn = 0, cross_attn = 0;
  double forward() const { return dense + self_attn + cross_attn; }
  double backward_input_only() const { return dense + 2 * self_attn + cross_attn; }
};

inline double conv_flops(double cin, double cout, double k, double hw_out) { return 2 * cin * cout * k * k * hw_out; }

inline Flops unet_flops(const UNetConfig& c, double h, double w, double ctx_len) {
  Flops f;
  auto resblock = [&](double cin, double cout, double hw) {
    f.dense += conv_flops(cin, cout, 3, hw) + conv_flops(cout, cout, 3, hw) + (cin != cout ? conv_flops(cin, cout, 1, hw) : 0);
  };
  auto transformer = [&](double ch, double hw, std::int64_t depth) {
    const double cc = static_cast<double>(c.cross_attention_dim);
    f.dense += 2 * (2 * ch * ch * hw);  // proj_in, proj_out
    for (std::int64_t i = 0; i < depth; ++i) {
      f.dense += 4 * 2 * ch * ch * hw;                          // attn1 q k v out
      f.self_attn += 2 * (2 * hw * hw * ch);                    // q k^T, a v
      f.dense += 2 * 2 * ch * ch * hw + 2 * 2 * cc * ch * ctx_len;  // attn2 q, out; k, v
      f.cross_attn += 2 * (2 * hw * ctx_len * ch);
      f.dense += 2 * ch * 8 * ch * hw + 2 * 4 * ch * ch * hw;   // GEGLU proj, ff out
    }
  };
  double hw = h * w;
  double ch = static_cast<double>(c.block_out_channels[0]);
  f.dense += conv_flops(c.in_channels, ch, 3, hw);
  std::vector<double> skips{ch};
  for (std::int64_t level = 0; level < c.levels(); ++level) {
    const double out = static_cast<double>(c.block_out_channels[level]);
    for (std::int64_t i = 0; i < c.layers_per_block; ++i) {
      resblock(ch, out, hw);
      ch = out;
      if (c.attention[level]) transformer(ch, hw, c.transformer_depth[level]);
      skips.push_back(ch);
    }
    if (level + 1 < c.levels()) {
      hw /= 4;
      f.dense += conv_flops(ch, ch, 3, hw);
      skips.push_back(ch);
    }
  }
  resblock(ch, ch, hw);
  transformer(ch, hw, c.mid_transformer_depth);
  resblock(ch, ch, hw);
  for (std::int64_t level = c.levels() - 1; level >= 0; --level) {
    const double out = static_cast<double>(c.block_out_channels[level]);
    for (std::int64_t i = 0; i <= c.layers_per_block; ++i) {
      resblock(ch + skips.back(), out, hw);
      skips.pop_back();
      ch = out;
      if (c.attention[level]) transformer(ch, hw, c.transformer_depth[level]);
      if (level > 0 && i == c.layers_per_block) {
        hw *= 4;
        f.dense += conv_flops(ch, ch, 3, hw);
      }
    }
  }
  f.dense += conv_flops(ch, c.out_channels, 3, hw);
  return f;
}

}  // namespace lathe::bench
