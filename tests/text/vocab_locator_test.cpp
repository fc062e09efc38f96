// Where commands find the CLIP vocabulary: --vocab, then $LATHE_CLIP_VOCAB, then the copy
// installed with Lathe (beside the binary, then the source tree), and that the copy the build
// installs is OpenAI's file, unchanged.
#include "text/vocab_locator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "common/sha256.h"
#include "temp_dir.h"
#include "test_paths.h"
#include "text/bpe_vocab.h"

namespace lathe::text {
namespace {

namespace fs = std::filesystem;

// Sets or clears LATHE_CLIP_VOCAB for one test, restoring it afterwards.
class ScopedVocabEnv {
 public:
  explicit ScopedVocabEnv(const char* value) {
    if (const char* old = std::getenv("LATHE_CLIP_VOCAB")) old_ = old;
    if (value) ::setenv("LATHE_CLIP_VOCAB", value, 1); else ::unsetenv("LATHE_CLIP_VOCAB");
  }
  ~ScopedVocabEnv() {
    if (old_) ::setenv("LATHE_CLIP_VOCAB", old_->c_str(), 1); else ::unsetenv("LATHE_CLIP_VOCAB");
  }

 private:
  std::optional<std::string> old_;
};

void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "x";
}

TEST(VocabLocator, ExplicitBeatsEnvironmentBeatsTheInstalledCopy) {
  test::TempDir dir;
  touch(dir / "a/bpe_simple_vocab_16e6.txt.gz");
  touch(dir / "b/bpe_simple_vocab_16e6.txt.gz");
  const std::vector<BundledVocabDir> dirs = {{dir / "missing", "installed with Lathe"},
                                             {dir / "a", "installed with Lathe"},
                                             {dir / "b", "source tree"}};
  {
    ScopedVocabEnv env(nullptr);
    auto found = find_clip_vocab(std::nullopt, dirs);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->path, dir / "a/bpe_simple_vocab_16e6.txt.gz");  // the first folder holding it
    EXPECT_EQ(found->source, "installed with Lathe");
    found = find_clip_vocab(std::nullopt, {dirs[0], dirs[2]});
    ASSERT_TRUE(found);
    EXPECT_EQ(found->source, "source tree");
    EXPECT_FALSE(find_clip_vocab(std::nullopt, {dirs[0]}));
    EXPECT_FALSE(find_clip_vocab(std::string(), {dirs[0]}));  // an empty --vocab is no --vocab
  }
  {
    ScopedVocabEnv env("/elsewhere/vocab.txt.gz");  // returned as given, even if missing
    auto found = find_clip_vocab(std::nullopt, dirs);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->path, "/elsewhere/vocab.txt.gz");
    EXPECT_EQ(found->source, "LATHE_CLIP_VOCAB");
    found = find_clip_vocab(std::string("/mine/tokenizer"), dirs);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->path, "/mine/tokenizer");
    EXPECT_EQ(found->source, "--vocab");
  }
  {
    ScopedVocabEnv env("");  // set but empty: ignored
    EXPECT_EQ(find_clip_vocab(std::nullopt, dirs)->source, "installed with Lathe");
  }
}

TEST(VocabLocator, SearchesBesideTheBinaryThenThePrefixThenTheSourceTree) {
  auto dirs = bundled_clip_vocab_dirs("/opt/lathe/bin");
  ASSERT_EQ(dirs.size(), 3u);
  EXPECT_EQ(dirs[0].dir, "/opt/lathe/bin/share/lathe/clip");
  EXPECT_EQ(dirs[1].dir, "/opt/lathe/share/lathe/clip");
  EXPECT_EQ(dirs[2].dir, test::source_dir() / "data/clip");
  EXPECT_EQ(dirs[2].source, "source tree");
  EXPECT_EQ(bundled_clip_vocab_dirs("").size(), 1u);
}

// The test binaries sit in the build folder beside lathe, so with nothing configured they find
// what the build installed there: OpenAI's file (its published SHA-256), a working vocabulary.
TEST(VocabLocator, TheBuildInstallsOpenAIsVocabularyBesideTheBinaries) {
  ScopedVocabEnv env(nullptr);
  auto found = find_clip_vocab(std::nullopt);
  ASSERT_TRUE(found) << clip_vocab_missing_message();
  EXPECT_EQ(found->path, executable_dir() / "share/lathe/clip" / kClipVocabFileName);
  EXPECT_EQ(found->source, "installed with Lathe");
  EXPECT_EQ(locate_clip_vocab(std::nullopt), found->path);
  const std::string openai = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a";
  EXPECT_EQ(sha256_file_hex(found->path), openai);
  EXPECT_EQ(sha256_file_hex(test::source_dir() / "data/clip" / kClipVocabFileName), openai);
  EXPECT_EQ(load_bpe_vocab(found->path)->tokens.size(), 49408u);
}

TEST(VocabLocator, MissingMessageSaysHowToFixIt) {
  const std::string m = clip_vocab_missing_message();
  for (const char* s : {"--vocab", "LATHE_CLIP_VOCAB", "share/lathe/clip", "reinstall"})
    EXPECT_NE(m.find(s), std::string::npos) << s << " in " << m;
}

}  // namespace
}  // namespace lathe::text
