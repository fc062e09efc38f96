// A run's [[embeddings]] (see the header).
#include "train/loop/embedding_training.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include "common/error.h"
#include "embedding/embedding_file.h"
#include "train/config/train_config.h"
#include "train/model/base_model.h"

namespace lathe {
namespace fs = std::filesystem;

namespace {

// The embedding entry i starts from: its file (renamed to the profile's word), or new vectors
// from its init word.
Embedding starting_embedding(BaseModel& model, const EmbeddingSpec& spec, std::size_t i) {
  const std::string key = fmt::format("embeddings[{}]", i + 1);
  if (!spec.file) return embedding_from_init_word(model, spec.name, spec.vector_count(), spec.init_word);
  Embedding e;
  try {
    e = read_embedding_file(*spec.file);
  } catch (const Error& err) {
    throw Error(fmt::format("{}.file: {}", key, err.what()));
  }
  if (spec.vectors && *spec.vectors != e.num_vectors())
    throw Error(fmt::format("{}.vectors: {} holds {} vectors, the profile says {}; remove vectors or fix it",
                            key, spec.file->string(), e.num_vectors(), *spec.vectors));
  e.name = spec.name;
  return e;
}

std::string vector_shape(const InstalledEmbedding& e) {
  std::vector<std::string> widths;
  for (const torch::Tensor& v : e.vectors) widths.push_back(std::to_string(v.size(1)));
  return fmt::format("{} vector{} x {}", e.vectors.front().size(0), e.vectors.front().size(0) == 1 ? "" : "s",
                     fmt::join(widths, " + "));
}

}  // namespace

std::vector<RunEmbedding> install_run_embeddings(BaseModel& model, const TrainConfig& config) {
  std::vector<RunEmbedding> out;
  for (std::size_t i = 0; i < config.embeddings.size(); ++i) {
    const EmbeddingSpec& spec = config.embeddings[i];
    Embedding start = starting_embedding(model, spec, i);
    try {
      out.push_back({install_embedding(model, start, spec.train), spec.train});
    } catch (const Error& err) {
      throw Error(fmt::format("embeddings[{}] \"{}\": {}", i + 1, spec.name, err.what()));
    }
  }
  return out;
}

ParamGroup embedding_param_group(const std::vector<RunEmbedding>& embeddings, double lr) {
  std::vector<torch::Tensor> params;
  for (const RunEmbedding& e : embeddings)
    if (e.train) params.insert(params.end(), e.installed.vectors.begin(), e.installed.vectors.end());
  return make_param_group("embeddings", std::move(params), lr);
}

bool embeddings_train_at(const TrainConfig& config, std::int64_t steps_done) {
  const std::int64_t stop = config.optimizer.embedding_stop_step;
  return config.trains_embeddings() && (stop == 0 || steps_done < stop);
}

void set_run_embeddings_trainable(const std::vector<RunEmbedding>& embeddings, bool trainable) {
  for (const RunEmbedding& e : embeddings)
    if (e.train) set_embedding_trainable(e.installed, trainable);
}

std::string describe_run_embeddings(const std::vector<RunEmbedding>& embeddings, const TrainConfig& config) {
  std::vector<std::string> trained, frozen;
  for (std::size_t i = 0; i < embeddings.size(); ++i) {
    const InstalledEmbedding& e = embeddings[i].installed;
    const EmbeddingSpec& spec = config.embeddings[i];
    const std::string from = spec.file ? fmt::format("from {}", spec.file->filename().string())
                                       : fmt::format("from \"{}\"", spec.init_word);
    (embeddings[i].train ? trained : frozen)
        .push_back(fmt::format("{} {} ({}, token ids {}..{})", e.name, vector_shape(e), from, e.token_ids.front(),
                               e.token_ids.back()));
  }
  std::string line;
  const double lr = config.optimizer.effective_embedding_lr();
  if (config.textual_inversion()) {
    line = fmt::format("textual inversion: training {} at lr {:g}; UNet, text encoder{} and VAE frozen, no LoRA",
                       fmt::join(trained, ", "), lr, embeddings.front().installed.vectors.size() > 1 ? "s" : "");
  } else if (!trained.empty()) {
    line = fmt::format("pivotal tuning: training {} at lr {:g}{} beside the LoRA", fmt::join(trained, ", "), lr,
                       config.optimizer.embedding_stop_step > 0
                           ? fmt::format(", frozen after step {}", config.optimizer.embedding_stop_step)
                           : std::string());
  }
  if (!frozen.empty())
    line += fmt::format("{}embeddings used frozen: {}", line.empty() ? "" : "; ", fmt::join(frozen, ", "));
  // The profile check refuses cache_text_encoder_outputs with trained vectors; say why it is off.
  if (!trained.empty()) line += "; text encoder outputs are encoded every step (the vectors change)";
  return line;
}

fs::path save_run_embedding(const RunEmbedding& e, const fs::path& run_dir, const fs::path& relative,
                            std::int64_t step, std::int64_t epoch, const std::string& base_model) {
  Embedding snapshot = embedding_snapshot(e.installed);
  snapshot.step = step;
  snapshot.epoch = epoch;
  snapshot.base_model = base_model;
  std::error_code ec;
  fs::create_directories((run_dir / relative).parent_path(), ec);
  write_embedding_file(run_dir / relative, snapshot);
  return relative;
}

std::vector<std::pair<std::string, torch::Tensor>> run_embedding_bundle(const std::vector<RunEmbedding>& embeddings,
                                                                        std::int64_t step, std::int64_t epoch,
                                                                        const std::string& base_model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const RunEmbedding& e : embeddings) {
    if (!e.train) continue;
    Embedding snapshot = embedding_snapshot(e.installed);
    snapshot.step = step;
    snapshot.epoch = epoch;
    snapshot.base_model = base_model;
    for (auto& entry : embedding_bundle_tensors(snapshot)) out.push_back(std::move(entry));
  }
  return out;
}

std::map<std::string, torch::Tensor> run_embedding_state(const std::vector<RunEmbedding>& embeddings) {
  std::map<std::string, torch::Tensor> out;
  for (const RunEmbedding& e : embeddings) {
    if (!e.train) continue;
    for (std::size_t k = 0; k < e.installed.vectors.size(); ++k)
      out[fmt::format("{}.{}", e.installed.name, k)] =
          e.installed.vectors[k].detach().to(torch::kCPU, torch::kFloat32).contiguous().clone();
  }
  return out;
}

void restore_run_embedding_state(const std::vector<RunEmbedding>& embeddings,
                                 const std::map<std::string, torch::Tensor>& state, const std::string& source) {
  torch::NoGradGuard no_grad;
  for (const RunEmbedding& e : embeddings) {
    if (!e.train) continue;
    for (std::size_t k = 0; k < e.installed.vectors.size(); ++k) {
      const std::string key = fmt::format("{}.{}", e.installed.name, k);
      auto it = state.find(key);
      if (it == state.end())
        throw Error(fmt::format("{}: no vectors for embedding {} (tensor {}); resume with the run's own profile",
                                source, e.installed.name, key));
      torch::Tensor target = e.installed.vectors[k];
      if (!it->second.sizes().equals(target.sizes()))
        throw Error(fmt::format("{}: tensor {} has shape {}, the embedding {}", source, key,
                                fmt::join(it->second.sizes(), "x"), fmt::join(target.sizes(), "x")));
      target.copy_(it->second.to(target.device(), target.scalar_type()));
    }
  }
}

}  // namespace lathe
