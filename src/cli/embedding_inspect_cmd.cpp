// `lathe embedding inspect FILE [--model CHECKPOINT]`: what an embedding file is (name, vectors,
// width, the family it fits, how it was trained) and, given a base model, the vocabulary tokens
// nearest to each vector by cosine: what the embedding "looks like" to CLIP. Only the token
// embedding matrix of each text encoder is read from the checkpoint.
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include <torch/torch.h>

#include "cli/command.h"
#include "common/error.h"
#include "common/terminal_text.h"
#include "embedding/embedding_file.h"
#include "models/checkpoint.h"
#include "models/tensor_io.h"
#include "text/byte_unicode.h"
#include "text/clip_tokenizer.h"
#include "text/vocab_locator.h"

namespace lathe::cli {
namespace fs = std::filesystem;
namespace {

struct Neighbour {
  int id = 0;
  std::string text;  // decoded; a trailing '-' marks a piece that starts a longer word
  double cosine = 0;
};

// Per vector set, per vector: the nearest tokens.
using Neighbours = std::vector<std::vector<std::vector<Neighbour>>>;

std::string set_name(const Embedding& e, std::size_t i) {
  if (e.vectors.size() == 2) return i == 0 ? kClipLKey : kClipGKey;
  return kEmbParamsKey;
}

std::string fits_text(const Embedding& e) {
  if (auto f = family_of_shapes(e)) return family_name(*f);
  std::string widths;
  for (const auto& v : e.vectors) widths += (widths.empty() ? "" : " + ") + std::to_string(v.size(1));
  return fmt::format("no released family ({} wide; SD 1.x is 768, SD 2.x 1024, SDXL 768 + 1280)", widths);
}

std::string piece_text(const text::ClipTokenizer& tok, int id) {
  if (id >= tok.vocab_size()) return fmt::format("<id {}>", id);
  std::string t = text::symbols_to_bytes(tok.piece(id));
  if (!t.empty() && t.back() == ' ') t.pop_back();  // a word end
  else t += '-';
  return t;
}

torch::Tensor token_matrix(const Checkpoint& ck, Component c) {
  const auto tensors = component_tensors(ck, c);
  auto it = tensors.find("text_model.embeddings.token_embedding.weight");
  if (it == tensors.end())
    throw Error(fmt::format("{}: {} has no token embedding", ck.path.string(), component_name(c)));
  return load_tensor(it->second, torch::kFloat32);
}

Neighbours nearest_tokens(const Embedding& e, const fs::path& model, const std::optional<std::string>& vocab_flag,
                          int top) {
  Checkpoint ck = open_checkpoint(model);
  const std::size_t encoders = ck.family == ModelFamily::SDXL ? 2 : 1;
  if (e.vectors.size() != encoders)
    throw Error(fmt::format("{} is an embedding for {}; {} is {} ({} text encoder{})", e.name, fits_text(e),
                            model.string(), family_name(ck.family), encoders, encoders == 1 ? "" : "s"));
  std::optional<std::string> vocab_path = vocab_flag;
  if (!vocab_path && !ck.tokenizers.empty()) vocab_path = ck.tokenizers.front().string();
  auto vocab = text::locate_clip_vocab(vocab_path);
  if (!vocab) throw Error(text::clip_vocab_missing_message());
  text::ClipTokenizer tok(text::load_bpe_vocab(*vocab));
  Neighbours out;
  for (std::size_t i = 0; i < encoders; ++i) {
    torch::Tensor w = token_matrix(ck, i == 0 ? Component::TextEncoder : Component::TextEncoder2);  // [V, C]
    if (w.size(1) != e.vectors[i].size(1))
      throw Error(fmt::format("{}: its {} vectors are {} wide, the text encoder of {} is {} wide", e.name,
                              set_name(e, i), e.vectors[i].size(1), model.string(), w.size(1)));
    auto cos = torch::matmul(torch::nn::functional::normalize(e.vectors[i], torch::nn::functional::NormalizeFuncOptions().dim(1)),
                             torch::nn::functional::normalize(w, torch::nn::functional::NormalizeFuncOptions().dim(1)).t());
    auto [values, ids] = cos.topk(std::min<std::int64_t>(top, w.size(0)), 1);
    std::vector<std::vector<Neighbour>> per_vector;
    for (std::int64_t r = 0; r < values.size(0); ++r) {
      std::vector<Neighbour> row;
      for (std::int64_t k = 0; k < values.size(1); ++k) {
        const int id = static_cast<int>(ids[r][k].item<std::int64_t>());
        row.push_back({id, piece_text(tok, id), values[r][k].item<double>()});
      }
      per_vector.push_back(row);
    }
    out.push_back(per_vector);
  }
  return out;
}

std::string trained_text(const Embedding& e) {
  std::vector<std::string> parts;
  if (e.step >= 0) parts.push_back(fmt::format("{} steps", e.step));
  if (e.epoch >= 0) parts.push_back(fmt::format("epoch {}", e.epoch));
  if (!e.base_model.empty()) parts.push_back("base model " + e.base_model);
  if (!e.init_word.empty()) parts.push_back(fmt::format("init word \"{}\"", e.init_word));
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out.empty() ? "unknown (no Lathe metadata in the file)" : out;
}

void print_text(const Embedding& e, const std::optional<Neighbours>& near,
                const std::string& model) {
  std::cout << fmt::format("  name        {}\n", terminal_safe(e.name));
  if (auto it = e.header.find("name"); it != e.header.end() && it->second != e.name)
    std::cout << fmt::format("  saved as    {} (the header's name; prompts use the file name)\n", terminal_safe(it->second));
  std::cout << fmt::format("  vectors     {}\n", e.num_vectors());
  std::string width;
  for (std::size_t i = 0; i < e.vectors.size(); ++i)
    width += fmt::format("{}{} {}", i ? ", " : "", set_name(e, i), e.vectors[i].size(1));
  std::cout << fmt::format("  width       {}\n", width);
  std::cout << fmt::format("  fits        {}\n", fits_text(e));
  std::cout << fmt::format("  trained     {}\n", terminal_safe(trained_text(e)));
  for (std::size_t i = 0; i < e.vectors.size(); ++i) {
    const std::string label = e.vectors.size() > 1 ? " " + set_name(e, i) : "";
    std::cout << fmt::format("  vectors{}{}\n", label,
                             near ? fmt::format(": nearest tokens of {} (cosine)", terminal_safe(model)) : "");
    for (std::int64_t r = 0; r < e.num_vectors(); ++r) {
      std::string line = fmt::format("    {:>2}  norm {:.4f}", r + 1, e.vectors[i][r].norm().item<double>());
      if (near) {
        line += "  ";
        bool first = true;
        for (const auto& n : (*near)[i][r]) {
          line += fmt::format("{}{} {:.2f}", first ? "" : ", ", terminal_safe(n.text), n.cosine);
          first = false;
        }
      }
      std::cout << line << "\n";
    }
  }
}

nlohmann::ordered_json to_json(const Embedding& e, const std::optional<Neighbours>& near) {
  nlohmann::ordered_json j;
  j["name"] = e.name;
  j["vectors"] = e.num_vectors();
  j["sets"] = nlohmann::json::array();
  for (std::size_t i = 0; i < e.vectors.size(); ++i) {
    nlohmann::ordered_json s;
    s["key"] = set_name(e, i);
    s["width"] = e.vectors[i].size(1);
    s["norms"] = nlohmann::json::array();
    for (std::int64_t r = 0; r < e.num_vectors(); ++r) s["norms"].push_back(e.vectors[i][r].norm().item<double>());
    if (near) {
      s["nearest"] = nlohmann::json::array();
      for (const auto& row : (*near)[i]) {
        nlohmann::ordered_json tokens = nlohmann::ordered_json::array();
        for (const auto& n : row) tokens.push_back(nlohmann::ordered_json{{"id", n.id}, {"text", n.text}, {"cosine", n.cosine}});
        s["nearest"].push_back(tokens);
      }
    }
    j["sets"].push_back(s);
  }
  auto f = family_of_shapes(e);
  j["fits"] = f ? nlohmann::json(family_id(*f)) : nlohmann::json(nullptr);
  j["metadata"] = e.header;
  return j;
}

int run_embedding_inspect(const Args& args) {
  const fs::path path = args.positional(0);
  const int top = static_cast<int>(args.int_or("top", 5));
  if (top < 1 || top > 50) throw UsageError("lathe embedding inspect: --top must be 1 to 50");
  std::vector<Embedding> embeddings = read_bundled_embeddings(path);
  const bool bundled = !embeddings.empty();
  if (!bundled) embeddings.push_back(read_embedding_file(path));
  const auto model = args.value("model");
  std::vector<std::optional<Neighbours>> near;
  for (const auto& e : embeddings)
    near.push_back(model ? std::optional<Neighbours>(nearest_tokens(e, *model, args.value("vocab"), top)) : std::nullopt);
  if (args.has("json")) {
    nlohmann::ordered_json j;
    j["path"] = path.string();
    if (model) j["model"] = *model;
    j["embeddings"] = nlohmann::json::array();
    for (std::size_t i = 0; i < embeddings.size(); ++i) j["embeddings"].push_back(to_json(embeddings[i], near[i]));
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << terminal_safe(path.string())
            << (bundled ? fmt::format("  (a LoRA file bundling {} embedding{})", embeddings.size(),
                                      embeddings.size() == 1 ? "" : "s")
                        : std::string())
            << "\n";
  for (std::size_t i = 0; i < embeddings.size(); ++i)
    print_text(embeddings[i], near[i], model ? fs::path(*model).filename().string() : "");
  return kExitOk;
}

CommandSpec embedding_inspect_spec() {
  CommandSpec s;
  s.name = "embedding inspect";
  s.summary = "what an embedding (textual inversion) file is; its nearest vocabulary tokens";
  s.usage = "FILE [--model CHECKPOINT] [--top N] [--vocab PATH] [--json]";
  s.details =
      "FILE is an embedding .safetensors (A1111 / Forge / ComfyUI layouts: emb_params, clip_l +\n"
      "clip_g, or one tensor) or a LoRA file with bundled embeddings (bundle_emb.<name>.*).\n"
      "Prints the name (the word prompts use), vectors, width, the model family its shapes fit\n"
      "and what Lathe recorded when training it, and each vector's norm. With --model, prints\n"
      "for each vector the --top N (5) vocabulary tokens nearest by cosine, read from the\n"
      "checkpoint's token embedding alone (a trailing '-' marks a piece that starts a longer\n"
      "word). The vocabulary is --vocab, the model folder's tokenizer, $LATHE_CLIP_VOCAB or the\n"
      "copy installed with Lathe. Pickled .pt/.bin embeddings are refused with how to convert.";
  s.options = {
      {"model", "CHECKPOINT", "base model (.safetensors or diffusers folder) for the nearest tokens"},
      {"top", "N", "nearest tokens per vector (1-50, default 5)"},
      {"vocab", "PATH", "CLIP vocabulary for decoding tokens"},
      {"json", "", "print one JSON object instead of the report"},
  };
  s.min_positionals = 1;
  s.max_positionals = 1;
  s.run = run_embedding_inspect;
  return s;
}

}  // namespace

LATHE_REGISTER_COMMAND(embedding_inspect_spec)

}  // namespace lathe::cli
