// safetensors reader and writer (see safetensors.h). The header is untrusted input: every
// number is checked before it is used as a size or an offset, so a malformed or hostile file
// ends in a lathe::Error naming the defect, never in an out-of-range read. The rules follow
// the reference implementation (huggingface/safetensors): JSON header starting with '{', at
// most 100 MB, tensors whose byte ranges tile the data section exactly (no gap, no overlap).
#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/atomic_writer.h"

namespace lathe {
namespace {

struct DTypeEntry {
  DType type;
  const char* name;
  std::size_t size;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::F64, "F64", 8},          {DType::F32, "F32", 4},         {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},        {DType::I64, "I64", 8},         {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},          {DType::I8, "I8", 1},           {DType::U8, "U8", 1},
    {DType::BOOL, "BOOL", 1},        {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E5M2, "F8_E5M2", 1},
    {DType::U16, "U16", 2},          {DType::U32, "U32", 4},         {DType::U64, "U64", 8},
};

const DTypeEntry& entry_of(DType t) {
  for (const auto& e : kDTypes)
    if (e.type == t) return e;
  return kDTypes[0];  // unreachable: every enumerator is in the table
}

[[noreturn]] void fail(const std::string& source, const std::string& defect) {
  throw Error(fmt::format("{}: not a valid safetensors file: {}", source, defect));
}

std::uint64_t read_le64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string clip(const std::string& s) {  // keeps hostile names from flooding a message
  return s.size() <= 120 ? s : s.substr(0, 117) + "...";
}

// Rejects duplicate keys (nlohmann keeps the last one silently) and nesting deeper than the
// format needs, while the parser runs.
class HeaderShapeGuard {
 public:
  explicit HeaderShapeGuard(const std::string& source) : source_(source) {}
  bool operator()(int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    switch (event) {
      case E::object_start:
      case E::array_start:
        if (depth >= 3) fail(source_, "the header JSON is nested deeper than the format allows");
        if (event == E::object_start) keys_.emplace_back();
        break;
      case E::object_end:
        if (!keys_.empty()) keys_.pop_back();
        break;
      case E::key:
        if (!keys_.empty() && !keys_.back().insert(parsed.get<std::string>()).second)
          fail(source_, fmt::format("key \"{}\" appears twice in the header",
                                    clip(parsed.get<std::string>())));
        break;
      default:
        break;
    }
    return true;
  }

 private:
  std::string source_;
  std::vector<std::set<std::string>> keys_;
};

std::uint64_t json_uint(const nlohmann::json& v, const std::string& source, const std::string& what) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) return v.get<std::uint64_t>();
  fail(source, fmt::format("{} is {}, expected a non-negative integer", what, clip(v.dump())));
}

TensorInfo parse_tensor_entry(const std::string& name, const nlohmann::json& v,
                              const std::string& source) {
  const std::string where = fmt::format("tensor \"{}\"", clip(name));
  if (!v.is_object()) fail(source, where + " is not a JSON object");
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!v.contains(field)) fail(source, fmt::format("{} has no \"{}\"", where, field));
  TensorInfo t;
  t.name = name;
  const auto& dtype = v.at("dtype");
  if (!dtype.is_string()) fail(source, where + ": \"dtype\" is not a string");
  if (!parse_dtype(dtype.get<std::string>(), &t.dtype))
    fail(source, fmt::format("{} has unknown dtype \"{}\"", where, clip(dtype.get<std::string>())));
  const auto& shape = v.at("shape");
  if (!shape.is_array()) fail(source, where + ": \"shape\" is not an array");
  std::uint64_t numel = 1;
  bool overflow = false;
  for (const auto& d : shape) {
    std::uint64_t n = json_uint(d, source, where + " shape dimension");
    if (n > static_cast<std::uint64_t>(INT64_MAX)) fail(source, where + ": shape dimension too large");
    t.shape.push_back(static_cast<std::int64_t>(n));
    overflow = overflow || __builtin_mul_overflow(numel, n, &numel);
  }
  std::uint64_t bytes = 0;
  if (overflow || __builtin_mul_overflow(numel, dtype_size(t.dtype), &bytes))
    fail(source, where + ": the shape's byte size overflows 64 bits");
  const auto& offsets = v.at("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2)
    fail(source, where + ": \"data_offsets\" is not an array of two integers");
  t.begin = json_uint(offsets[0], source, where + " data_offsets[0]");
  t.end = json_uint(offsets[1], source, where + " data_offsets[1]");
  if (t.end < t.begin)
    fail(source, fmt::format("{}: data_offsets [{}, {}] end before they begin", where, t.begin, t.end));
  if (t.end - t.begin != bytes)
    fail(source, fmt::format("{}: shape [{}] of {} needs {} bytes but data_offsets [{}, {}] span {}",
                             where, fmt::join(t.shape, ", "), dtype_name(t.dtype), bytes, t.begin,
                             t.end, t.end - t.begin));
  return t;
}

