// Parity of the CLIP tokenizer with openai/CLIP's simple_tokenizer.py on the shared fixtures
// (every row of cases.tsv, both columns), plus hand-checked cases: booru tags, punctuation,
// digits, emoji and non-ASCII text, long captions, padding/chunking, both vocabulary layouts
// and errors on broken vocabulary files.
#include "text/clip_tokenizer.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "temp_dir.h"
#include "test_paths.h"

namespace lathe::text {
namespace {

namespace fs = std::filesystem;
using ::lathe::test::shared_dir;

// Lathe's own copy of OpenAI's vocabulary (data/clip), so these tests need nothing beside the
// repository except the parity fixtures.
fs::path vocab_path() { return ::lathe::test::source_dir() / "data/clip/bpe_simple_vocab_16e6.txt.gz"; }

std::shared_ptr<const BpeVocab> shared_vocab() {
  static std::shared_ptr<const BpeVocab> v = load_bpe_vocab(vocab_path());
  return v;
}

std::vector<int> parse_ids(const std::string& s) {
  std::vector<int> ids;
  std::istringstream in(s);
  for (int id; in >> id;) ids.push_back(id);
  return ids;
}

struct Case {
  int idx;
  std::string caption;
  std::vector<int> ids, ids_no_ftfy;
  std::string pieces;
};

std::vector<Case> read_cases() {
  std::ifstream in(shared_dir() / "fixtures/tokenizer/cases.tsv", std::ios::binary);
  std::vector<Case> cases;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> cols;
    std::size_t pos = 0;
    for (std::size_t tab; (tab = line.find('\t', pos)) != std::string::npos; pos = tab + 1)
      cols.push_back(line.substr(pos, tab - pos));
    cols.push_back(line.substr(pos));
    if (cols.size() != 6) ADD_FAILURE() << "bad fixture line: " << line;
    if (cols.size() != 6) continue;
    cases.push_back({std::stoi(cols[0]), nlohmann::json::parse(cols[1]).get<std::string>(),
                     parse_ids(cols[2]), parse_ids(cols[4]), cols[5]});
    EXPECT_EQ(cases.back().ids.size(), std::stoul(cols[3])) << "row " << cols[0];
  }
  return cases;
}

std::string join_pieces(const std::vector<ClipToken>& toks) {
  std::string out;
  for (const auto& t : toks) {
    if (!out.empty()) out += ' ';
    // the fixture JSON-escapes pieces without quotes
    std::string q = nlohmann::json(t.piece).dump();
    out += q.substr(1, q.size() - 2);
  }
  return out;
}

TEST(ClipTokenizerParity, EveryFixtureRowMatchesIdsColumn) {
  LATHE_REQUIRE_SHARED("fixtures/tokenizer/cases.tsv");
  ClipTokenizer tok(shared_vocab(), TextFixing::kFtfy);
  auto cases = read_cases();
  ASSERT_EQ(cases.size(), 60u);
  for (const auto& c : cases) {
    EXPECT_EQ(tok.encode(c.caption), c.ids) << "row " << c.idx << ": " << c.caption;
    EXPECT_EQ(join_pieces(tok.tokenize(c.caption)), c.pieces) << "row " << c.idx;
  }
}

TEST(ClipTokenizerParity, EveryFixtureRowMatchesNoFtfyColumnInNfcMode) {
  LATHE_REQUIRE_SHARED("fixtures/tokenizer/cases.tsv");
  ClipTokenizer tok(shared_vocab(), TextFixing::kNfcOnly);
  for (const auto& c : read_cases())
    EXPECT_EQ(tok.encode(c.caption), c.ids_no_ftfy) << "row " << c.idx << ": " << c.caption;
}


// Expected ids below come from the reference algorithm (simple_tokenizer.py on the same
// vocabulary); the ftfy rows were fixed by hand first (ligature split, mojibake decoded, ...).
class ClipTokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override { tok_.emplace(shared_vocab()); }
  std::vector<int> ids(const std::string& s) { return tok_->encode(s); }
  std::optional<ClipTokenizer> tok_;
};

TEST_F(ClipTokenizerTest, SplitsPoiuytrezayAsTheReference) {
  auto toks = tok_->tokenize("Poiuytrezay");
  std::vector<std::string> pieces;
  for (auto& t : toks) pieces.push_back(t.piece);
  EXPECT_EQ(pieces, (std::vector<std::string>{"po", "iu", "y", "tre", "z", "ay</w>"}));
  EXPECT_EQ(ids("Poiuytrezay"), (std::vector<int>{628, 14292, 88, 975, 89, 551}));
}

