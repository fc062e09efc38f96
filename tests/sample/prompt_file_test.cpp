// Prompts files: kohya's inline options, comments, the TOML layouts, and errors that name the
// file and line.
#include <gtest/gtest.h>

#include "common/error.h"
#include "sample/prompt_file.h"
#include "temp_dir.h"

namespace lathe {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(PromptLine, KohyaInlineOptions) {
  PromptSpec p = parse_prompt_line("a photo of sks dog, beach --n blurry, lowres --w 512 --H 768 --d 42 --s 28 "
                                   "--l 7.5 --ss k_euler_a",
                                   "p.txt:1");
  EXPECT_EQ(p.prompt, "a photo of sks dog, beach");
  EXPECT_EQ(p.negative, "blurry, lowres");
  EXPECT_EQ(p.width, 512);
  EXPECT_EQ(p.height, 768);
  EXPECT_EQ(p.seed, 42u);
  EXPECT_EQ(p.steps, 28);
  EXPECT_DOUBLE_EQ(*p.cfg, 7.5);
  EXPECT_EQ(p.sampler, SamplerKind::EulerAncestral);
  PromptSpec plain = parse_prompt_line("just a prompt", "p.txt:2");
  EXPECT_EQ(plain.prompt, "just a prompt");
  EXPECT_FALSE(plain.negative || plain.width || plain.seed || plain.sampler);
}

TEST(PromptLine, ErrorsNameWhereAndWhat) {
  EXPECT_NE(error_of([] { parse_prompt_line("dog --w abc", "p.txt:3"); }).find("p.txt:3: width (--w) 'abc'"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_prompt_line("dog --x 1", "p.txt:4"); }).find("p.txt:4: unknown option --x"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_prompt_line("dog --l lots", "p.txt:5"); }).find("p.txt:5: guidance"), std::string::npos);
  EXPECT_NE(error_of([] { parse_prompt_line("dog --ss nonsense", "p.txt:6"); }).find("p.txt:6"), std::string::npos);
  EXPECT_NE(error_of([] { parse_prompt_line(" --w 512", "p.txt:7"); }).find("no prompt"), std::string::npos);
  EXPECT_NE(error_of([] { parse_prompt_line("dog --n", "p.txt:8"); }).find("--n needs a value"), std::string::npos);
}

TEST(PromptFile, TextSkipsBlankLinesAndComments) {
  test::TempDir dir;
  test::write_text(dir / "prompts.txt", "# samples for my LoRA\n\nfirst --d 1\r\n  # indented comment\nsecond --w 640\n");
  auto prompts = read_prompt_file(dir / "prompts.txt");
  ASSERT_EQ(prompts.size(), 2u);
  EXPECT_EQ(prompts[0].prompt, "first");
  EXPECT_EQ(prompts[0].seed, 1u);
  EXPECT_EQ(prompts[0].where, (dir / "prompts.txt").string() + ":3");
  EXPECT_EQ(prompts[1].prompt, "second");
  EXPECT_EQ(prompts[1].width, 640);
  EXPECT_EQ(prompts[1].where, (dir / "prompts.txt").string() + ":5");
}

TEST(PromptFile, ErrorNamesFileAndLine) {
  test::TempDir dir;
  test::write_text(dir / "prompts.txt", "ok\n\nbad --s many\n");
  EXPECT_NE(error_of([&] { read_prompt_file(dir / "prompts.txt"); }).find((dir / "prompts.txt").string() + ":3:"),
            std::string::npos);
  test::write_text(dir / "empty.txt", "# nothing\n\n");
  EXPECT_NE(error_of([&] { read_prompt_file(dir / "empty.txt"); }).find("no prompts"), std::string::npos);
  EXPECT_NE(error_of([&] { read_prompt_file(dir / "missing.txt"); }).find("missing.txt"), std::string::npos);
}

TEST(PromptFile, KohyaTomlWithDefaultsAndSubsets) {
  test::TempDir dir;
  test::write_text(dir / "prompts.toml",
                   "[prompt]\nwidth = 512\nheight = 512\nsample_steps = 24\nscale = 6.5\nseed = 7\n"
                   "negative_prompt = \"lowres\"\n\n"
                   "[[prompt.subset]]\nprompt = \"a cat\"\n\n"
                   "[[prompt.subset]]\nprompt = \"a dog\"\nwidth = 768\nseed = 9\nsample_sampler = \"ddim\"\n");
  auto prompts = read_prompt_file(dir / "prompts.toml");
  ASSERT_EQ(prompts.size(), 2u);
  EXPECT_EQ(prompts[0].prompt, "a cat");
  EXPECT_EQ(prompts[0].width, 512);
  EXPECT_EQ(prompts[0].steps, 24);
  EXPECT_DOUBLE_EQ(*prompts[0].cfg, 6.5);
  EXPECT_EQ(prompts[0].seed, 7u);
  EXPECT_EQ(prompts[0].negative, "lowres");
  EXPECT_EQ(prompts[1].width, 768);
  EXPECT_EQ(prompts[1].seed, 9u);
  EXPECT_EQ(prompts[1].sampler, SamplerKind::DDIM);
}

TEST(PromptFile, TomlArrayOfTablesAndErrors) {
  test::TempDir dir;
  test::write_text(dir / "p.toml", "[[prompt]]\nprompt = \"one\"\n\n[[prompt]]\nprompt = \"two\"\nsample_steps = 8\n");
  auto prompts = read_prompt_file(dir / "p.toml");
  ASSERT_EQ(prompts.size(), 2u);
  EXPECT_EQ(prompts[1].steps, 8);
  test::write_text(dir / "bad.toml", "[[prompt]]\nprompt = \"one\"\nstepz = 8\n");
  EXPECT_NE(error_of([&] { read_prompt_file(dir / "bad.toml"); }).find((dir / "bad.toml").string() + ":3: stepz"),
            std::string::npos);
  test::write_text(dir / "broken.toml", "[[prompt]\nprompt = 1\n");
  EXPECT_NE(error_of([&] { read_prompt_file(dir / "broken.toml"); }).find((dir / "broken.toml").string() + ":1"),
            std::string::npos);
  test::write_text(dir / "none.toml", "[[prompt]]\nwidth = 512\n");
  EXPECT_NE(error_of([&] { read_prompt_file(dir / "none.toml"); }).find("no prompt"), std::string::npos);
}

}  // namespace
}  // namespace lathe
