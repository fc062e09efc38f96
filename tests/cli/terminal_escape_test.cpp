// Strings from files reach the terminal escaped (#14): a LoRA's metadata, captions and tags in
// `lathe tags` and `lathe audit`, profile keys in `lathe profile show|check`. Each test plants the
// sequences a hostile file would carry (ESC [2J clears the screen, OSC 0 sets the window
// title, a newline fakes an output line, U+009B is the 8-bit CSI) and checks that no control
// byte reaches the output and the escaped form is shown instead.
#include <gtest/gtest.h>

#include <cstring>

#include "dataset/image_fixtures.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "run_command.h"
#include "temp_dir.h"
#include "test_paths.h"

namespace lathe::test {
namespace {

namespace fs = std::filesystem;

const std::string kClear = "\x1b[2J";
const std::string kTitle = "\x1b]0;pwned\x07";
const std::string kCsi8 = "\xC2\x9B" "2J";

// The first control byte (C0 other than '\n', DEL, or a UTF-8 encoded C1) in `s`, or npos.
std::size_t control_byte_at(const std::string& s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && c != '\n') || c == 0x7f) return i;
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(s[i + 1]) <= 0x9F)
      return i;
  }
  return std::string::npos;
}

void expect_clean(const CommandResult& r) {
  const std::size_t at = control_byte_at(r.output);
  EXPECT_EQ(at, std::string::npos) << "raw control byte at " << at << " in:\n" << r.output;
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

TEST(TerminalEscape, LoRAInspectShowsHostileMetadataEscaped) {
  TempDir dir;
  const std::string m = "lora_unet_down_blocks_0_attentions_0_proj_in";
  const std::string down(4 * 8 * 4, '\0'), up(8 * 4 * 4, '\0');
  float alpha = 4.0f;
  std::string alpha_bytes(4, '\0');
  std::memcpy(alpha_bytes.data(), &alpha, 4);
  const fs::path path = dir / "evil.safetensors";
  write_safetensors(path,
                    {{m + ".lora_down.weight", DType::F32, {4, 8}, down},
                     {m + ".lora_up.weight", DType::F32, {8, 4}, up},
                     {m + ".alpha", DType::F32, {}, alpha_bytes}},
                    {{"ss_output_name", kClear + "cleared"},
                     {"modelspec.title", kTitle + "title"},
                     {"ss_comment", "line one\nss_fake: forged line"},
                     {"ss_csi", kCsi8},
                     {"evil" + kClear, "key"}});
  const CommandResult r = run_lathe("lora inspect " + shell_quote(path.string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_clean(r);
  EXPECT_TRUE(contains(r.output, "\\e[2Jcleared")) << r.output;
  EXPECT_TRUE(contains(r.output, "\\e]0;pwned\\x07title")) << r.output;
  EXPECT_TRUE(contains(r.output, "line one\\nss_fake: forged line")) << r.output;
  EXPECT_TRUE(contains(r.output, "\\u{9b}2J")) << r.output;
  EXPECT_TRUE(contains(r.output, "evil\\e[2J")) << r.output;
}

// One concept whose caption carries the sequences as tags.
struct HostileDataset {
  TempDir dir;
  fs::path caption;
  HostileDataset() {
    const fs::path base = dir / "10_evil" / "img";
    fs::create_directories(base.parent_path());
    write_text(base.string() + ".png", encode_image(".png", 8, 8));
    caption = base.string() + ".txt";
    write_text(caption, kTitle + "pwned, solo, " + kClear + "x, blurry, " + kCsi8 + "\n");
  }
  std::string q() const { return shell_quote(dir.path().string()); }
};

TEST(TerminalEscape, TagsStatsAndEditPreviewShowCaptionsEscaped) {
  HostileDataset d;
  const CommandResult stats = run_lathe("tags stats " + d.q());
  ASSERT_EQ(stats.exit_code, 0) << stats.output;
  expect_clean(stats);
  EXPECT_TRUE(contains(stats.output, "\\e]0;pwned\\x07pwned")) << stats.output;
  EXPECT_TRUE(contains(stats.output, "\\e[2Jx")) << stats.output;

  const CommandResult dry = run_lathe("tags remove " + d.q() + " blurry --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  expect_clean(dry);
  EXPECT_TRUE(contains(dry.output, "- \\e]0;pwned\\x07pwned, solo, \\e[2Jx, blurry, \\u{9b}2J"))
      << dry.output;

  // The tag given on the command line is shown escaped as well (history, undo).
  const CommandResult rm = run_lathe("tags remove " + d.q() + " " + shell_quote(kClear + "x"));
  ASSERT_EQ(rm.exit_code, 0) << rm.output;
  expect_clean(rm);
  const CommandResult history = run_lathe("tags history " + d.q());
  expect_clean(history);
  EXPECT_TRUE(contains(history.output, "remove \"\\e[2Jx\"")) << history.output;
  const CommandResult undo = run_lathe("tags undo " + d.q());
  ASSERT_EQ(undo.exit_code, 0) << undo.output;
  expect_clean(undo);
}

TEST(TerminalEscape, AuditTextReportShowsTagsEscaped) {
  HostileDataset d;
  const CommandResult r = run_lathe("audit " + d.q());
  expect_clean(r);
  EXPECT_TRUE(contains(r.output, "\\e]0;pwned\\x07pwned")) << r.output;
}

TEST(TerminalEscape, ProfileShowAndCheckShowKeysEscaped) {
  // A quoted TOML key with escapes puts a real ESC and BEL into the key the error names.
  TempDir dir;
  std::string text = read_file(source_dir() / "profiles/demo.toml");
  const std::size_t at = text.find("[training]\n");
  ASSERT_NE(at, std::string::npos);
  text.insert(at + 11, "\"evil\\u001b[2J\\u001b]0;pwned\\u0007\" = 1\n");
  const fs::path p = dir / "evil.toml";
  write_text(p, text);
  for (const std::string cmd : {"profile show ", "profile check "}) {
    const CommandResult r = run_lathe(cmd + shell_quote(p.string()));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    expect_clean(r);
    EXPECT_TRUE(contains(r.output, "training.evil\\e[2J\\e]0;pwned\\x07: unknown key")) << r.output;
  }
}

TEST(TerminalEscape, ErrorMessagesShowPathsEscaped) {
  // Every command's error goes through one printer; a path from a file list or a profile can
  // carry the same bytes as metadata.
  TempDir dir;
  const fs::path missing = dir / ("gone" + kClear + kTitle);
  const CommandResult r = run_lathe("audit " + shell_quote(missing.string()));
  EXPECT_NE(r.exit_code, 0) << r.output;
  expect_clean(r);
  EXPECT_TRUE(contains(r.output, "gone\\e[2J\\e]0;pwned\\x07")) << r.output;
}

}  // namespace
}  // namespace lathe::test
