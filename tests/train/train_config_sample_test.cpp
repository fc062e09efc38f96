// [sample] in a profile: defaults, every key, prompts inline or from a prompts file (kohya's
// text format and TOML), errors naming the key (or the prompts file's line), the frozen
// profile's round trip (a prompts file's prompts are kept inline), and [sample] staying out of
// the checkpoint identity.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/profile.h"
#include "temp_dir.h"
#include "train/config/train_config.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

const std::string kBase = R"(
[model]
path = "tiny-random:sd15"
[dataset]
path = "data"
[training]
resolution = [768, 512]
)";

ProfileCheck check(const std::string& sample_section, const fs::path& path, const std::vector<std::string>& sets = {}) {
  return check_train_profile(parse_profile(kBase + "[sample]\n" + sample_section, path), sets);
}

std::string errors(const ProfileCheck& c) {
  std::string s;
  for (const auto& e : c.errors) s += e + "\n";
  return s;
}

// The one error of a [sample] section, asserting it names `key`.
std::string error_naming(const std::string& section, const std::string& key, const fs::path& path) {
  ProfileCheck c = check(section, path);
  EXPECT_EQ(c.errors.size(), 1u) << errors(c);
  const std::string e = errors(c);
  EXPECT_NE(e.find("sample." + key), std::string::npos) << e;
  return e;
}

TEST(TrainConfigSample, OffUnlessTheSectionIsThere) {
  TempDir dir;
  TrainConfig t = parse_train_config(kBase, dir / "p.toml");
  EXPECT_FALSE(t.sample.enabled());
  // A profile without [sample] renders as before [sample] existed (old checkpoints still match).
  EXPECT_EQ(render_profile_toml(t).find("[sample]"), std::string::npos);
}

TEST(TrainConfigSample, DefaultsSampleEveryEpochAtTheTrainingResolution) {
  TempDir dir;
  ProfileCheck c = check("prompts = [\"a {activation} on a table\"]\n", dir / "p.toml");
  ASSERT_TRUE(c.ok()) << errors(c);
  const SampleConfig& s = c.config->sample;
  EXPECT_TRUE(s.enabled());
  EXPECT_EQ(s.prompts, (std::vector<std::string>{"a {activation} on a table"}));
  EXPECT_FALSE(s.prompts_file);
  EXPECT_EQ(s.every_n_epochs, 1);
  EXPECT_EQ(s.every_n_steps, 0);
  EXPECT_FALSE(s.at_start);
  EXPECT_EQ(s.sampler, SamplerKind::EulerAncestral);
  EXPECT_EQ(s.steps, 20);
  EXPECT_DOUBLE_EQ(s.cfg, 7.0);
  EXPECT_FALSE(s.width);
  EXPECT_FALSE(s.height);
  EXPECT_EQ(s.seed, 42u);
  EXPECT_EQ(s.negative_prompt, "");
  // every_n_steps alone: no epoch sampling unless asked for.
  ProfileCheck steps = check("prompts = [\"x\"]\nevery_n_steps = 25\n", dir / "p.toml");
  ASSERT_TRUE(steps.ok()) << errors(steps);
  EXPECT_EQ(steps.config->sample.every_n_epochs, 0);
  EXPECT_EQ(steps.config->sample.every_n_steps, 25);
}

