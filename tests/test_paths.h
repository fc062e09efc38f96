// Paths every test may need: the lathe binary, the source tree, and ../shared (overridable
// with LATHE_SHARED_DIR). Tests that need ../shared skip with a message when it is absent.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace lathe::test {

inline std::filesystem::path lathe_binary() { return LATHE_BINARY; }
inline std::filesystem::path source_dir() { return LATHE_SOURCE_DIR; }
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("LATHE_SHARED_DIR")) return env;
  return LATHE_DEFAULT_SHARED_DIR;
}

}  // namespace lathe::test

// Skips the current test when a file or folder under ../shared is missing.
#define LATHE_REQUIRE_SHARED(rel)                                                    \
  do {                                                                               \
    auto p__ = ::lathe::test::shared_dir() / (rel);                                  \
    if (!std::filesystem::exists(p__))                                               \
      GTEST_SKIP() << "needs " << p__.string()                                       \
                   << " (the shared test data beside the project); not found";       \
  } while (0)