TEST_F(ClipTokenizerTest, BooruTags) {
  EXPECT_EQ(ids("1girl, solo, long_hair, looking_at_viewer, (masterpiece:1.2), score_9, "
                "rating:safe"),
            (std::vector<int>{272, 1611, 267, 5797, 267, 1538, 318, 2225, 267, 1312, 318, 536,
                              318, 15061, 267, 263, 12066, 281, 272, 269, 273, 2361, 4431, 318,
                              280, 267, 10567, 281, 2996}));
  EXPECT_EQ(ids("jinxdef"), (std::vector<int>{7927, 87, 11649}));
  EXPECT_EQ(ids("jinxarcane"), (std::vector<int>{7927, 87, 516, 14716}));
}

TEST_F(ClipTokenizerTest, PunctuationRunsStayTogether) {
  EXPECT_EQ(ids("hello!!! what?! ... (wow) [x] {y} \"q\" #tag @user 50% $5 a+b=c"),
            (std::vector<int>{3306, 995, 768, 2835, 678, 263, 2781, 264, 314, 343, 316, 346, 344,
                              348, 257, 336, 257, 258, 3640, 287, 7031, 276, 271, 260, 259,
                              276, 320, 266, 321, 284, 322}));
}

TEST_F(ClipTokenizerTest, DigitsAreOneTokenEach) {
  EXPECT_EQ(ids("1234567 3.14 2024-01-01 1e10 \u00bd \u216b \u0663"),
            (std::vector<int>{272, 273, 274, 275, 276, 277, 278, 274, 269, 272, 275, 273, 271,
                              273, 275, 268, 271, 272, 268, 271, 272, 272, 324, 272, 271, 33613,
                              158, 227, 375, 149, 352}));
}

TEST_F(ClipTokenizerTest, EmojiAndNonAscii) {
  EXPECT_EQ(ids("cute \U0001F431 cat \U0001F600\U0001F44D\U0001F3FD \U0001F1EF\U0001F1F5 "
                "\u2764\uFE0F"),
            (std::vector<int>{2242, 22979, 2368, 12832, 43722, 26527, 1752}));
  EXPECT_EQ(ids("caf\u00e9 na\u00efve \u6771\u4eac \u041c\u043e\u0441\u043a\u0432\u0430 "
                "\u039f\u0394\u039f\u03a3 stra\u00dfe"),
            (std::vector<int>{15304, 1097, 35689, 563, 48338, 21078, 361, 38018, 13506, 23669,
                              27152, 39813, 27080, 138, 123, 138, 112, 138, 123, 139, 480, 1894,
                              127, 253, 324}));
  // Decomposed e + U+0301 is composed (NFC) before tokenizing.
  EXPECT_EQ(ids("cafe\u0301"), ids("caf\u00e9"));
}

TEST_F(ClipTokenizerTest, ContractionsAndSpecialTokens) {
  EXPECT_EQ(ids("don't it's we'll they're i've i'm he'd"),
            (std::vector<int>{847, 713, 585, 568, 649, 1342, 889, 982, 328, 1200, 328, 880, 797,
                              1896}));
  EXPECT_EQ(ids("a <|endoftext|> b"), (std::vector<int>{320, 49407, 321}));
}

TEST_F(ClipTokenizerTest, HtmlEntitiesAreDecoded) {
  EXPECT_EQ(ids("a &amp; b &lt;3 &#39;x&#39;"),
            (std::vector<int>{320, 261, 321, 283, 274, 262, 343, 262}));
  EXPECT_EQ(ids("&amp;amp;"), ids("&"));
}

TEST_F(ClipTokenizerTest, FtfyFixesOnlyInFtfyMode) {
  ClipTokenizer nfc(shared_vocab(), TextFixing::kNfcOnly);
  EXPECT_EQ(ids("\u01c4emal"), ids("d\u017eemal"));           // Latin ligature split
  EXPECT_EQ(ids("\ufb01sh"), (std::vector<int>{2759}));        // "fish"
  EXPECT_EQ(ids("caf\u00c3\u00a9"), (std::vector<int>{15304})); // mojibake of "café"
  EXPECT_EQ(ids("\u201cquoted\u201d"), (std::vector<int>{257, 27706, 257}));
  EXPECT_EQ(ids("\uff2c\uff2f\uff35\uff24\u3000\uff2e\uff2f\uff29\uff33\uff25\uff33"),
            (std::vector<int>{7464, 31575}));  // fullwidth "LOUD NOISES"
  EXPECT_EQ(ids("x\x1b[31mred\x1b[0m"), (std::vector<int>{87, 736}));
  EXPECT_EQ(ids("&EACUTE;"), (std::vector<int>{4166}));  // ftfy's upper-case entities
  EXPECT_EQ(ids("a\x01" "b"), (std::vector<int>{3937}));  // control character removed
  EXPECT_NE(nfc.encode("\ufb01sh"), ids("\ufb01sh"));
  EXPECT_NE(nfc.encode("caf\u00c3\u00a9"), ids("caf\u00c3\u00a9"));
  // Legitimate Latin-1 text is left alone.
  EXPECT_EQ(ids("Stra\u00dfe gro\u00df \u00c4\u00d6\u00dc"), nfc.encode("Stra\u00dfe gro\u00df \u00c4\u00d6\u00dc"));
}

