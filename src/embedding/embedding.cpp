// Embedding checks and the family its shapes fit (see embedding.h).
#include "embedding/embedding.h"

#include <fmt/format.h>

#include <torch/torch.h>

#include "common/error.h"
#include "text/embedding_name.h"

namespace lathe {

std::int64_t Embedding::num_vectors() const { return vectors.empty() ? 0 : vectors.front().size(0); }

std::optional<ModelFamily> family_of_shapes(const Embedding& e) {
  std::vector<std::int64_t> widths;
  for (const auto& v : e.vectors) {
    if (!v.defined() || v.dim() != 2) return std::nullopt;
    widths.push_back(v.size(1));
  }
  if (widths == std::vector<std::int64_t>{768}) return ModelFamily::SD1;
  if (widths == std::vector<std::int64_t>{1024}) return ModelFamily::SD2;
  if (widths == std::vector<std::int64_t>{768, 1280}) return ModelFamily::SDXL;
  return std::nullopt;
}

void check_embedding_name(const std::string& name, const std::string& source) {
  const std::string problem = text::embedding_name_problem(name);
  if (!problem.empty())
    throw Error(fmt::format("{}: embedding name \"{}\" {}: {}", source, name, problem, text::embedding_name_rule()));
}

void check_embedding_vectors(const Embedding& e, const std::string& source) {
  if (e.vectors.empty()) throw Error(fmt::format("{}: embedding \"{}\" has no vectors", source, e.name));
  const std::int64_t rows = e.num_vectors();
  for (std::size_t i = 0; i < e.vectors.size(); ++i) {
    const auto& v = e.vectors[i];
    const std::string which = e.vectors.size() > 1 ? fmt::format(" (set {} of {})", i + 1, e.vectors.size()) : "";
    if (!v.defined() || v.dim() != 2 || !v.is_floating_point())
      throw Error(fmt::format("{}: embedding \"{}\"{}: vectors must be a 2-D floating tensor [vectors, width]",
                              source, e.name, which));
    if (v.size(0) < 1 || v.size(0) > kMaxEmbeddingVectors)
      throw Error(fmt::format("{}: embedding \"{}\"{} has {} vectors; 1 to {} fit in a caption", source, e.name,
                              which, v.size(0), kMaxEmbeddingVectors));
    if (v.size(0) != rows)
      throw Error(fmt::format("{}: embedding \"{}\": its vector sets disagree ({} and {} vectors)", source, e.name,
                              rows, v.size(0)));
    if (v.size(1) < 1) throw Error(fmt::format("{}: embedding \"{}\"{} has width 0", source, e.name, which));
    if (!torch::isfinite(v).all().item<bool>())
      throw Error(fmt::format("{}: embedding \"{}\"{} holds NaN or infinite values; it cannot be used (retrain "
                              "it, e.g. with a lower learning rate)",
                              source, e.name, which));
  }
}

}  // namespace lathe
