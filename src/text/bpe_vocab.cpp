// Reading the two vocabulary layouts. Both end in the same BpeVocab; merges whose parts are
// not in the vocabulary are an error (the file is corrupt or from another tokenizer).
#include "text/bpe_vocab.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "text/byte_unicode.h"

namespace lathe::text {
namespace {

namespace fs = std::filesystem;

const char* kHowToPoint =
    "point --vocab (or LATHE_CLIP_VOCAB) at a diffusers model's tokenizer/ folder (vocab.json + "
    "merges.txt) or at OpenAI's bpe_simple_vocab_16e6.txt.gz";

std::string read_gzip(const fs::path& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw Error(fmt::format("cannot open CLIP vocabulary '{}': {}", path.string(),
                                  std::strerror(errno)));
  std::string out;
  char buf[1 << 16];
  while (true) {
    int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int code = 0;
      std::string why = gzerror(f, &code);
      gzclose(f);
      throw Error(fmt::format("CLIP vocabulary '{}' is not a readable gzip file ({}); {}",
                              path.string(), why, kHowToPoint));
    }
    if (n == 0) break;
    out.append(buf, n);
  }
  gzclose(f);
  return out;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot open CLIP vocabulary file '{}': {}", path.string(),
                                   std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

// Python's str.split(): runs of ASCII blanks separate; "a b" -> {"a", "b"}.
std::vector<std::string> split_blanks(const std::string& line) {
  std::vector<std::string> parts;
  std::istringstream ss(line);
  for (std::string p; ss >> p;) parts.push_back(p);
  return parts;
}

struct MergeLine {
  std::string left, right;
  std::size_t line_no;
};

// Lines [1, 1 + expected) as the reference slices them; fewer is a truncated file.
std::vector<MergeLine> parse_merges(const std::vector<std::string>& lines, std::size_t expected,
                                    const std::string& source) {
  std::size_t available = lines.size() > 1 ? lines.size() - 1 : 0;
  if (available < expected)
    throw Error(fmt::format("CLIP vocabulary '{}' holds {} merge lines, expected {}: the file is "
                            "truncated or not a CLIP BPE merges file; {}",
                            source, available, expected, kHowToPoint));
  std::vector<MergeLine> merges;
  merges.reserve(expected);
  for (std::size_t i = 1; i <= expected; ++i) {
    auto parts = split_blanks(lines[i]);
    if (parts.size() != 2)
      throw Error(fmt::format("CLIP vocabulary '{}' line {}: expected two symbols separated by "
                              "a space, got '{}'",
                              source, i + 1, lines[i].substr(0, 80)));
    merges.push_back({parts[0], parts[1], i + 1});
  }
  return merges;
}

int require_id(const BpeVocab& v, const std::string& symbol, const std::string& where) {
  auto it = v.ids.find(symbol);
  if (it == v.ids.end())
    throw Error(fmt::format("{}: symbol '{}' is not in the vocabulary; the files do not belong "
                            "together or are corrupt",
                            where, symbol));
  return it->second;
}

void add_merges(BpeVocab& v, const std::vector<MergeLine>& merges, const std::string& source) {
  v.merges.reserve(merges.size() * 2);
  for (std::size_t r = 0; r < merges.size(); ++r) {
    const auto& m = merges[r];
    std::string where = fmt::format("CLIP merges '{}' line {}", source, m.line_no);
    int a = require_id(v, m.left, where), b = require_id(v, m.right, where);
    int merged = require_id(v, m.left + m.right, where);
    // Later duplicates win, as in the reference's dict(zip(merges, range(...))).
    v.merges[(static_cast<std::uint64_t>(a) << 32) | static_cast<std::uint32_t>(b)] = {
        static_cast<int>(r), merged};
  }
}

void set_byte_ids(BpeVocab& v, const std::string& source) {
  for (int b = 0; b < 256; ++b) {
    const std::string& sym = byte_symbol(static_cast<unsigned char>(b));
    v.byte_ids[b] = require_id(v, sym, fmt::format("CLIP vocabulary '{}'", source));
    v.byte_end_ids[b] = require_id(v, sym + "</w>", fmt::format("CLIP vocabulary '{}'", source));
  }
}

void add_token(BpeVocab& v, const std::string& tok) {
  v.ids[tok] = static_cast<int>(v.tokens.size());  // later duplicates win, as in the reference
  v.tokens.push_back(tok);
}

}  // namespace

std::shared_ptr<const BpeVocab> bpe_vocab_from_merges_text(const std::string& text,
                                                           const std::string& source) {
  auto merges = parse_merges(split_lines(text), kClipMergeCount, source);
  auto v = std::make_shared<BpeVocab>();
  v->source = source;
  v->tokens.reserve(512 + merges.size() + 2);
  for (unsigned char b : byte_symbol_order()) add_token(*v, byte_symbol(b));
  for (unsigned char b : byte_symbol_order()) add_token(*v, byte_symbol(b) + "</w>");
  for (const auto& m : merges) add_token(*v, m.left + m.right);
  add_token(*v, "<|startoftext|>");
  add_token(*v, "<|endoftext|>");
  v->start_id = v->ids.at("<|startoftext|>");
  v->end_id = v->ids.at("<|endoftext|>");
  set_byte_ids(*v, source);
  add_merges(*v, merges, source);
  return v;
}

std::shared_ptr<const BpeVocab> load_hf_bpe_vocab(const fs::path& vocab_json,
                                                  const fs::path& merges_txt) {
  auto v = std::make_shared<BpeVocab>();
  v->source = vocab_json.parent_path().string();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(vocab_json));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("CLIP vocabulary '{}' is not valid JSON: {}", vocab_json.string(),
                            e.what()));
  }
  if (!j.is_object() || j.empty())
    throw Error(fmt::format("CLIP vocabulary '{}' must be a JSON object of token -> id",
                            vocab_json.string()));
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<long long>() < 0 ||
        it.value().get<long long>() > 10'000'000)
      throw Error(fmt::format("CLIP vocabulary '{}': token '{}' has no valid id",
                              vocab_json.string(), it.key()));
    std::size_t id = it.value().get<std::size_t>();
    if (v->tokens.size() <= id) v->tokens.resize(id + 1);
    v->tokens[id] = it.key();
    v->ids[it.key()] = static_cast<int>(id);
  }
  // HF strips the merges text before splitting; a missing "#version" line is still skipped.
  std::string text = read_file(merges_txt);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  // vocab.json holds 256 byte symbols, their "</w>" forms, one entry per merge and the two
  // special tokens, so its size says how many merges to read (the reference caps at 48894).
  std::size_t expected = v->ids.size() > 514 ? v->ids.size() - 514 : 0;
  expected = std::min<std::size_t>(expected, kClipMergeCount);
  auto merges = parse_merges(split_lines(text), expected, merges_txt.string());
  std::string where = fmt::format("CLIP vocabulary '{}'", vocab_json.string());
  v->start_id = require_id(*v, "<|startoftext|>", where);
  v->end_id = require_id(*v, "<|endoftext|>", where);
  set_byte_ids(*v, vocab_json.string());
  add_merges(*v, merges, merges_txt.string());
  return v;
}

