// libFuzzer target for the safetensors header parser: the input is the first bytes of a file,
// checked as if the file were exactly that long and, second, as if it were 1 GB (so the
// range checks see offsets far past the given bytes). The only allowed outcomes are a
// parsed header or a lathe::Error; anything else (crash, sanitizer report, other exception)
// is a bug. Built by scripts/fuzz.sh with clang -fsanitize=fuzzer,address,undefined.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/error.h"
#include "io/safetensors.h"

namespace {

void check(std::string_view bytes, std::uint64_t file_size) {
  try {
    lathe::SafetensorsHeader h = lathe::parse_safetensors_header(bytes, file_size, "fuzz");
    // A parsed header promises ranges inside the file: check the promise.
    std::uint64_t data = file_size - 8 - h.header_size;
    for (const auto& t : h.tensors)
      if (t.begin > t.end || t.end > data || (t.end - t.begin) != t.numel() * lathe::dtype_size(t.dtype))
        __builtin_trap();
  } catch (const lathe::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check(bytes, size);
  check(bytes, std::uint64_t(1) << 30);
  return 0;
}
