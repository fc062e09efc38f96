// Tokenizer throughput: 1,000,000 ten-tag booru-style captions on one core, the scale of a large
// dataset audit. Tags are drawn (fixed seed) from ~5,000 distinct tags built from common words,
// so the per-word cache sees realistic reuse. Target: >= 200,000 captions/s.
// Vocabulary: $LATHE_CLIP_VOCAB, else ../shared/clip/bpe_simple_vocab_16e6.txt.gz beside the repo.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "text/clip_tokenizer.h"

namespace {

std::filesystem::path vocab_path() {
  if (const char* env = std::getenv("LATHE_CLIP_VOCAB"); env && *env) return env;
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "shared" /
         "clip" / "bpe_simple_vocab_16e6.txt.gz";
}

std::vector<std::string> make_captions(std::size_t count) {
  const char* words[] = {
      "long", "short", "blue", "red", "black", "white", "blonde", "brown", "green", "purple",
      "hair", "eyes", "skirt", "dress", "shirt", "hat", "gloves", "boots", "ribbon", "bow",
      "smile", "open", "mouth", "looking", "at", "viewer", "standing", "sitting", "outdoors",
      "indoors", "sky", "cloud", "tree", "flower", "water", "beach", "night", "day", "school",
      "uniform", "cat", "ears", "tail", "holding", "sword", "weapon", "upper", "body", "full",
      "from", "side", "behind", "above", "below", "simple", "background", "gradient", "sweat",
      "blush", "tears", "closed", "one", "eye", "hand", "up", "on", "hip", "twintails", "ponytail",
      "braid", "bangs", "ahoge", "jewelry", "earrings", "necklace", "choker", "thighhighs",
      "pantyhose", "jacket", "coat", "scarf", "glasses", "armor", "wings", "horns", "halo",
      "masterpiece", "best", "quality", "absurdres", "highres", "detailed", "lighting", "depth",
      "field", "bokeh", "cinematic", "portrait", "landscape", "sunset", "rain", "snow", "city"};
  const std::size_t n_words = sizeof(words) / sizeof(words[0]);
  std::mt19937 rng(1234);
  std::vector<std::string> tags;
  for (std::size_t i = 0; i < 5000; ++i) {
    std::string t = words[rng() % n_words];
    if (rng() % 4 != 0) t += std::string("_") + words[rng() % n_words];
    if (rng() % 10 == 0) t = std::to_string(1 + rng() % 6) + t;
    tags.push_back(t);
  }
  std::vector<std::string> captions;
  captions.reserve(count);
  for (std::size_t c = 0; c < count; ++c) {
    std::string s;
    for (int k = 0; k < 10; ++k) s += (k ? ", " : "") + tags[rng() % tags.size()];
    captions.push_back(std::move(s));
  }
  return captions;
}

void BM_TokenizeMillionTenTagCaptions(benchmark::State& state) {
  static const auto captions = make_captions(1'000'000);
  lathe::text::ClipTokenizer tok = lathe::text::ClipTokenizer::load(vocab_path());
  std::size_t tokens = 0;
  for (auto _ : state) {
    for (const auto& c : captions) tokens += tok.encode(c).size();
  }
  benchmark::DoNotOptimize(tokens);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * captions.size()));
  state.counters["captions_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * captions.size()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TokenizeMillionTenTagCaptions)->Unit(benchmark::kSecond)->Iterations(1)
    ->Repetitions(3);

void BM_LoadVocabulary(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(lathe::text::load_bpe_vocab(vocab_path()));
}
BENCHMARK(BM_LoadVocabulary)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