std::shared_ptr<const BpeVocab> load_bpe_vocab(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw Error(fmt::format("CLIP vocabulary '{}' does not exist; {}", path.string(), kHowToPoint));
  if (fs::is_directory(path, ec)) {
    for (const fs::path& dir : {path, path / "tokenizer"}) {
      if (fs::exists(dir / "vocab.json", ec) || fs::exists(dir / "merges.txt", ec)) {
        if (!fs::exists(dir / "merges.txt", ec))
          throw Error(fmt::format("CLIP vocabulary folder '{}' has vocab.json but no merges.txt",
                                  dir.string()));
        if (!fs::exists(dir / "vocab.json", ec))
          throw Error(fmt::format("CLIP vocabulary folder '{}' has merges.txt but no vocab.json",
                                  dir.string()));
        return load_hf_bpe_vocab(dir / "vocab.json", dir / "merges.txt");
      }
    }
    if (fs::exists(path / "bpe_simple_vocab_16e6.txt.gz", ec))
      return load_bpe_vocab(path / "bpe_simple_vocab_16e6.txt.gz");
    throw Error(fmt::format("folder '{}' holds no CLIP vocabulary (vocab.json + merges.txt, "
                            "tokenizer/, or bpe_simple_vocab_16e6.txt.gz); {}",
                            path.string(), kHowToPoint));
  }
  if (path.filename() == "vocab.json" || path.filename() == "merges.txt")
    return load_bpe_vocab(path.has_parent_path() ? path.parent_path() : fs::path("."));
  // gzread passes plain text through, so an uncompressed merges file also loads.
  return bpe_vocab_from_merges_text(read_gzip(path), path.string());
}

}  // namespace lathe::text