TEST_F(ClipTokenizerTest, EmptyAndBlankCaptionsHaveNoTokens) {
  EXPECT_TRUE(ids("").empty());
  EXPECT_TRUE(ids(" \t\n ").empty());
  EXPECT_EQ(tok_->encode_padded(""), [] {
    std::vector<int> row(77, 49407);
    row[0] = 49406;
    return row;
  }());
}

TEST_F(ClipTokenizerTest, InvalidUtf8DoesNotThrow) {
  EXPECT_FALSE(ids("ab\xff\xfe cd").empty());
}

std::string long_caption(int tags) {
  std::string s;
  for (int i = 0; i < tags; ++i) s += (i ? ", " : "") + std::string("blue eyes");
  return s;  // 3 tokens per tag (blue, eyes, comma) minus the last comma
}

TEST_F(ClipTokenizerTest, LongCaptionsTruncateTo77WithEndToken) {
  std::string cap = long_caption(40);  // 119 tokens
  auto all = ids(cap);
  ASSERT_EQ(all.size(), 119u);
  auto row = tok_->encode_padded(cap);
  ASSERT_EQ(row.size(), 77u);
  EXPECT_EQ(row.front(), 49406);
  EXPECT_EQ(row.back(), 49407);
  EXPECT_TRUE(std::equal(row.begin() + 1, row.end() - 1, all.begin()));
  auto short_row = tok_->encode_padded("a cat", kClipPadZero);
  EXPECT_EQ(std::vector<int>(short_row.begin(), short_row.begin() + 5),
            (std::vector<int>{49406, 320, 2368, 49407, 0}));
  EXPECT_EQ(short_row.back(), 0);
}

TEST_F(ClipTokenizerTest, KohyaChunksForMaxTokenLength) {
  std::string cap = long_caption(40);  // 119 tokens: two full-ish rows of 75
  auto all = ids(cap);
  auto v1 = tok_->encode_chunks(cap, 225, kClipPadEndOfText);
  ASSERT_EQ(v1.size(), 3u);
  for (auto& r : v1) {
    ASSERT_EQ(r.size(), 77u);
    EXPECT_EQ(r.front(), 49406);
    EXPECT_EQ(r.back(), 49407);
  }
  EXPECT_TRUE(std::equal(v1[0].begin() + 1, v1[0].end() - 1, all.begin()));
  EXPECT_TRUE(std::equal(all.begin() + 75, all.end(), v1[1].begin() + 1));
  EXPECT_EQ(v1[1][1 + 44], 49407);  // end token right after the last id
  EXPECT_EQ(v1[2][1], 49407);       // an empty row is BOS then EOS/padding
  auto v2 = tok_->encode_chunks(cap, 225, kClipPadZero);
  ASSERT_EQ(v2.size(), 3u);
  EXPECT_EQ(v2[0].back(), 49407);     // a row cut mid-caption ends with EOS
  EXPECT_EQ(v2[1][1 + 44], 49407);
  EXPECT_EQ(v2[1].back(), 0);         // ... a row that ended early keeps padding
  EXPECT_EQ(v2[2][1], 49407);         // empty row: BOS, EOS, then padding
  EXPECT_EQ(v2[2][2], 0);
  EXPECT_EQ(tok_->encode_chunks(cap, 150).size(), 2u);
  EXPECT_EQ(tok_->encode_chunks(cap, 75).size(), 1u);
  EXPECT_THROW(tok_->encode_chunks(cap, 100), Error);
}

TEST_F(ClipTokenizerTest, CopiesShareTheVocabularyAndGiveTheSameIds) {
  ClipTokenizer copy(*tok_);
  EXPECT_EQ(copy.encode("jinxdef, 1girl"), ids("jinxdef, 1girl"));
  EXPECT_EQ(&copy.vocab(), &tok_->vocab());
}

// Byte offsets where each token starts: a piece spells one byte per code point ("</w>" aside).
std::vector<std::size_t> token_starts(const std::vector<ClipToken>& toks) {
  std::vector<std::size_t> starts;
  std::size_t at = 0;
  for (const auto& t : toks) {
    starts.push_back(at);
    std::string piece = t.piece;
    if (piece.size() >= 4 && piece.compare(piece.size() - 4, 4, "</w>") == 0) piece.resize(piece.size() - 4);
    for (unsigned char c : piece) at += (c & 0xC0) != 0x80;  // count code points
  }
  return starts;
}

