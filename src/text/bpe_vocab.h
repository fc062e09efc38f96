// The CLIP BPE vocabulary and merge ranks, loaded from either layout people have:
// OpenAI's bpe_simple_vocab_16e6.txt.gz (merges only; the vocabulary is derived from them) or
// the Hugging Face files in every diffusers model (tokenizer/vocab.json + merges.txt).
// Immutable once loaded; tokenizers share one through a shared_ptr.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace lathe::text {

struct BpeVocab {
  std::vector<std::string> tokens;               // id -> symbol string ("cat</w>")
  std::unordered_map<std::string, int> ids;      // symbol string -> id
  std::array<int, 256> byte_ids{};               // id of each byte's symbol
  std::array<int, 256> byte_end_ids{};           // ... with "</w>"
  struct Merge {
    int rank;
    int merged_id;
  };
  std::unordered_map<std::uint64_t, Merge> merges;  // (left id << 32 | right id) -> merge
  int start_id = 49406;
  int end_id = 49407;
  std::string source;  // where it was loaded from, for messages

  const Merge* find_merge(int left, int right) const {
    auto it = merges.find((static_cast<std::uint64_t>(left) << 32) | static_cast<std::uint32_t>(right));
    return it == merges.end() ? nullptr : &it->second;
  }
};

// The number of merges CLIP uses: 49152 - 256 - 2 (the reference reads exactly these lines).
constexpr int kClipMergeCount = 48894;

// Loads `path`: a .gz file in OpenAI's format, a folder holding vocab.json and merges.txt, or
// a diffusers model folder (its tokenizer/ subfolder). Throws lathe::Error naming the file and
// line when a file is missing, unreadable or malformed.
std::shared_ptr<const BpeVocab> load_bpe_vocab(const std::filesystem::path& path);

// The parts, for tests: OpenAI's merges text (already decompressed), and the HF pair.
std::shared_ptr<const BpeVocab> bpe_vocab_from_merges_text(const std::string& text,
                                                           const std::string& source);
std::shared_ptr<const BpeVocab> load_hf_bpe_vocab(const std::filesystem::path& vocab_json,
                                                  const std::filesystem::path& merges_txt);

}  // namespace lathe::text
