// Model file hashes as A1111 and kohya compute them (see model_hashes.h). The addnet hashes
// need the exact bytes the Python safetensors library writes: its header is compact JSON
// (serde_json: '"', '\' and control characters escaped, everything else raw UTF-8, which is
// what nlohmann's dump() writes too), "__metadata__" first, then the tensors in layout order,
// padded with spaces to a multiple of 8. The metadata's key order varies between runs there
// (a Rust HashMap), but the header's length, and so every hashed byte, does not.
#include "io/model_hashes.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <numeric>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/sha256.h"

namespace lathe {
namespace {

constexpr std::uint64_t kLegacyOffset = 0x100000;  // 1 MiB
constexpr std::uint64_t kLegacySize = 0x10000;     // 64 KiB

// safetensors sorts tensors by its Dtype enum, descending (widest first), then by name; this is
// that enum's order for the dtypes Lathe knows.
int layout_rank(DType t) {
  switch (t) {
    case DType::BOOL: return 0;
    case DType::U8: return 1;
    case DType::I8: return 2;
    case DType::F8_E5M2: return 3;
    case DType::F8_E4M3: return 4;
    case DType::I16: return 5;
    case DType::U16: return 6;
    case DType::F16: return 7;
    case DType::BF16: return 8;
    case DType::I32: return 9;
    case DType::U32: return 10;
    case DType::F32: return 11;
    case DType::F64: return 12;
    case DType::I64: return 13;
    case DType::U64: return 14;
  }
  return 0;
}

// Feeds the part of `bytes`, which sits at `at` in the file, that falls inside the legacy window.
void feed_window(Sha256& h, std::uint64_t at, std::string_view bytes) {
  const std::uint64_t begin = std::max(at, kLegacyOffset);
  const std::uint64_t end = std::min(at + bytes.size(), kLegacyOffset + kLegacySize);
  if (begin < end) h.update(bytes.data() + (begin - at), static_cast<std::size_t>(end - begin));
}

}  // namespace

std::string legacy_model_hash(std::string_view file_bytes) {
  Sha256 h;
  feed_window(h, 0, file_bytes);
  return h.finish_hex().substr(0, 8);
}

std::string legacy_model_hash_of_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot be read for hashing: {}", path.string(), std::strerror(errno)));
  std::string window(kLegacySize, '\0');
  in.seekg(static_cast<std::streamoff>(kLegacyOffset));
  std::size_t got = 0;
  if (in) {
    in.read(window.data(), static_cast<std::streamsize>(window.size()));
    got = static_cast<std::size_t>(in.gcount());
  }
  if (in.bad()) throw Error(fmt::format("{}: read error while hashing", path.string()));
  return sha256_hex(std::string_view(window.data(), got)).substr(0, 8);
}

AddnetHashes addnet_hashes(const std::vector<TensorToWrite>& tensors,
                           const std::map<std::string, std::string>& metadata) {
  std::vector<std::size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const int ra = layout_rank(tensors[a].dtype), rb = layout_rank(tensors[b].dtype);
    return ra != rb ? ra > rb : tensors[a].name < tensors[b].name;
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  header["__metadata__"] = nlohmann::ordered_json::object();
  for (const auto& [key, value] : metadata)
    if (key.rfind("ss_", 0) == 0) header["__metadata__"][key] = value;
  std::uint64_t offset = 0;
  for (std::size_t i : order) {
    const TensorToWrite& t = tensors[i];
    header[t.name] = {{"dtype", dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<char>((std::uint64_t(json.size()) >> (8 * i)) & 0xff);

  Sha256 model, legacy;
  feed_window(legacy, 0, std::string_view(length, 8));
  feed_window(legacy, 8, json);
  std::uint64_t at = 8 + json.size();
  for (std::size_t i : order) {
    model.update(tensors[i].bytes);
    feed_window(legacy, at, tensors[i].bytes);
    at += tensors[i].bytes.size();
  }
  return {model.finish_hex(), legacy.finish_hex().substr(0, 8)};
}

}  // namespace lathe