std::map<std::string, std::string> parse_metadata(const nlohmann::json& v, const std::string& source) {
  if (!v.is_object()) fail(source, "\"__metadata__\" is not a JSON object");
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : v.items()) {
    if (!value.is_string())
      fail(source, fmt::format("\"__metadata__\" value of \"{}\" is not a string", clip(key)));
    out[key] = value.get<std::string>();
  }
  return out;
}

// The tensors' ranges must tile [0, data_size) in order: no gap, no overlap.
void check_tiling(std::vector<TensorInfo>& tensors, std::uint64_t data_size, const std::string& source) {
  std::sort(tensors.begin(), tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t pos = 0;
  const TensorInfo* prev = nullptr;
  for (const auto& t : tensors) {
    if (t.end > data_size)
      fail(source, fmt::format("tensor \"{}\" data_offsets [{}, {}] run past the end of the data "
                               "({} bytes; the file is truncated or the header is wrong)",
                               clip(t.name), t.begin, t.end, data_size));
    if (t.begin < pos)
      fail(source, fmt::format("tensors \"{}\" and \"{}\" overlap (bytes {}..{} and {}..{})",
                               clip(prev->name), clip(t.name), prev->begin, prev->end, t.begin, t.end));
    if (t.begin > pos)
      fail(source, fmt::format("bytes {}..{} of the data are not part of any tensor (gap before \"{}\")",
                               pos, t.begin, clip(t.name)));
    pos = t.end;
    prev = &t;
  }
  if (pos != data_size)
    fail(source, fmt::format("the data section is {} bytes but the tensors cover only {} "
                             "(trailing bytes after the last tensor)", data_size, pos));
}

}  // namespace

const char* dtype_name(DType t) { return entry_of(t).name; }
std::size_t dtype_size(DType t) { return entry_of(t).size; }

bool parse_dtype(std::string_view name, DType* out) {
  for (const auto& e : kDTypes) {
    if (name == e.name) {
      *out = e.type;
      return true;
    }
  }
  return false;
}

std::uint64_t TensorInfo::numel() const {
  std::uint64_t n = 1;
  for (auto d : shape) n *= static_cast<std::uint64_t>(d);
  return n;
}

