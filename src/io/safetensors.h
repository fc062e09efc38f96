// safetensors files: a strict reader over a memory map (tensors are views materialised one at a
// time by the caller) and an atomic writer. Torch-free on purpose: the audit, the fuzzer and
// `lathe lora inspect` use it without libtorch; src/models/ converts views to torch tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lathe {

// Every dtype the format defines that Lathe reads. U16/U32/U64 parse and can be viewed, but
// converting them to tensors is refused (no checkpoint uses them).
enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL, F8_E4M3, F8_E5M2, U16, U32, U64 };

const char* dtype_name(DType t);           // "F32", as spelled in the format
std::size_t dtype_size(DType t);           // bytes per element
bool parse_dtype(std::string_view name, DType* out);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  // byte offsets relative to the start of the data section
  std::uint64_t end = 0;
  std::uint64_t numel() const;
};

// A view of one tensor's bytes inside the mapped file; valid while the SafetensorsFile lives.
struct TensorView {
  const TensorInfo* info = nullptr;
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
};

struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;  // in file order of their data (sorted by begin)
  std::map<std::string, std::string> metadata;  // the "__metadata__" object
  std::uint64_t header_size = 0;    // the JSON length N from the first 8 bytes
};

// Largest JSON header accepted (the reference implementation uses the same 100 MB cap); a
// length above it is a corrupt or hostile file, and refusing it early bounds memory use.
constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// Parses and validates a header against a file of `file_size` bytes. `header_bytes` starts at
// the beginning of the file and holds at least the first 8 + N bytes (more is ignored).
// Throws lathe::Error naming `source` and the defect: length cap, JSON syntax, unknown dtype,
// shape x dtype size != byte range, range outside the data, overlaps, gaps, overflow,
// duplicate keys, a non-string metadata value.
SafetensorsHeader parse_safetensors_header(std::string_view header_bytes, std::uint64_t file_size,
                                           const std::string& source);

class SafetensorsFile {
 public:
  // Maps the file read-only and validates its header; throws lathe::Error on any defect.
  explicit SafetensorsFile(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  bool contains(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;  // throws lathe::Error naming the key
  TensorView view(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  // Drops the pages of a view from this process's resident set once its bytes were copied
  // out (they stay in the page cache), so converting a checkpoint tensor by tensor holds
  // about one copy of the weights, not the mapped file plus the converted tensors.
  void release(const TensorView& view) const;

 private:
  std::filesystem::path path_;
  SafetensorsHeader header_;
  std::map<std::string, std::size_t> index_;
  const std::uint8_t* map_ = nullptr;
  std::size_t map_size_ = 0;
  std::size_t data_offset_ = 0;
};

// One tensor to write: bytes must be little-endian, contiguous, of shape x dtype size.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::string_view bytes;
};

// Writes a safetensors file atomically (temp + fsync + rename), streaming the tensor bytes
// (no copy of the whole file in memory). The header is padded with spaces to a multiple of 8
// bytes as the format specifies, so every tensor starts 8-byte aligned; tensors are stored in
// the order given. Throws lathe::Error on duplicate names or bytes that do not match the
// shape and dtype.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata);

}  // namespace lathe
