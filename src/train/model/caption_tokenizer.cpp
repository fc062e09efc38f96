// CLIP BPE captions for the trainer. Padding follows the tokenizers the encoders shipped with:
// OpenAI CLIP (SD 1.x, SDXL encoder 1) pads with end-of-text, OpenCLIP (SD 2.x, SDXL encoder 2)
// with "!" (id 0), as diffusers' tokenizer / tokenizer_2 folders say.
#include "train/model/caption_tokenizer.h"

#include <fmt/format.h>

#include "text/clip_tokenizer.h"

namespace lathe {
namespace {

class ClipCaptionTokenizer : public CaptionTokenizer {
 public:
  ClipCaptionTokenizer(const std::filesystem::path& vocab, ModelFamily family)
      : tokenizer_(text::ClipTokenizer::load(vocab)), family_(family), source_(vocab) {}

  std::vector<long> encode(const std::string& caption, int encoder) override {
    const bool open_clip = family_ == ModelFamily::SD2 || (family_ == ModelFamily::SDXL && encoder == 1);
    const int pad = open_clip ? text::kClipPadZero : text::kClipPadEndOfText;
    const std::vector<int> ids = tokenizer_.encode_padded(caption, pad);
    return std::vector<long>(ids.begin(), ids.end());
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

std::unique_ptr<CaptionTokenizer> make_clip_caption_tokenizer(const std::filesystem::path& vocab,
                                                              ModelFamily family) {
  return std::make_unique<ClipCaptionTokenizer>(vocab, family);
}

}  // namespace lathe
