// The word-hash tokenizer of tiny random models (see the header for why it exists).
#include "train/model/word_hash_tokenizer.h"

#include <cctype>
#include <vector>

#include <fmt/format.h>

#include "common/error.h"

namespace lathe {

std::uint64_t fnv1a64(const std::string& text) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

namespace {

class WordHashTokenizer : public CaptionTokenizer {
 public:
  explicit WordHashTokenizer(std::int64_t vocab) : vocab_(vocab) {}

  std::vector<long> encode_words(const std::string& caption, int) override {
    std::vector<long> ids;
    std::string word;
    auto flush = [&] {
      if (!word.empty())
        ids.push_back(static_cast<long>(1 + fnv1a64(word) % static_cast<std::uint64_t>(vocab_ - 3)));
      word.clear();
    };
    for (unsigned char c : caption) {
      if (c == ',' || std::isspace(c)) flush();
      else word.push_back(static_cast<char>(std::tolower(c)));
    }
    flush();
    return ids;
  }

  long start_id() const override { return static_cast<long>(vocab_ - 2); }
  long end_id() const override { return static_cast<long>(vocab_ - 1); }
  long pad_id(int) const override { return static_cast<long>(vocab_ - 1); }  // end-padding

  std::string description() const override {
    return fmt::format("word-hash tokenizer (tiny random models only, vocab {})", vocab_);
  }

 private:
  std::int64_t vocab_;
};

}  // namespace

std::unique_ptr<CaptionTokenizer> make_word_hash_tokenizer(std::int64_t vocab_size) {
  if (vocab_size < 8) throw Error(fmt::format("word-hash tokenizer: vocab {} is below 8", vocab_size));
  return std::make_unique<WordHashTokenizer>(vocab_size);
}

}  // namespace lathe
