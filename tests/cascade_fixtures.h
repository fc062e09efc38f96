// Where the Stable Cascade fixtures are: $LATHE_PARITY_FIXTURES/stable_cascade when set, else
// ../shared/fixtures/stable_cascade; tests that need them skip with a message when absent.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "test_paths.h"

namespace lathe::test {

inline std::filesystem::path cascade_dir() {
  if (const char* env = std::getenv("LATHE_PARITY_FIXTURES")) return std::filesystem::path(env) / "stable_cascade";
  return shared_dir() / "fixtures" / "stable_cascade";
}

}  // namespace lathe::test

#define REQUIRE_CASCADE(rel)                                                                      \
  do {                                                                                            \
    if (!std::filesystem::exists(::lathe::test::cascade_dir() / (rel)))                           \
      GTEST_SKIP() << "needs " << (::lathe::test::cascade_dir() / (rel)).string() << " (the shared " \
                   << "Stable Cascade fixtures); not found";                                      \
  } while (0)