TEST(TrainConfigSample, EveryKeyIsRead) {
  TempDir dir;
  ProfileCheck c = check(R"(prompts = ["a cat --n dog --w 512 --d 5", "a tree"]
every_n_steps = 100
every_n_epochs = 2
at_start = true
sampler = "k_dpmpp_2m_karras"
steps = 12
cfg = 4.5
width = 640
height = 448
seed = 1000
negative_prompt = "blurry, lowres"
)",
                         dir / "p.toml");
  ASSERT_TRUE(c.ok()) << errors(c);
  const SampleConfig& s = c.config->sample;
  EXPECT_EQ(s.prompts.size(), 2u);
  EXPECT_EQ(s.every_n_steps, 100);
  EXPECT_EQ(s.every_n_epochs, 2);
  EXPECT_TRUE(s.at_start);
  EXPECT_EQ(s.sampler, SamplerKind::DPMPP2MKarras);
  EXPECT_EQ(s.steps, 12);
  EXPECT_DOUBLE_EQ(s.cfg, 4.5);
  EXPECT_EQ(s.width, 640);
  EXPECT_EQ(s.height, 448);
  EXPECT_EQ(s.seed, 1000u);
  EXPECT_EQ(s.negative_prompt, "blurry, lowres");
  EXPECT_EQ(c.sources.at("sample.cfg"), KeySource::File);

  // Round trip through the frozen profile.
  const std::string frozen = render_profile_toml(*c.config);
  TrainConfig again = parse_train_config(frozen, dir / "runs/r/profile.toml");
  auto body = [](const std::string& text) { return text.substr(text.find("\n[")); };  // past the header
  EXPECT_EQ(body(render_profile_toml(again)), body(frozen));
  EXPECT_EQ(again.sample.prompts, s.prompts);
  EXPECT_EQ(again.sample.sampler, s.sampler);
  EXPECT_EQ(again.sample.cfg, s.cfg);
  EXPECT_EQ(again.sample.width, s.width);
  EXPECT_EQ(again.sample.negative_prompt, s.negative_prompt);
}

TEST(TrainConfigSample, PromptsFileInKohyasTextFormatIsKeptInline) {
  TempDir dir;
  test::write_text(dir / "prompts.txt",
                   "# prompts for the cat\n\n{activation} sitting --n blurry --w 640 --h 448 --d 7 --l 5.5 --s 9 --ss ddim\n"
                   "a tree\n");
  ProfileCheck c = check("prompts_file = \"prompts.txt\"\n", dir / "p.toml");
  ASSERT_TRUE(c.ok()) << errors(c);
  const SampleConfig& s = c.config->sample;
  EXPECT_EQ(s.prompts_file, fs::absolute(dir / "prompts.txt").lexically_normal());
  ASSERT_EQ(s.prompts.size(), 2u);
  EXPECT_EQ(s.prompts[0], "{activation} sitting --n blurry --w 640 --h 448 --s 9 --l 5.5 --d 7 --ss ddim");
  EXPECT_EQ(s.prompts[1], "a tree");
  // The frozen profile holds the prompts themselves: editing the file later changes nothing.
  const std::string frozen = render_profile_toml(*c.config);
  EXPECT_NE(frozen.find("prompts = [\"{activation} sitting --n blurry"), std::string::npos) << frozen;
  EXPECT_EQ(frozen.find("prompts_file"), std::string::npos) << frozen;
  test::write_text(dir / "prompts.txt", "something else\n");
  TrainConfig again = parse_train_config(frozen, dir / "runs/r/profile.toml");
  EXPECT_EQ(again.sample.prompts, s.prompts);
}

TEST(TrainConfigSample, PromptsFileInTomlIsKeptAsLines) {
  TempDir dir;
  test::write_text(dir / "prompts.toml", R"(
[prompt]
width = 512
sample_steps = 8

[[prompt.subset]]
prompt = "a red circle"
negative_prompt = "square"
seed = 3

[[prompt.subset]]
prompt = "a blue square"
scale = 6
)");
  ProfileCheck c = check("prompts_file = \"prompts.toml\"\n", dir / "p.toml");
  ASSERT_TRUE(c.ok()) << errors(c);
  EXPECT_EQ(c.config->sample.prompts,
            (std::vector<std::string>{"a red circle --n square --w 512 --s 8 --d 3", "a blue square --w 512 --s 8 --l 6"}));
}

