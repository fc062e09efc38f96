// A deterministic stand-in tokenizer for tiny random models only: lowercase the caption, split
// it on commas and whitespace, map each word to 1 + FNV-1a(word) mod (vocab - 3), then wrap
// as CLIP does (start, words, end, end-padding to 77). A fresh clone carries no CLIP
// vocabulary and a tiny model's embeddings are random, so real BPE buys nothing there; real
// checkpoints never use this (they need a real CLIP vocabulary).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "train/model/caption_tokenizer.h"

namespace lathe {

// start id = vocab - 2, end (and pad) id = vocab - 1; vocab_size must be at least 8.
std::unique_ptr<CaptionTokenizer> make_word_hash_tokenizer(std::int64_t vocab_size);

// FNV-1a 64 of the bytes (exposed for tests).
std::uint64_t fnv1a64(const std::string& text);

}  // namespace lathe
