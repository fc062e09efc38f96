// Reading and writing embedding files (layouts in embedding_file.h and README).
#include "embedding/embedding_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>

#include <torch/torch.h>

#include "common/error.h"
#include "io/pickle_file.h"
#include "io/safetensors.h"
#include "models/tensor_io.h"

namespace lathe {
namespace fs = std::filesystem;
namespace {

constexpr const char* kBundlePrefix = "bundle_emb.";
constexpr const char* kStringToParam = "string_to_param.";

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// The checkpoint refusal's reason, with a conversion that fits A1111's embedding .pt files
// ({"string_to_param": {"*": tensor}, ...}) and one-tensor diffusers .bin files.
[[noreturn]] void refuse_pickle(const fs::path& path) {
  throw Error(fmt::format(
      "{} is a PyTorch pickle checkpoint. Lathe reads only .safetensors, because loading a pickle "
      "can run arbitrary code. Convert the embedding once on a machine with PyTorch, e.g.\n"
      "  python -c \"import torch, safetensors.torch as st; d = torch.load('{}', map_location='cpu', "
      "weights_only=True); p = d.get('string_to_param', d); st.save_file({{'emb_params': "
      "next(iter(p.values())).detach().float().reshape(-1, next(iter(p.values())).shape[-1]).contiguous()}}, "
      "'{}.safetensors')\"\n"
      "then give Lathe the .safetensors file.",
      path.string(), path.filename().string(), path.stem().string()));
}

// A pickle by its extension or by its first bytes (io/pickle_file.h).
void refuse_pickles(const fs::path& path) {
  if (has_pickle_extension(path) || is_disguised_pickle(path)) refuse_pickle(path);
}

torch::Tensor read_vectors(const SafetensorsFile& file, const std::string& key) {
  const TensorInfo& info = file.info(key);
  const DType t = info.dtype;
  if (t != DType::F32 && t != DType::F16 && t != DType::BF16 && t != DType::F64)
    throw Error(fmt::format("{}: tensor `{}` is {}; embedding vectors are floating point (F32, F16, BF16)",
                            file.path().string(), key, dtype_name(t)));
  if (info.shape.size() != 1 && info.shape.size() != 2)
    throw Error(fmt::format("{}: tensor `{}` has {} dimensions; embedding vectors are [vectors, width] (or [width])",
                            file.path().string(), key, info.shape.size()));
  torch::Tensor v = tensor_from_view(file.view(key), torch::kFloat32);
  return v.dim() == 1 ? v.unsqueeze(0) : v;  // diffusers' learned_embeds: one [width] vector
}

std::int64_t parse_count(const std::map<std::string, std::string>& header, const std::string& key) {
  auto it = header.find(key);
  if (it == header.end()) return -1;
  try {
    std::size_t used = 0;
    const long long v = std::stoll(it->second, &used);
    return used == it->second.size() && v >= 0 ? v : -1;
  } catch (const std::exception&) {
    return -1;
  }
}

void read_metadata(Embedding& e, const std::map<std::string, std::string>& header) {
  e.header = header;
  if (auto it = header.find("model_family"); it != header.end()) {
    ModelFamily f;
    if (parse_family(it->second, &f)) e.family = f;
  }
  if (auto it = header.find("base_model"); it != header.end()) e.base_model = it->second;
  if (auto it = header.find("init_word"); it != header.end()) e.init_word = it->second;
  e.step = parse_count(header, "step");
  e.epoch = parse_count(header, "epoch");
}

// name -> (part after "bundle_emb.<name>." -> key), for every bundled key.
std::map<std::string, std::map<std::string, std::string>> bundle_groups(const SafetensorsFile& file) {
  std::map<std::string, std::map<std::string, std::string>> groups;
  const std::string prefix = kBundlePrefix;
  for (const auto& key : file.names()) {
    if (!starts_with(key, prefix)) continue;
    const auto dot = key.find('.', prefix.size());
    if (dot == std::string::npos || dot == prefix.size())
      throw Error(fmt::format("{}: key `{}` is not bundle_emb.<name>.<part>", file.path().string(), key));
    groups[key.substr(prefix.size(), dot - prefix.size())][key.substr(dot + 1)] = key;
  }
  return groups;
}

Embedding bundled_embedding(const SafetensorsFile& file, const std::string& name,
                            const std::map<std::string, std::string>& parts) {
  Embedding e;
  e.name = name;
  if (parts.count(kClipLKey) && parts.count(kClipGKey)) {
    e.vectors = {read_vectors(file, parts.at(kClipLKey)), read_vectors(file, parts.at(kClipGKey))};
  } else {
    std::vector<std::string> params;
    for (const auto& [part, key] : parts)
      if (starts_with(part, kStringToParam)) params.push_back(key);
    if (params.size() != 1) {
      std::vector<std::string> keys;
      for (const auto& [part, key] : parts) keys.push_back(key);
      throw Error(fmt::format("{}: bundled embedding \"{}\" should have one `bundle_emb.{}.string_to_param.*` "
                              "tensor or a `.clip_l` + `.clip_g` pair; it has {}",
                              file.path().string(), name, name, list_some(keys)));
    }
    e.vectors = {read_vectors(file, params.front())};
  }
  read_metadata(e, file.metadata());
  check_embedding_vectors(e, file.path().string());
  return e;
}

std::vector<Embedding> bundled_embeddings(const SafetensorsFile& file) {
  std::vector<Embedding> out;
  for (const auto& [name, parts] : bundle_groups(file)) out.push_back(bundled_embedding(file, name, parts));
  return out;
}

// The one-set or SDXL layout of a plain embedding file.
std::vector<torch::Tensor> plain_vectors(const SafetensorsFile& file) {
  const auto names = file.names();
  if (file.contains(kClipLKey) && file.contains(kClipGKey))
    return {read_vectors(file, kClipLKey), read_vectors(file, kClipGKey)};
  if (names.size() == 1) return {read_vectors(file, names.front())};
  if (file.contains(kEmbParamsKey)) return {read_vectors(file, kEmbParamsKey)};
  if (names.empty()) throw Error(fmt::format("{}: the file holds no tensors; it is not an embedding", file.path().string()));
  throw Error(fmt::format(
      "{}: not an embedding file Lathe knows: it has {} tensors ({}); an embedding has one tensor "
      "(`emb_params` for SD 1.x / 2.x) or `clip_l` + `clip_g` (SDXL)",
      file.path().string(), names.size(), list_some(names)));
}

torch::Tensor file_tensor(const torch::Tensor& v) {
  return v.detach().to(torch::kCPU, torch::kFloat32).contiguous();
}

}  // namespace

Embedding read_embedding_file(const fs::path& path) {
  if (!fs::is_regular_file(path))
    throw Error(fmt::format("{}: no such embedding file", path.string()));
  refuse_pickles(path);
  SafetensorsFile file(path);
  if (!bundle_groups(file).empty()) {
    std::vector<Embedding> bundled = bundled_embeddings(file);
    if (bundled.size() == 1) return bundled.front();
    std::vector<std::string> names;
    for (const auto& b : bundled) names.push_back(b.name);
    throw Error(fmt::format("{}: this LoRA file bundles {} embeddings ({}); use a file with one embedding "
                            "(`lathe embedding inspect {}` shows each)",
                            path.string(), bundled.size(), list_some(names), path.string()));
  }
  Embedding e;
  e.name = path.stem().string();
  e.vectors = plain_vectors(file);
  read_metadata(e, file.metadata());
  check_embedding_vectors(e, path.string());
  return e;
}

std::vector<Embedding> read_bundled_embeddings(const fs::path& path) {
  refuse_pickles(path);
  SafetensorsFile file(path);
  return bundled_embeddings(file);
}

std::vector<std::pair<std::string, torch::Tensor>> embedding_file_tensors(const Embedding& e) {
  check_embedding_vectors(e, "embedding \"" + e.name + "\"");
  if (e.vectors.size() == 2) return {{kClipGKey, file_tensor(e.vectors[1])}, {kClipLKey, file_tensor(e.vectors[0])}};
  if (e.vectors.size() == 1) return {{kEmbParamsKey, file_tensor(e.vectors[0])}};
  throw Error(fmt::format("embedding \"{}\": {} vector sets; a file holds one (SD 1.x / 2.x) or two (SDXL)",
                          e.name, e.vectors.size()));
}

std::map<std::string, std::string> embedding_file_metadata(const Embedding& e) {
  std::map<std::string, std::string> m;
  m["name"] = e.name;
  m["vectors"] = std::to_string(e.num_vectors());
  if (auto f = e.family ? e.family : family_of_shapes(e)) m["model_family"] = family_id(*f);
  if (!e.base_model.empty()) m["base_model"] = e.base_model;
  if (!e.init_word.empty()) m["init_word"] = e.init_word;
  if (e.step >= 0) m["step"] = std::to_string(e.step);
  if (e.epoch >= 0) m["epoch"] = std::to_string(e.epoch);
  return m;
}

void write_embedding_file(const fs::path& path, const Embedding& e) {
  check_embedding_name(e.name, path.string());
  write_tensors(path, embedding_file_tensors(e), embedding_file_metadata(e));
}

std::vector<std::pair<std::string, torch::Tensor>> embedding_bundle_tensors(const Embedding& e) {
  check_embedding_name(e.name, "pivotal tuning");
  const std::string prefix = kBundlePrefix + e.name + ".";
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (auto& [key, tensor] : embedding_file_tensors(e)) {
    const std::string part = key == kEmbParamsKey ? std::string(kStringToParam) + "*" : key;
    out.emplace_back(prefix + part, tensor);
  }
  return out;
}

}  // namespace lathe