TEST(TrainConfigSample, ErrorsNameTheKey) {
  TempDir dir;
  error_naming("every_n_epochs = 1\n", "prompts", dir / "p.toml");
  EXPECT_NE(error_naming("prompts = []\n", "prompts", dir / "p.toml").find("is empty"), std::string::npos);
  EXPECT_NE(error_naming("prompts = [\"a\"]\nprompts_file = \"p.txt\"\n", "prompts_file", dir / "p.toml").find("not both"),
            std::string::npos);
  EXPECT_NE(error_naming("prompts_file = \"nope.txt\"\n", "prompts_file", dir / "p.toml").find("does not exist"),
            std::string::npos);
  // A bad inline option names the list item and the option.
  const std::string bad_option = error_naming("prompts = [\"ok\", \"a cat --w wide\"]\n", "prompts", dir / "p.toml");
  EXPECT_NE(bad_option.find("prompts[2]"), std::string::npos) << bad_option;
  EXPECT_NE(bad_option.find("--w"), std::string::npos) << bad_option;
  EXPECT_NE(error_naming("prompts = [\"a --x 1\"]\n", "prompts", dir / "p.toml").find("unknown option --x"),
            std::string::npos);
  // A bad line in a prompts file names the file and the line.
  test::write_text(dir / "bad.txt", "fine\n\nalso fine --s 0\n");
  const std::string bad_line = error_naming("prompts_file = \"bad.txt\"\n", "prompts_file", dir / "p.toml");
  EXPECT_NE(bad_line.find("bad.txt:3"), std::string::npos) << bad_line;
  EXPECT_NE(error_naming("prompts = [\"a\"]\nsampler = \"heun\"\n", "sampler", dir / "p.toml").find("euler_a"),
            std::string::npos);
  EXPECT_NE(error_naming("prompts = [\"a\"]\nsampler = \"eular\"\n", "sampler", dir / "p.toml").find("unknown sampler"),
            std::string::npos);
  error_naming("prompts = [\"a\"]\nsteps = 0\n", "steps", dir / "p.toml");
  error_naming("prompts = [\"a\"]\ncfg = -1\n", "cfg", dir / "p.toml");
  error_naming("prompts = [\"a\"]\ncfg = nan\n", "cfg", dir / "p.toml");
  EXPECT_NE(error_naming("prompts = [\"a\"]\nwidth = 500\n", "width", dir / "p.toml").find("multiple of 8"),
            std::string::npos);
  error_naming("prompts = [\"a\"]\nheight = 32\n", "height", dir / "p.toml");
  error_naming("prompts = [\"a\"]\nseed = -1\n", "seed", dir / "p.toml");
  error_naming("prompts = [\"a\"]\nevery_n_steps = -5\n", "every_n_steps", dir / "p.toml");
  EXPECT_NE(error_naming("prompts = [\"a\"]\nevery_n_epochs = 0\n", "every_n_epochs", dir / "p.toml")
                .find("no sample would be rendered"),
            std::string::npos);
  EXPECT_NE(error_naming("prompts = [\"a\"]\nevry_n_steps = 5\n", "evry_n_steps", dir / "p.toml").find("every_n_steps"),
            std::string::npos);  // did-you-mean
  error_naming("prompts = \"a cat\"\n", "prompts", dir / "p.toml");  // a string, not a list
}

TEST(TrainConfigSample, SetOverridesWork) {
  TempDir dir;
  TrainConfig t = parse_train_config(kBase, dir / "p.toml",
                                     {"sample.prompts=[\"a {activation}\"]", "sample.every_n_steps=10", "sample.sampler=ddim"});
  EXPECT_TRUE(t.sample.enabled());
  EXPECT_EQ(t.sample.every_n_steps, 10);
  EXPECT_EQ(t.sample.every_n_epochs, 0);
  EXPECT_EQ(t.sample.sampler, SamplerKind::DDIM);
}

TEST(TrainConfigSample, SamplingStaysOutOfTheCheckpointIdentity) {
  TempDir dir;
  TrainConfig off = parse_train_config(kBase, dir / "p.toml");
  TrainConfig on = parse_train_config(kBase + "[sample]\nprompts = [\"a cat\"]\nevery_n_steps = 5\n", dir / "p.toml");
  TrainConfig other = parse_train_config(kBase + "[sample]\nprompts = [\"a dog\"]\nat_start = true\n", dir / "p.toml");
  EXPECT_NE(render_profile_toml(off), render_profile_toml(on));  // the frozen profile keeps [sample]
  EXPECT_EQ(render_profile_identity(off), render_profile_identity(on));
  EXPECT_EQ(render_profile_identity(on), render_profile_identity(other));
  EXPECT_EQ(render_profile_identity(on).find("[sample]"), std::string::npos);
}

}  // namespace
}  // namespace lathe
