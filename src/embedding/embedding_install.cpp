// Installing embeddings in a BaseModel (see embedding_install.h): a tokenizer that puts each
// installed name's ids where the name stands, around the model's own tokenizer, and the
// vectors as extra token rows of every text encoder.
#include "embedding/embedding_install.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <torch/torch.h>

#include "common/error.h"
#include "embedding/embedding_words.h"
#include "train/model/base_model.h"

namespace lathe {
namespace {

// The model's tokenizer with the installed names: text between names is tokenized by the
// model's tokenizer (CLIP splits words at punctuation, so cutting there changes nothing), each
// name becomes its embedding's ids.
class EmbeddingCaptionTokenizer : public CaptionTokenizer {
 public:
  EmbeddingCaptionTokenizer(std::unique_ptr<CaptionTokenizer> inner, std::shared_ptr<const EmbeddingTable> table)
      : inner_(std::move(inner)), table_(std::move(table)) {}

  std::vector<long> encode_words(const std::string& text, int encoder) override {
    std::vector<std::string> names;
    for (const auto& e : table_->entries) names.push_back(e.name);
    std::vector<long> ids;
    for (const CaptionPiece& piece : split_at_embedding_words(text, names)) {
      if (piece.word >= 0) {
        const auto& own = table_->entries[piece.word].token_ids;
        ids.insert(ids.end(), own.begin(), own.end());
      } else if (!piece.text.empty()) {
        const auto words = inner_->encode_words(std::string(piece.text), encoder);
        ids.insert(ids.end(), words.begin(), words.end());
      }
    }
    return ids;
  }

  long start_id() const override { return inner_->start_id(); }
  long end_id() const override { return inner_->end_id(); }
  long pad_id(int encoder) const override { return inner_->pad_id(encoder); }

  std::string description() const override {
    std::vector<std::string> names;
    for (const auto& e : table_->entries) names.push_back(e.name);
    return fmt::format("{} + embeddings {}", inner_->description(), fmt::join(names, ", "));
  }

