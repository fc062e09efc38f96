#include "io/pickle_file.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <string>

namespace lathe {

bool has_pickle_extension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".ckpt" || ext == ".pt" || ext == ".pth" || ext == ".bin" || ext == ".pkl";
}

bool is_disguised_pickle(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char head[9] = {};
  in.read(reinterpret_cast<char*>(head), 9);
  const auto got = in.gcount();
  if (got == 9 && head[8] == '{') {
    std::uint64_t length = 0;
    for (int i = 7; i >= 0; --i) length = (length << 8) | head[i];
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (!ec && length <= size - 8) return false;  // a safetensors header: the parser checks the rest
  }
  const bool torch_zip = got >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4;
  const bool raw_pickle = got >= 1 && head[0] == 0x80;
  return torch_zip || raw_pickle;
}

}  // namespace lathe