SafetensorsHeader parse_safetensors_header(std::string_view header_bytes, std::uint64_t file_size,
                                           const std::string& source) {
  if (header_bytes.size() < 8 || file_size < 8)
    fail(source, fmt::format("the file is {} bytes, too short to hold the 8-byte header length",
                             std::min<std::uint64_t>(file_size, header_bytes.size())));
  SafetensorsHeader h;
  h.header_size = read_le64(header_bytes.data());
  if (h.header_size > kMaxSafetensorsHeaderBytes)
    fail(source, fmt::format("header length {} is above the {} byte limit (corrupt file, or not "
                             "a safetensors file)", h.header_size, kMaxSafetensorsHeaderBytes));
  if (h.header_size > file_size - 8)
    fail(source, fmt::format("header length {} runs past the end of the {} byte file (truncated?)",
                             h.header_size, file_size));
  if (header_bytes.size() - 8 < h.header_size)
    fail(source, fmt::format("only {} of the {} header bytes were given", header_bytes.size() - 8,
                             h.header_size));
  const std::string_view text = header_bytes.substr(8, h.header_size);
  if (text.empty() || text[0] != '{') fail(source, "the header does not start with '{'");

  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text.begin(), text.end(), HeaderShapeGuard(source));
  } catch (const nlohmann::json::exception& e) {
    fail(source, fmt::format("the header is not valid JSON ({})", e.what()));
  }
  if (!root.is_object()) fail(source, "the header is not a JSON object");

  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__")
      h.metadata = parse_metadata(value, source);
    else
      h.tensors.push_back(parse_tensor_entry(key, value, source));
  }
  check_tiling(h.tensors, file_size - 8 - h.header_size, source);
  return h;
}

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : path_(path) {
  const std::string source = path.string();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("cannot read {}: {}", source, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(fmt::format("cannot read {}: not a regular file", source));
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    fail(source, fmt::format("the file is {} bytes, too short to hold the 8-byte header length", size));
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);  // the mapping keeps the file open
  if (map == MAP_FAILED) throw Error(fmt::format("cannot map {}: {}", source, std::strerror(errno)));
  map_ = static_cast<const std::uint8_t*>(map);
  map_size_ = size;
  try {
    const char* bytes = reinterpret_cast<const char*>(map_);
    // Bound the view by the cap so a bogus length never makes us touch more than the file.
    std::size_t shown = static_cast<std::size_t>(std::min<std::uint64_t>(size, 8 + kMaxSafetensorsHeaderBytes));
    header_ = parse_safetensors_header(std::string_view(bytes, shown), size, source);
  } catch (...) {
    ::munmap(const_cast<std::uint8_t*>(map_), map_size_);
    map_ = nullptr;
    throw;
  }
  data_offset_ = 8 + header_.header_size;
  for (std::size_t i = 0; i < header_.tensors.size(); ++i) index_[header_.tensors[i].name] = i;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(const_cast<std::uint8_t*>(map_), map_size_);
}

bool SafetensorsFile::contains(const std::string& name) const { return index_.count(name) > 0; }

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end())
    throw Error(fmt::format("{}: no tensor named \"{}\"", path_.string(), name));
  return header_.tensors[it->second];
}

TensorView SafetensorsFile::view(const std::string& name) const {
  const TensorInfo& t = info(name);
  return TensorView{&t, map_ + data_offset_ + t.begin, static_cast<std::size_t>(t.end - t.begin)};
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(index_.size());
  for (const auto& [name, i] : index_) out.push_back(name);
  return out;
}

void SafetensorsFile::release(const TensorView& view) const {
  if (!map_ || view.size == 0) return;
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  auto begin = reinterpret_cast<std::uintptr_t>(view.data);
  auto end = begin + view.size;
  begin = (begin + page - 1) / page * page;  // only whole pages inside the view:
  end = end / page * page;                   // neighbours may still be in use
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string source = path.string();
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> seen;
  std::uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (t.name == "__metadata__" || !seen.insert(t.name).second)
      throw Error(fmt::format("cannot write {}: tensor name \"{}\" is used twice or reserved", source,
                              t.name));
    std::uint64_t numel = 1;
    for (auto d : t.shape) {
      if (d < 0) throw Error(fmt::format("cannot write {}: tensor \"{}\" has a negative dimension", source, t.name));
      numel *= static_cast<std::uint64_t>(d);
    }
    if (numel * dtype_size(t.dtype) != t.bytes.size())
      throw Error(fmt::format("cannot write {}: tensor \"{}\" has {} bytes, its shape and dtype need {}",
                              source, t.name, t.bytes.size(), numel * dtype_size(t.dtype)));
    header[t.name] = {{"dtype", dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((std::uint64_t(json.size()) >> (8 * i)) & 0xff);

  AtomicFileWriter out(path);
  out.write(std::string_view(len, 8));
  out.write(json);
  for (const auto& t : tensors) out.write(t.bytes);
  out.commit();
}

}  // namespace lathe
