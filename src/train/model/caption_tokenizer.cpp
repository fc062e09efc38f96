// CLIP BPE captions for the trainer. Padding follows the tokenizers the encoders shipped with:
// OpenAI CLIP (SD 1.x, SDXL encoder 1) pads with end-of-text, OpenCLIP (SD 2.x, SDXL encoder 2)
// with "!" (id 0), as diffusers' tokenizer / tokenizer_2 folders say.
#include "train/model/caption_tokenizer.h"

#include <algorithm>

#include <fmt/format.h>

#include "text/clip_tokenizer.h"

namespace lathe {
namespace {

class ClipCaptionTokenizer : public CaptionTokenizer {
 public:
  ClipCaptionTokenizer(const std::filesystem::path& vocab, ModelFamily family)
      : tokenizer_(text::ClipTokenizer::load(vocab)), family_(family), source_(vocab) {}

  std::vector<long> encode_words(const std::string& text, int) override {
    const std::vector<int> ids = tokenizer_.encode(text);
    return std::vector<long>(ids.begin(), ids.end());
  }

  long start_id() const override { return tokenizer_.start_id(); }
  long end_id() const override { return tokenizer_.end_id(); }
  long pad_id(int encoder) const override {
    const bool open_clip = family_ == ModelFamily::SD2 || (family_ == ModelFamily::SDXL && encoder == 1);
    return open_clip ? text::kClipPadZero : text::kClipPadEndOfText;
  }

  std::string description() const override {
    return fmt::format("CLIP BPE ({})", source_.string());
  }

 private:
  text::ClipTokenizer tokenizer_;
  ModelFamily family_;
  std::filesystem::path source_;
};

}  // namespace

std::vector<long> wrap_caption_ids(const std::vector<long>& ids, long start, long end, long pad) {
  std::vector<long> row{start};
  const std::size_t fit = static_cast<std::size_t>(text::kClipContextLength - 2);
  row.insert(row.end(), ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(std::min(fit, ids.size())));
  row.push_back(end);
  row.resize(text::kClipContextLength, pad);
  return row;
}

std::vector<long> CaptionTokenizer::encode(const std::string& caption, int encoder) {
  return wrap_caption_ids(encode_words(caption, encoder), start_id(), end_id(), pad_id(encoder));
}

std::unique_ptr<CaptionTokenizer> make_clip_caption_tokenizer(const std::filesystem::path& vocab,
                                                              ModelFamily family) {
  return std::make_unique<ClipCaptionTokenizer>(vocab, family);
}

}  // namespace lathe
