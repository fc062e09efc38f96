#include "sample/sample_embeddings.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>

#include <torch/torch.h>

#include "common/error.h"
#include "embedding/embedding_file.h"
#include "embedding/embedding_install.h"
#include "sample/sample_job.h"
#include "train/model/base_model.h"

namespace lathe {

namespace {

struct SourcedEmbedding {
  Embedding embedding;
  std::string source;  // "--embedding FILE" or "--lora FILE"
};

std::vector<SourcedEmbedding> embeddings_to_install(const std::vector<std::filesystem::path>& files,
                                                    const std::vector<LoRAChoice>& loras) {
  std::vector<SourcedEmbedding> out;
  for (const auto& file : files) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec))
      throw Error(fmt::format("--embedding {}: no such file", file.string()));
    out.push_back({read_embedding_file(file), "--embedding " + file.string()});
  }
  for (const auto& lora : loras)
    for (auto& e : read_bundled_embeddings(lora.path)) out.push_back({std::move(e), "--lora " + lora.path.string()});
  return out;
}

// Words match case-insensitively in captions (embedding_words.h), so duplicates do too.
std::string word_key(std::string word) {
  std::transform(word.begin(), word.end(), word.begin(), [](unsigned char c) { return std::tolower(c); });
  return word;
}

}  // namespace

std::vector<std::string> install_sample_embeddings(BaseModel& model,
                                                   const std::vector<std::filesystem::path>& files,
                                                   const std::vector<LoRAChoice>& loras,
                                                   const std::function<void(const std::string&)>& note) {
  std::vector<std::string> words;
  std::map<std::string, std::string> source_of;  // word -> where it was installed from
  for (const auto& [embedding, source] : embeddings_to_install(files, loras)) {
    if (auto it = source_of.find(word_key(embedding.name)); it != source_of.end()) {
      note(fmt::format("embedding {} from {} skipped: the word is taken by {}", embedding.name, source, it->second));
      continue;
    }
    try {
      install_embedding(model, embedding, /*trainable=*/false);
    } catch (const Error& e) {
      throw Error(fmt::format("{}: {}", source, e.what()));
    }
    source_of[word_key(embedding.name)] = source;
    words.push_back(embedding.name);
    note(fmt::format("embedding {} ({} vectors) from {}", embedding.name, embedding.num_vectors(), source));
  }
  return words;
}

void use_bundled_embeddings(BaseModel& model, const std::filesystem::path& lora,
                            const std::function<void(const std::string&)>& note) {
  for (const Embedding& e : read_bundled_embeddings(lora)) {
    const InstalledEmbedding* same = nullptr;
    for (const auto& installed : installed_embeddings(model))
      if (word_key(installed.name) == word_key(e.name)) same = &installed;
    if (!same) {
      try {
        install_embedding(model, e, /*trainable=*/false);
      } catch (const Error& error) {
        throw Error(fmt::format("--grid {}: {}", lora.string(), error.what()));
      }
      note(fmt::format("embedding {} ({} vectors) from {}", e.name, e.num_vectors(), lora.string()));
      continue;
    }
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < same->vectors.size(); ++i) {
      if (i >= e.vectors.size() || !e.vectors[i].sizes().equals(same->vectors[i].sizes()))
        throw Error(fmt::format("--grid {}: embedding {} has other shapes than in the rows before it", lora.string(), e.name));
      same->vectors[i].copy_(e.vectors[i]);
    }
  }
}

}  // namespace lathe
