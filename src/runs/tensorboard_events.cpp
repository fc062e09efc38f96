// TFRecord + Event protobuf encoding for TensorBoard scalars and images (see
// tensorboard_events.h). The protobuf fields used: Event{wall_time=1 (double), step=2 (int64),
// file_version=3 (string), summary=5}; Summary{value=1}; Summary.Value{tag=1 (string),
// simple_value=2 (float), image=4}; Summary.Image{height=1, width=2, colorspace=3 (int32),
// encoded_image_string=4 (bytes)}.
#include "runs/tensorboard_events.h"

#include <unistd.h>

#include <array>
#include <optional>
#include <cstring>
#include <fmt/format.h>

#include "common/error.h"
#include "io/atomic_file.h"

namespace lathe {
namespace {

std::array<std::uint32_t, 256> make_crc32c_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // Castagnoli
    table[i] = c;
  }
  return table;
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

template <typename T>
void put_le(std::string& out, T v) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));  // x86/ARM Linux are little-endian, as the format wants
  out.append(bytes, sizeof(T));
}

void put_length_delimited(std::string& out, int field, std::string_view bytes) {
  put_varint(out, (static_cast<std::uint64_t>(field) << 3) | 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}

std::string event_header(double wall_time, std::int64_t step) {
  std::string e;
  e.push_back(0x09);  // field 1, 64-bit
  put_le(e, wall_time);
  e.push_back(0x10);  // field 2, varint
  put_varint(e, static_cast<std::uint64_t>(step));
  return e;
}

// Minimal protobuf reader for the fields above.
struct Cursor {
  const char* p;
  const char* end;
  bool ok = true;
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
      auto b = static_cast<unsigned char>(*p++);
      v |= std::uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    ok = false;
    return 0;
  }
  std::string_view bytes(std::size_t n) {
    if (static_cast<std::size_t>(end - p) < n) {
      ok = false;
      return {};
    }
    std::string_view s(p, n);
    p += n;
    return s;
  }
  void skip(int wire) {
    if (wire == 0) varint();
    else if (wire == 1) bytes(8);
    else if (wire == 5) bytes(4);
    else if (wire == 2) bytes(varint());
    else ok = false;
  }
};

// A Summary.Value: its tag, and its simple_value or image when present.
struct ParsedValue {
  std::string tag;
  std::optional<float> scalar;
  std::optional<std::string_view> image;  // the Summary.Image message
};

ParsedValue parse_value(std::string_view msg) {
  ParsedValue v;
  Cursor c{msg.data(), msg.data() + msg.size()};
  while (c.ok && c.p < c.end) {
    std::uint64_t key = c.varint();
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 1 && wire == 2) {
      v.tag = std::string(c.bytes(c.varint()));
    } else if (field == 2 && wire == 5) {
      std::string_view b = c.bytes(4);
      float f = 0;
      if (c.ok) std::memcpy(&f, b.data(), 4);
      v.scalar = f;
    } else if (field == 4 && wire == 2) {
      v.image = c.bytes(c.varint());
    } else {
      c.skip(wire);
    }
  }
  if (!c.ok) return {};
  return v;
}

void parse_image(std::string_view msg, ImageEvent& ev) {
  Cursor c{msg.data(), msg.data() + msg.size()};
  while (c.ok && c.p < c.end) {
    std::uint64_t key = c.varint();
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 1 && wire == 0) ev.height = static_cast<int>(c.varint());
    else if (field == 2 && wire == 0) ev.width = static_cast<int>(c.varint());
    else if (field == 3 && wire == 0) ev.colorspace = static_cast<int>(c.varint());
    else if (field == 4 && wire == 2) ev.encoded = std::string(c.bytes(c.varint()));
    else c.skip(wire);
  }
}

// An Event's wall time and step, and the Summary.Value messages it carries.
struct ParsedEvent {
  double wall_time = 0;
  std::int64_t step = 0;
  std::vector<std::string_view> values;
};

ParsedEvent parse_event(std::string_view msg) {
  Cursor c{msg.data(), msg.data() + msg.size()};
  ParsedEvent base;
  std::vector<std::string_view>& values = base.values;
  while (c.ok && c.p < c.end) {
    std::uint64_t key = c.varint();
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 1 && wire == 1) {
      std::string_view b = c.bytes(8);
      if (c.ok) std::memcpy(&base.wall_time, b.data(), 8);
    } else if (field == 2 && wire == 0) {
      base.step = static_cast<std::int64_t>(c.varint());
    } else if (field == 5 && wire == 2) {
      Cursor s{nullptr, nullptr};
      std::string_view summary = c.bytes(c.varint());
      s.p = summary.data();
      s.end = summary.data() + summary.size();
      while (s.ok && s.p < s.end) {
        std::uint64_t k = s.varint();
        if ((k >> 3) == 1 && (k & 7) == 2) values.push_back(s.bytes(s.varint()));
        else s.skip(static_cast<int>(k & 7));
      }
    } else {
      c.skip(wire);
    }
  }
  return base;
}

}  // namespace