 private:
  std::unique_ptr<CaptionTokenizer> inner_;
  std::shared_ptr<const EmbeddingTable> table_;
};

std::string encoder_label(const BaseModel& model, std::size_t i) {
  if (model.text_encoders.size() == 1) return fmt::format("the {} text encoder", family_name(model.family));
  return fmt::format("the {} text encoder {} ({})", family_name(model.family), i + 1, i == 0 ? "clip_l" : "clip_g");
}

void check_fits(const BaseModel& model, const Embedding& e) {
  const std::string who = fmt::format("embedding \"{}\"", e.name);
  check_embedding_name(e.name, who);
  check_embedding_vectors(e, who);
  if (model.text_encoders.empty()) throw Error(who + ": the base model has no text encoder");
  if (e.vectors.size() != model.text_encoders.size())
    throw Error(fmt::format("{} has {} vector set{} ({}); {} has {} text encoder{}, so it needs {}", who,
                            e.vectors.size(), e.vectors.size() == 1 ? "" : "s",
                            e.vectors.size() == 1 ? "an SD 1.x / 2.x embedding" : "an SDXL embedding",
                            family_name(model.family), model.text_encoders.size(),
                            model.text_encoders.size() == 1 ? "" : "s", model.text_encoders.size()));
  for (std::size_t i = 0; i < e.vectors.size(); ++i) {
    const auto width = model.text_encoders[i]->config().hidden_size;
    if (e.vectors[i].size(1) != width)
      throw Error(fmt::format("{}: its vectors{} are {} wide, {} is {} wide; it was made for another model "
                              "family",
                              who, e.vectors.size() > 1 ? fmt::format(" for encoder {}", i + 1) : "",
                              e.vectors[i].size(1), encoder_label(model, i), width));
  }
  const auto vocab = model.text_encoders.front()->config().vocab_size;
  for (const auto& te : model.text_encoders)
    if (te->config().vocab_size != vocab)
      throw Error(fmt::format("{}: the text encoders' vocabularies differ in size ({} and {}); embeddings need "
                              "one shared vocabulary",
                              who, vocab, te->config().vocab_size));
  if (model.embeddings)
    for (const auto& installed : model.embeddings->entries)
      if (installed.name == e.name)
        throw Error(fmt::format("{} is installed twice; give each embedding a different name", who));
}

EmbeddingTable& table_of(BaseModel& model) {
  if (!model.embeddings) {
    auto table = std::make_shared<EmbeddingTable>();
    table->vocab_size = model.text_encoders.front()->config().vocab_size;
    model.tokenizer = std::make_unique<EmbeddingCaptionTokenizer>(std::move(model.tokenizer), table);
    model.embeddings = table;
  }
  return *model.embeddings;
}

}  // namespace

std::int64_t EmbeddingTable::next_id() const {
  std::int64_t id = vocab_size;
  for (const auto& e : entries) id += static_cast<std::int64_t>(e.token_ids.size());
  return id;
}

InstalledEmbedding install_embedding(BaseModel& model, const Embedding& e, bool trainable) {
  check_fits(model, e);
  EmbeddingTable& table = table_of(model);
  InstalledEmbedding inst;
  inst.name = e.name;
  const std::int64_t first = table.next_id();
  for (std::int64_t k = 0; k < e.num_vectors(); ++k) inst.token_ids.push_back(static_cast<long>(first + k));
  for (std::size_t i = 0; i < e.vectors.size(); ++i) {
    auto& te = model.text_encoders[i];
    const auto device = te->text_model->token_embedding->weight.device();
    auto rows = e.vectors[i].detach().to(device, torch::kFloat32).clone();
    rows.set_requires_grad(trainable);
    te->extra_token_rows.push_back(rows);
    inst.vectors.push_back(rows);
  }
  inst.metadata = e;
  inst.metadata.vectors.clear();
  table.entries.push_back(inst);
  return inst;
}

const std::vector<InstalledEmbedding>& installed_embeddings(const BaseModel& model) {
  static const std::vector<InstalledEmbedding> kNone;
  return model.embeddings ? model.embeddings->entries : kNone;
}

const InstalledEmbedding& installed_embedding(const BaseModel& model, const std::string& name) {
  std::vector<std::string> names;
  for (const auto& e : installed_embeddings(model)) {
    if (e.name == name) return e;
    names.push_back(e.name);
  }
  throw Error(fmt::format("embedding \"{}\" is not installed in the base model (installed: {})", name,
                          names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "))));
}

void set_embedding_trainable(const InstalledEmbedding& e, bool trainable) {
  for (auto v : e.vectors) v.set_requires_grad(trainable);
}

Embedding embedding_snapshot(const InstalledEmbedding& e) {
  Embedding out = e.metadata;
  out.name = e.name;
  out.vectors.clear();
  for (const auto& v : e.vectors) out.vectors.push_back(v.detach().to(torch::kCPU, torch::kFloat32).clone());
  return out;
}

Embedding embedding_from_init_word(BaseModel& model, const std::string& name, std::int64_t vectors,
                                   const std::string& init_word) {
  if (vectors < 1 || vectors > kMaxEmbeddingVectors)
    throw Error(fmt::format("embedding \"{}\": vectors = {}; use 1 to {}", name, vectors, kMaxEmbeddingVectors));
  Embedding e;
  e.name = name;
  e.family = model.family;
  e.base_model = model.name;
  e.init_word = init_word;
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < model.text_encoders.size(); ++i) {
    const std::vector<long> ids = model.tokenizer->encode_words(init_word, static_cast<int>(i));
    if (ids.empty())
      throw Error(fmt::format("embedding \"{}\": init word \"{}\" has no tokens; give a word such as the "
                              "concept's class word, or \"*\"",
                              name, init_word));
    auto& te = model.text_encoders[i];
    std::vector<std::int64_t> cycled;
    for (std::int64_t k = 0; k < vectors; ++k) cycled.push_back(ids[static_cast<std::size_t>(k) % ids.size()]);
    const auto device = te->text_model->token_embedding->weight.device();
    auto id_tensor = torch::tensor(cycled, torch::kLong).to(device).unsqueeze(0);   // [1, n]
    e.vectors.push_back(te->embed_tokens(id_tensor).squeeze(0).to(torch::kCPU, torch::kFloat32).clone());
  }
  return e;
}

}  // namespace lathe
