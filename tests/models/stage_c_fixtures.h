// Shared by the Stage C tests: where the Stable Cascade fixtures are (LATHE_PARITY_FIXTURES/
// stable_cascade when that variable is set, else ../shared/fixtures/stable_cascade), reading
// their JSON, and the relative comparison their README defines.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "test_paths.h"

namespace lathe::test {

inline std::filesystem::path stage_c_fixtures_dir() {
  if (const char* env = std::getenv("LATHE_PARITY_FIXTURES")) return std::filesystem::path(env) / "stable_cascade";
  return shared_dir() / "fixtures" / "stable_cascade";
}

inline nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return nlohmann::json::parse(in);
}

// "" when max|actual - expected| <= tol * max|expected| (|expected| for one value), else a
// report with the relative error.
inline std::string compare_rel(const std::string& name, const torch::Tensor& actual_in, const torch::Tensor& expected,
                               double tolerance_rel) {
  if (!actual_in.defined()) return name + ": not produced (undefined gradient?)";
  if (actual_in.numel() != expected.numel()) return name + ": wrong number of values";
  auto actual = actual_in.detach().to(torch::kFloat64).reshape(expected.sizes());
  const double scale = expected.numel() == 1 ? std::abs(expected.item<double>()) : expected.abs().max().item<double>();
  const double max_diff = (actual - expected).abs().max().item<double>();
  if (std::getenv("LATHE_PARITY_VERBOSE"))
    std::cout << "  " << name << ": " << (scale > 0 ? max_diff / scale : max_diff) << " relative (tolerance "
              << tolerance_rel << ")\n";
  if (max_diff <= tolerance_rel * scale && std::isfinite(max_diff)) return "";
  std::ostringstream msg;
  msg << name << ": max |actual - expected| = " << max_diff << " > " << tolerance_rel << " x " << scale << " ("
      << (scale > 0 ? max_diff / scale : max_diff) << " relative)";
  return msg.str();
}

}  // namespace lathe::test

// Skips when the Stable Cascade fixtures are absent.
#define LATHE_REQUIRE_STAGE_C_FIXTURES()                                                         \
  do {                                                                                           \
    if (!std::filesystem::exists(::lathe::test::stage_c_fixtures_dir() / "manifest.json"))       \
      GTEST_SKIP() << "needs " << ::lathe::test::stage_c_fixtures_dir().string()                 \
                   << " (the Stable Cascade fixtures beside the project); not found";            \
  } while (0)
