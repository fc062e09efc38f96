// `lathe tokenize`: the CLIP tokens of a caption, to see what the text encoder sees (pieces,
// ids, where the 75-token cut falls), or, with --ids, token ids of many captions for scripts.
#include <fmt/format.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "cli/command.h"
#include "common/error.h"
#include "common/terminal_text.h"
#include "dataset/caption.h"
#include "embedding/embedding_file.h"
#include "embedding/embedding_words.h"
#include "text/byte_unicode.h"
#include "text/clip_tokenizer.h"
#include "text/vocab_locator.h"

namespace lathe::cli {
namespace {

// Bytes of a piece as readable text: valid UTF-8 as is, stray bytes of a split character as \xNN.
std::string readable_bytes(const std::string& bytes) {
  if (is_valid_utf8(bytes)) return bytes;
  std::string out;
  for (unsigned char c : bytes) {
    if (c < 0x80) out.push_back(static_cast<char>(c));
    else out += fmt::format("\\x{:02X}", c);
  }
  return out;
}

// Embeddings given with --embedding: their names and the ids their vectors get, past the
// vocabulary in the order given (as the trainer installs them).
struct EmbeddingWord {
  std::string name;
  int first_id = 0;
  int vectors = 0;
};

std::vector<EmbeddingWord> load_embedding_words(const Args& args, const text::ClipTokenizer& tok) {
  std::vector<EmbeddingWord> words;
  int next = tok.vocab_size();
  for (const auto& file : args.values("embedding")) {
    const Embedding e = read_embedding_file(file);
    check_embedding_name(e.name, file);
    for (const auto& w : words)
      if (w.name == e.name) throw Error(fmt::format("{}: a second embedding named \"{}\"", file, e.name));
    words.push_back({e.name, next, static_cast<int>(e.num_vectors())});
    next += static_cast<int>(e.num_vectors());
  }
  return words;
}

// The caption's tokens, each embedding name replaced by its vectors' ids ("<name#k>" pieces).
std::vector<text::ClipToken> tokenize_with(text::ClipTokenizer& tok, const std::string& caption,
                                           const std::vector<EmbeddingWord>& words) {
  if (words.empty()) return tok.tokenize(caption);
  std::vector<std::string> names;
  for (const auto& w : words) names.push_back(w.name);
  std::vector<text::ClipToken> out;
  for (const CaptionPiece& piece : split_at_embedding_words(caption, names)) {
    if (piece.word < 0) {
      for (auto& t : tok.tokenize(std::string(piece.text))) out.push_back(std::move(t));
      continue;
    }
    const auto& w = words[piece.word];
    for (int k = 0; k < w.vectors; ++k) out.push_back({w.first_id + k, fmt::format("<{}#{}>", w.name, k + 1)});
  }
  return out;
}

int print_ids_per_line(text::ClipTokenizer& tok, const std::vector<EmbeddingWord>& words) {
  std::string line;
  std::string out;
  while (std::getline(std::cin, line)) {
    out.clear();
    for (const auto& t : tokenize_with(tok, line, words)) {
      if (!out.empty()) out += ' ';
      out += std::to_string(t.id);
    }
    out += '\n';
    std::cout << out;
  }
  return kExitOk;
}

int print_table(text::ClipTokenizer& tok, const std::string& caption, const std::vector<EmbeddingWord>& words) {
  for (const auto& w : words)
    std::cout << fmt::format("embedding {}: {} vector{}, ids {}{}\n", terminal_safe(w.name), w.vectors,
                             w.vectors == 1 ? "" : "s", w.first_id,
                             w.vectors == 1 ? std::string() : fmt::format("-{}", w.first_id + w.vectors - 1));
  auto tokens = tokenize_with(tok, caption, words);
  const std::size_t fit = text::kClipContextLength - 2;
  std::cout << fmt::format("{:>4}  {:>6}  {:<20}  {}\n", "#", "id", "piece", "text");
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (i == fit) std::cout << "  ---- cut here: tokens below fall outside the 77-token row ----\n";
    const auto& t = tokens[i];
    std::string txt = readable_bytes(text::symbols_to_bytes(t.piece));
    while (!txt.empty() && txt.back() == ' ') txt.pop_back();  // the word end is in `piece`
    std::cout << fmt::format("{:>4}  {:>6}  {:<20}  {}\n", i + 1, t.id, t.piece, txt);
  }
  std::cout << fmt::format("{} token{}", tokens.size(), tokens.size() == 1 ? "" : "s");
  if (tokens.size() > fit)
    std::cout << fmt::format(" ({} past the {} that fit in one 77-token row)", tokens.size() - fit,
                             fit);
  std::cout << "\nids: " << tok.start_id();
  for (const auto& t : tokens) std::cout << ' ' << t.id;
  std::cout << ' ' << tok.end_id() << '\n';
  return kExitOk;
}

int run_tokenize(const Args& args) {
  bool ids_mode = args.has("ids");
  if (ids_mode && !args.positionals().empty())
    throw UsageError("lathe tokenize: --ids reads captions from standard input, one per line; "
                     "give no caption argument");
  if (!ids_mode && args.positionals().empty())
    throw UsageError("lathe tokenize: give a caption in quotes, or --ids to read captions from "
                     "standard input");
  auto fixing = args.has("nfc-only") ? text::TextFixing::kNfcOnly : text::TextFixing::kFtfy;
  auto vocab = text::locate_clip_vocab(args.value("vocab"));
  if (!vocab) throw Error(text::clip_vocab_missing_message());
  text::ClipTokenizer tok(text::load_bpe_vocab(*vocab), fixing);
  const std::vector<EmbeddingWord> words = load_embedding_words(args, tok);
  if (ids_mode) return print_ids_per_line(tok, words);
  return print_table(tok, args.positional(0), words);
}

CommandSpec tokenize_spec() {
  CommandSpec s;
  s.name = "tokenize";
  s.summary = "CLIP tokens of a caption (SD 1.x / 2.x / SDXL tokenizer)";
  s.usage = "[--vocab PATH] [--embedding FILE]... \"caption\" | --ids < captions.txt";
  s.details =
      "Prints each BPE piece of the caption with its id, marks where the 75-token limit cuts,\n"
      "and the full 77-token row's ids (start 49406, end 49407, before padding).\n"
      "With --ids, reads one caption per line from standard input and prints, for each, its\n"
      "token ids without the start/end tokens, space-separated, one line per caption.\n"
      "The vocabulary is --vocab, else $LATHE_CLIP_VOCAB (a diffusers model folder, its\n"
      "tokenizer/ folder with vocab.json + merges.txt, or OpenAI's bpe_simple_vocab_16e6.txt.gz),\n"
      "else the copy of OpenAI's installed with Lathe (`lathe doctor` shows which).\n"
      "With --embedding FILE (repeatable), the embedding's name (the file name) becomes its\n"
      "vectors' new ids past the vocabulary (49408, ...), wherever it stands as a word, as in\n"
      "training; the table shows them as <name#1>, <name#2>, ...";
  s.options = {
      {"vocab", "PATH", "CLIP vocabulary: tokenizer/ folder, model folder or .txt.gz file"},
      {"ids", "", "read captions from stdin, print ids only (one line per caption)"},
      {"embedding", "FILE", "embedding file whose name gets its new token ids (repeatable)", true},
      {"nfc-only", "", "replace the ftfy text fixes with Unicode NFC only"},
  };
  s.max_positionals = 1;
  s.run = run_tokenize;
  return s;
}

}  // namespace

LATHE_REGISTER_COMMAND(tokenize_spec)

}  // namespace lathe::cli