std::string letters(std::size_t n, unsigned seed) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    seed = seed * 1103515245u + 12345u;
    s += static_cast<char>('a' + (seed >> 16) % 26);
  }
  return s;
}

// Merging is quadratic in a word's length, so words over 512 bytes are merged in 512-byte
// slices, cut between UTF-8 characters: a 100 kB pasted blob takes a fraction of a second
// instead of half a minute, and words of real captions (the parity rows) are untouched.
TEST_F(ClipTokenizerTest, HugeWordsAreMergedInSlicesOf512Bytes) {
  const std::string word = letters(100000, 7);
  const auto toks = tok_->tokenize(word);
  const auto starts = token_starts(toks);
  for (std::size_t cut = 512; cut < word.size(); cut += 512)
    EXPECT_TRUE(std::binary_search(starts.begin(), starts.end(), cut)) << "no token starts at byte " << cut;
  EXPECT_EQ(toks.back().piece.substr(toks.back().piece.size() - 4), "</w>");
  // A 2-byte character across byte 512 moves the cut before it.
  const std::string utf8 = std::string(511, 'a') + "\xc3\xa9" + letters(100, 3);
  const auto s2 = token_starts(tok_->tokenize(utf8));
  EXPECT_TRUE(std::binary_search(s2.begin(), s2.end(), 511u));
}

// --- vocabulary files ---

std::string gunzip(const fs::path& p) {
  gzFile f = gzopen(p.c_str(), "rb");
  std::string out;
  char buf[1 << 16];
  for (int n; (n = gzread(f, buf, sizeof buf)) > 0;) out.append(buf, n);
  gzclose(f);
  return out;
}

TEST(ClipVocabFiles, LoadsHuggingFaceLayoutFromTheFirstMerges) {
  const int kMerges = 2000;
  auto full = shared_vocab();
  std::istringstream lines(gunzip(vocab_path()));
  std::string line, merges_txt = "#version: 0.2\n";
  std::getline(lines, line);
  for (int i = 0; i < kMerges && std::getline(lines, line); ++i) merges_txt += line + "\n";
  nlohmann::json vocab = nlohmann::json::object();
  for (int id = 0; id < 512 + kMerges; ++id) vocab[full->tokens[id]] = id;
  vocab["<|startoftext|>"] = 512 + kMerges;
  vocab["<|endoftext|>"] = 512 + kMerges + 1;
  lathe::test::TempDir dir;
  lathe::test::write_text(dir / "model/tokenizer/vocab.json", vocab.dump());
  lathe::test::write_text(dir / "model/tokenizer/merges.txt", merges_txt);

  for (const fs::path& p : {dir / "model", dir / "model/tokenizer",
                            dir / "model/tokenizer/vocab.json"}) {
    ClipTokenizer hf = ClipTokenizer::load(p);
    EXPECT_EQ(hf.start_id(), 512 + kMerges) << p;
    EXPECT_EQ(hf.end_id(), 512 + kMerges + 1) << p;
    // Every merge these words need ranks below 2000, so the small vocabulary agrees.
    EXPECT_EQ(hf.encode("a photo of a cat"), (std::vector<int>{320, 1125, 539, 320, 2368}));
    auto row = hf.encode_padded("a cat");
    EXPECT_EQ(row[0], 512 + kMerges);
    EXPECT_EQ(row[3], 512 + kMerges + 1);
  }
}

void expect_error_naming(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one naming " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(ClipVocabFiles, ErrorsNameTheBrokenFile) {
  lathe::test::TempDir dir;
  fs::path missing = dir / "nope.txt.gz";
  expect_error_naming([&] { load_bpe_vocab(missing); }, missing.string());

  fs::path corrupt = dir / "corrupt.txt.gz";
  lathe::test::write_text(corrupt, std::string("\x1f\x8b\x08\x00garbage-not-deflate", 22));
  expect_error_naming([&] { load_bpe_vocab(corrupt); }, corrupt.string());

  fs::path short_file = dir / "short.txt.gz";
  lathe::test::write_text(short_file, "header\na b\nc d\n");
  expect_error_naming([&] { load_bpe_vocab(short_file); }, "truncated");

  lathe::test::write_text(dir / "hf/vocab.json", "{not json");
  lathe::test::write_text(dir / "hf/merges.txt", "#version: 0.2\n");
  expect_error_naming([&] { load_bpe_vocab(dir / "hf"); }, (dir / "hf/vocab.json").string());

  lathe::test::write_text(dir / "half/merges.txt", "#version: 0.2\n");
  expect_error_naming([&] { load_bpe_vocab(dir / "half"); }, "no vocab.json");

  expect_error_naming([&] { load_bpe_vocab(dir.path()); }, "holds no CLIP vocabulary");
}

}  // namespace
}  // namespace lathe::text
