// safetensors reader/writer: round trips of every dtype and metadata, and one test per header
// defect the validator must name (the file is untrusted input: an error, never a crash).
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <numeric>

#include "common/error.h"
#include "io/atomic_file.h"
#include "temp_dir.h"

namespace lathe {
namespace {

using test::TempDir;

// Raw file bytes: 8-byte little-endian length, the header text as given, then the data.
std::string raw_file(const std::string& header, const std::string& data = "",
                     std::uint64_t length_override = UINT64_MAX) {
  std::uint64_t n = length_override == UINT64_MAX ? header.size() : length_override;
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

// The error message parse_safetensors_header gives for a whole file's bytes ("" when valid).
std::string header_error(const std::string& file) {
  try {
    parse_safetensors_header(file, file.size(), "bad.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_defect(const std::string& file, const std::string& fragment) {
  std::string msg = header_error(file);
  EXPECT_NE(msg.find("bad.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find(fragment), std::string::npos) << "expected \"" << fragment << "\" in: " << msg;
}

TEST(Safetensors, RoundTripsEveryDtypeAndMetadata) {
  TempDir dir;
  const DType all[] = {DType::F64, DType::F32,  DType::F16,     DType::BF16,    DType::I64,
                       DType::I32, DType::I16,  DType::I8,      DType::U8,      DType::BOOL,
                       DType::F8_E4M3, DType::F8_E5M2, DType::U16, DType::U32, DType::U64};
  std::vector<std::string> payloads;
  std::vector<TensorToWrite> tensors;
  for (DType t : all) {
    std::string bytes(2 * 3 * dtype_size(t), '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7 + dtype_size(t));
    payloads.push_back(bytes);
  }
  for (std::size_t i = 0; i < std::size(all); ++i)
    tensors.push_back({std::string("t.") + dtype_name(all[i]), all[i], {2, 3}, payloads[i]});
  tensors.push_back({"scalar", DType::F32, {}, std::string_view("\0\0\x80\x3f", 4)});
  tensors.push_back({"empty", DType::F16, {0, 5}, std::string_view()});
  std::map<std::string, std::string> meta{{"ss_network_dim", "16"}, {"note", "héllo \"quoted\""}};
  write_safetensors(dir / "a.safetensors", tensors, meta);

  SafetensorsFile f(dir / "a.safetensors");
  EXPECT_EQ(f.metadata(), meta);
  EXPECT_EQ(f.header().header_size % 8, 0u) << "data must start 8-byte aligned";
  EXPECT_EQ(f.names().size(), tensors.size());
  for (std::size_t i = 0; i < std::size(all); ++i) {
    TensorView v = f.view(std::string("t.") + dtype_name(all[i]));
    EXPECT_EQ(v.info->dtype, all[i]);
    EXPECT_EQ(v.info->shape, (std::vector<std::int64_t>{2, 3}));
    ASSERT_EQ(v.size, payloads[i].size());
    EXPECT_EQ(std::memcmp(v.data, payloads[i].data(), v.size), 0) << dtype_name(all[i]);
    DType parsed;
    ASSERT_TRUE(parse_dtype(dtype_name(all[i]), &parsed));
    EXPECT_EQ(parsed, all[i]);
  }
  EXPECT_EQ(f.view("scalar").info->numel(), 1u);
  float one;
  std::memcpy(&one, f.view("scalar").data, 4);
  EXPECT_EQ(one, 1.0f);
  EXPECT_EQ(f.view("empty").size, 0u);
  EXPECT_FALSE(f.contains("nope"));
  EXPECT_THROW(f.info("nope"), Error);
  f.release(f.view("t.F64"));  // must not disturb other views
  EXPECT_EQ(std::memcmp(f.view("t.F64").data, payloads[0].data(), payloads[0].size()), 0);
}

TEST(Safetensors, WriterRejectsBadInputAndLeavesNoFile) {
  TempDir dir;
  std::string four(4, 'x');
  EXPECT_THROW(write_safetensors(dir / "w.safetensors", {{"a", DType::F32, {2}, four}}, {}), Error);
  EXPECT_THROW(write_safetensors(dir / "w.safetensors",
                                 {{"a", DType::F32, {1}, four}, {"a", DType::F32, {1}, four}}, {}),
               Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "w.safetensors"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()), 0)
      << "no temp file may be left behind";
}

TEST(Safetensors, AcceptsAWellFormedHandWrittenHeader) {
  std::string h = R"({"__metadata__":{"a":"b"},"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
                  R"("y":{"dtype":"U8","shape":[],"data_offsets":[4,5]}}  )";
  EXPECT_EQ(header_error(raw_file(h, "abcde")), "");
  auto parsed = parse_safetensors_header(raw_file(h, "abcde"), 8 + h.size() + 5, "f");
  ASSERT_EQ(parsed.tensors.size(), 2u);
  EXPECT_EQ(parsed.tensors[0].name, "x");  // sorted by data offset
  EXPECT_EQ(parsed.metadata.at("a"), "b");
}

TEST(SafetensorsDefects, TooShortFile) { expect_defect("abc", "too short"); }

TEST(SafetensorsDefects, HugeHeaderLength) {
  expect_defect(raw_file("{}", "", std::uint64_t(1) << 62), "above the 100000000 byte limit");
  expect_defect(raw_file("{}", "", UINT64_MAX - 1), "above");
}

TEST(SafetensorsDefects, HeaderLengthPastEndOfFile) {
  expect_defect(raw_file("{}", "", 500), "runs past the end");
}

TEST(SafetensorsDefects, NotJson) {
  expect_defect(raw_file("{\"a\": [1, 2"), "not valid JSON");
  expect_defect(raw_file("{\"a\":\xff}"), "not valid JSON");
  expect_defect(raw_file("[1]"), "does not start with '{'");
  expect_defect(raw_file(""), "does not start with '{'");
}

TEST(SafetensorsDefects, UnknownDtype) {
  expect_defect(raw_file(R"({"x":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}})", "abcd"),
                "unknown dtype \"F17\"");
}

TEST(SafetensorsDefects, MissingAndMistypedFields) {
  expect_defect(raw_file(R"({"x":{"dtype":"F32","shape":[1]}})"), "has no \"data_offsets\"");
  expect_defect(raw_file(R"({"x":5})"), "is not a JSON object");
  expect_defect(raw_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0]}})"),
                "not an array of two integers");
  expect_defect(raw_file(R"({"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", "abcd"),
                "expected a non-negative integer");
  expect_defect(raw_file(R"({"__metadata__":{"a":1}})"), "is not a string");
}

TEST(SafetensorsDefects, ShapeDoesNotMatchByteRange) {
  expect_defect(raw_file(R"({"x":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})",
                         std::string(12, 'a')),
                "needs 16 bytes but data_offsets [0, 12] span 12");
}

TEST(SafetensorsDefects, NegativeAndOverflowingShapes) {
  expect_defect(raw_file(R"({"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "abcd"),
                "expected a non-negative integer");
  expect_defect(raw_file(R"({"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})"),
                "overflows 64 bits");
  expect_defect(raw_file(R"({"x":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}})"),
                "overflows 64 bits");
  expect_defect(raw_file(R"({"x":{"dtype":"U8","shape":[99999999999999999999],"data_offsets":[0,0]}})"),
                "expected a non-negative integer");
}

TEST(SafetensorsDefects, RangeOutsideTheFile) {
  expect_defect(raw_file(R"({"x":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}})", "abcd"),
                "run past the end of the data");
}

TEST(SafetensorsDefects, OverlapsGapsAndTrailingBytes) {
  expect_defect(raw_file(R"({"x":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                         R"("y":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})", "abcdef"),
                "overlap");
  expect_defect(raw_file(R"({"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                         R"("y":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}})", "abcde"),
                "not part of any tensor");
  expect_defect(raw_file(R"({"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", "abcd"),
                "trailing bytes");
  expect_defect(raw_file(R"({"x":{"dtype":"U8","shape":[2],"data_offsets":[2,0]}})", "ab"),
                "end before they begin");
}

TEST(SafetensorsDefects, DuplicateKeysAndDeepNesting) {
  expect_defect(raw_file(R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                         R"("x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", "a"),
                "appears twice");
  expect_defect(raw_file(R"({"__metadata__":{"a":"1","a":"2"}})"), "appears twice");
  expect_defect(raw_file(R"({"x":{"dtype":"U8","shape":[[[1]]],"data_offsets":[0,1]}})", "a"),
                "nested deeper");
  expect_defect(raw_file("{\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}"),
                "nested deeper");
}

TEST(SafetensorsFileErrors, TruncatedFileNamesThePath) {
  TempDir dir;
  std::string data(64, 'z');
  write_safetensors(dir / "t.safetensors", {{"w", DType::F32, {16}, data}}, {});
  std::string bytes = read_file(dir / "t.safetensors");
  write_file_atomic(dir / "t.safetensors", bytes.substr(0, bytes.size() - 10));
  try {
    SafetensorsFile f(dir / "t.safetensors");
    FAIL() << "a truncated file must be refused";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find((dir / "t.safetensors").string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("run past the end of the data"), std::string::npos) << msg;
  }
  write_file_atomic(dir / "empty.safetensors", "");
  EXPECT_THROW(SafetensorsFile(dir / "empty.safetensors"), Error);
  EXPECT_THROW(SafetensorsFile(dir / "missing.safetensors"), Error);
  EXPECT_THROW(SafetensorsFile(dir.path()), Error);
}

}  // namespace
}  // namespace lathe