std::uint32_t crc32c(std::string_view bytes) {
  static const auto table = make_crc32c_table();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::uint32_t masked_crc32c(std::string_view bytes) {
  std::uint32_t c = crc32c(bytes);
  return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

TensorBoardWriter::TensorBoardWriter(const std::filesystem::path& dir) {
  char host[256] = "localhost";
  ::gethostname(host, sizeof(host) - 1);
  // One file per writer lifetime, as TensorBoard expects; a resumed run adds a second file and
  // TensorBoard merges them by step.
  path_ = dir / fmt::format("events.out.tfevents.{}.{}", static_cast<long long>(::time(nullptr)),
                            host);
  file_ = std::fopen(path_.c_str(), "ab");
  if (!file_)
    throw Error(fmt::format("cannot create TensorBoard event file {}: {}", path_.string(),
                            std::strerror(errno)));
  std::string first = event_header(static_cast<double>(::time(nullptr)), 0);
  put_length_delimited(first, 3, "brain.Event:2");
  write_record(first);
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_) std::fclose(file_);
}

void TensorBoardWriter::write_record(std::string_view payload) {
  std::string rec;
  put_le<std::uint64_t>(rec, payload.size());
  put_le<std::uint32_t>(rec, masked_crc32c(std::string_view(rec.data(), 8)));
  rec.append(payload);
  put_le<std::uint32_t>(rec, masked_crc32c(payload));
  if (std::fwrite(rec.data(), 1, rec.size(), file_) != rec.size() || std::fflush(file_) != 0)
    throw Error(fmt::format("cannot write TensorBoard event file {}: {}", path_.string(),
                            std::strerror(errno)));
}

void TensorBoardWriter::add_image(const std::string& tag, std::string_view png, int width, int height,
                                  std::int64_t step, double wall_time) {
  std::string image;
  image.push_back(0x08);  // field 1 (height), varint
  put_varint(image, static_cast<std::uint64_t>(height));
  image.push_back(0x10);  // field 2 (width), varint
  put_varint(image, static_cast<std::uint64_t>(width));
  image.push_back(0x18);  // field 3 (colorspace), varint
  put_varint(image, 3);   // RGB
  put_length_delimited(image, 4, png);
  std::string value_msg;
  put_length_delimited(value_msg, 1, tag);
  put_length_delimited(value_msg, 4, image);
  std::string summary;
  put_length_delimited(summary, 1, value_msg);
  std::string event = event_header(wall_time, step);
  put_length_delimited(event, 5, summary);
  write_record(event);
}

void TensorBoardWriter::add_scalar(const std::string& tag, float value, std::int64_t step,
                                   double wall_time) {
  std::string value_msg;
  put_length_delimited(value_msg, 1, tag);
  value_msg.push_back(0x15);  // field 2, 32-bit
  put_le(value_msg, value);
  std::string summary;
  put_length_delimited(summary, 1, value_msg);
  std::string event = event_header(wall_time, step);
  put_length_delimited(event, 5, summary);
  write_record(event);
}

namespace {

// The step field of an Event payload (0 when absent, as for the file_version record).
std::int64_t event_step(std::string_view msg) {
  Cursor c{msg.data(), msg.data() + msg.size()};
  while (c.ok && c.p < c.end) {
    std::uint64_t key = c.varint();
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 2 && wire == 0) return static_cast<std::int64_t>(c.varint());
    c.skip(wire);
  }
  return 0;
}

}  // namespace

void truncate_events_after(const std::filesystem::path& path, std::int64_t step) {
  std::string data = read_file(path);
  std::string kept;
  std::size_t pos = 0;
  while (data.size() - pos >= 12) {
    std::uint64_t len;
    std::uint32_t len_crc, data_crc;
    std::memcpy(&len, data.data() + pos, 8);
    std::memcpy(&len_crc, data.data() + pos + 8, 4);
    if (len_crc != masked_crc32c(std::string_view(data.data() + pos, 8)) ||
        len > data.size() - pos - 12 || data.size() - pos - 12 - len < 4)
      break;
    std::string_view payload(data.data() + pos + 12, len);
    std::memcpy(&data_crc, data.data() + pos + 12 + len, 4);
    if (data_crc != masked_crc32c(payload)) break;
    if (event_step(payload) <= step) kept.append(data, pos, 16 + len);
    pos += 16 + len;
  }
  write_file_atomic(path, kept);
}

namespace {

// Calls `on_event` with the payload of every complete, CRC-valid record, in file order.
template <typename F>
void for_each_record(const std::filesystem::path& path, F&& on_event) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error(fmt::format("cannot read event file {}: {}", path.string(),
                                  std::strerror(errno)));
  while (true) {
    char head[12];
    if (std::fread(head, 1, 12, f) != 12) break;
    std::uint64_t len;
    std::uint32_t len_crc;
    std::memcpy(&len, head, 8);
    std::memcpy(&len_crc, head + 8, 4);
    if (len_crc != masked_crc32c(std::string_view(head, 8)) || len > (1u << 26)) break;
    std::string payload(len, '\0');
    std::uint32_t data_crc;
    if (std::fread(payload.data(), 1, len, f) != len || std::fread(&data_crc, 1, 4, f) != 4) break;
    if (data_crc != masked_crc32c(payload)) break;
    on_event(parse_event(payload));
  }
  std::fclose(f);
}

}  // namespace

std::vector<ScalarEvent> read_scalar_events(const std::filesystem::path& path) {
  std::vector<ScalarEvent> out;
  for_each_record(path, [&](const ParsedEvent& e) {
    for (std::string_view msg : e.values) {
      ParsedValue v = parse_value(msg);
      if (v.scalar) out.push_back({e.wall_time, e.step, v.tag, *v.scalar});
    }
  });
  return out;
}

std::vector<ImageEvent> read_image_events(const std::filesystem::path& path) {
  std::vector<ImageEvent> out;
  for_each_record(path, [&](const ParsedEvent& e) {
    for (std::string_view msg : e.values) {
      ParsedValue v = parse_value(msg);
      if (!v.image) continue;
      ImageEvent ev;
      ev.wall_time = e.wall_time;
      ev.step = e.step;
      ev.tag = v.tag;
      parse_image(*v.image, ev);
      out.push_back(std::move(ev));
    }
  });
  return out;
}

}  // namespace lathe
