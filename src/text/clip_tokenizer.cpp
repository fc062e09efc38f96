// BPE as in simple_tokenizer.py's bpe(): start from one symbol per byte (the last one carrying
// "</w>"), repeatedly merge every left-to-right occurrence of the lowest-ranked adjacent pair,
// stop when no pair has a rank. Symbols are vocabulary ids throughout.
#include "text/clip_tokenizer.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "common/error.h"
#include "text/utf8.h"

namespace lathe::text {
namespace {

// Bounds memory on huge datasets; a caption corpus rarely has this many distinct words.
constexpr std::size_t kMaxCachedWords = 1u << 20;

// Merging is quadratic in a word's length: a 100 kB "word" (a base64 blob pasted into a caption)
// takes seconds, a 1 MiB one minutes, and the audit tokenizes every caption by default. Longer
// words are merged in slices of this many bytes (cut between UTF-8 characters), where the
// reference merges them whole; no word of a real caption comes near it.
constexpr std::size_t kMaxBpeWordBytes = 512;

// simple_tokenizer.py's merge loop over `sym` (vocabulary ids), in place.
void merge_pairs(const BpeVocab& vocab, std::vector<int>& sym) {
  std::vector<int> next;
  next.reserve(sym.size());
  while (sym.size() > 1) {
    int best_rank = std::numeric_limits<int>::max();
    const BpeVocab::Merge* best = nullptr;
    int left = 0, right = 0;
    for (std::size_t i = 0; i + 1 < sym.size(); ++i) {
      const BpeVocab::Merge* m = vocab.find_merge(sym[i], sym[i + 1]);
      if (m && m->rank < best_rank) {
        best_rank = m->rank;
        best = m;
        left = sym[i];
        right = sym[i + 1];
      }
    }
    if (!best) break;
    next.clear();
    for (std::size_t i = 0; i < sym.size();) {
      if (i + 1 < sym.size() && sym[i] == left && sym[i + 1] == right) {
        next.push_back(best->merged_id);
        i += 2;
      } else {
        next.push_back(sym[i++]);
      }
    }
    sym.swap(next);
  }
}

}  // namespace

ClipTokenizer::ClipTokenizer(std::shared_ptr<const BpeVocab> vocab, TextFixing fixing)
    : vocab_(std::move(vocab)), fixing_(fixing) {
  if (!vocab_) throw Error("ClipTokenizer needs a vocabulary");
}

ClipTokenizer::ClipTokenizer(const ClipTokenizer& other)
    : vocab_(other.vocab_), fixing_(other.fixing_) {}

ClipTokenizer& ClipTokenizer::operator=(const ClipTokenizer& other) {
  vocab_ = other.vocab_;
  fixing_ = other.fixing_;
  cache_.clear();
  return *this;
}

ClipTokenizer ClipTokenizer::load(const std::filesystem::path& path, TextFixing fixing) {
  return ClipTokenizer(load_bpe_vocab(path), fixing);
}

int ClipTokenizer::id_of(const std::string& piece) const {
  auto it = vocab_->ids.find(piece);
  return it == vocab_->ids.end() ? -1 : it->second;
}

std::vector<int> ClipTokenizer::bpe(const std::string& word) const {
  if (word == "<|startoftext|>") return {vocab_->start_id};
  if (word == "<|endoftext|>") return {vocab_->end_id};
  std::vector<int> out, sym;
  for (std::size_t begin = 0; begin < word.size();) {
    std::size_t end = std::min(word.size(), begin + kMaxBpeWordBytes);
    while (end < word.size() && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) --end;
    sym.clear();
    for (std::size_t i = begin; i < end; ++i) {
      auto b = static_cast<unsigned char>(word[i]);
      sym.push_back(i + 1 == word.size() ? vocab_->byte_end_ids[b] : vocab_->byte_ids[b]);
    }
    merge_pairs(*vocab_, sym);
    out.insert(out.end(), sym.begin(), sym.end());
    begin = end;
  }
  return out;
}

const std::vector<int>& ClipTokenizer::word_ids(const std::string& word) {
  auto it = cache_.find(word);
  if (it != cache_.end()) return it->second;
  if (cache_.size() >= kMaxCachedWords) cache_.clear();
  return cache_.emplace(word, bpe(word)).first->second;
}

std::vector<int> ClipTokenizer::encode(std::string_view text) {
  std::u32string cleaned = clean_caption(text, fixing_);
  std::vector<int> ids;
  ids.reserve(cleaned.size() / 3 + 4);
  std::string word;
  for (const WordSpan& w : pretokenize(cleaned)) {
    word.clear();
    for (std::size_t k = 0; k < w.length; ++k) append_utf8(cleaned[w.start + k], word);
    const std::vector<int>& wid = word_ids(word);
    ids.insert(ids.end(), wid.begin(), wid.end());
  }
  return ids;
}

std::vector<ClipToken> ClipTokenizer::tokenize(std::string_view text) {
  std::vector<ClipToken> out;
  for (int id : encode(text)) out.push_back({id, vocab_->tokens.at(id)});
  return out;
}

std::vector<int> ClipTokenizer::encode_padded(std::string_view text, int pad_id, int length) {
  if (length < 2) throw Error(fmt::format("token row length {} is too short (minimum 2)", length));
  std::vector<int> ids = encode(text);
  std::vector<int> row;
  row.reserve(length);
  row.push_back(vocab_->start_id);
  std::size_t keep = std::min<std::size_t>(ids.size(), static_cast<std::size_t>(length - 2));
  row.insert(row.end(), ids.begin(), ids.begin() + keep);
  row.push_back(vocab_->end_id);
  row.resize(length, pad_id);
  return row;
}

std::vector<std::vector<int>> ClipTokenizer::encode_chunks(std::string_view text,
                                                           int max_token_length, int pad_id) {
  if (max_token_length != 75 && max_token_length != 150 && max_token_length != 225)
    throw Error(fmt::format("max_token_length must be 75, 150 or 225 (got {})", max_token_length));
  const int inner = kClipContextLength - 2;  // 75 ids per row
  std::vector<int> full = encode_padded(text, pad_id, max_token_length + 2);
  if (max_token_length == inner) return {full};
  const int eos = vocab_->end_id;
  std::vector<std::vector<int>> rows;
  for (int i = 1; i < max_token_length + 2 - kClipContextLength + 2; i += inner) {
    std::vector<int> row;
    row.reserve(kClipContextLength);
    row.push_back(full.front());
    row.insert(row.end(), full.begin() + i, full.begin() + i + inner);
    row.push_back(full.back());
    if (pad_id != eos) {
      // sd-scripts (v2 / SDXL): end a row that was cut mid-caption with EOS, and start an
      // empty row with EOS after BOS.
      if (row[kClipContextLength - 2] != eos && row[kClipContextLength - 2] != pad_id)
        row.back() = eos;
      if (row[1] == pad_id) row[1] = eos;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace lathe::text
