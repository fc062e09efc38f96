// Opening Stage C priors in Stability's and diffusers' layouts under canonical names (see
// stage_c_weights.h).
#include "models/stage_c_weights.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "common/error.h"
#include "io/atomic_file.h"

namespace lathe {

namespace fs = std::filesystem;

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// Replaces the first `from` (a dotted path segment sequence) in `key` by `to`.
bool replace_segment(std::string& key, const std::string& from, const std::string& to) {
  const auto pos = key.find(from);
  if (pos == std::string::npos) return false;
  key.replace(pos, from.size(), to);
  return true;
}

nlohmann::json read_json(const fs::path& p) {
  try {
    return nlohmann::json::parse(read_file(p, 64 << 20));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON ({})", p.string(), e.what()));
  }
}

bool is_stage_c_config(const fs::path& p) {
  if (!fs::is_regular_file(p)) return false;
  try {
    const auto j = nlohmann::json::parse(read_file(p, 1 << 20));
    return j.is_object() && j.value("_class_name", std::string()) == "StableCascadeUNet";
  } catch (const std::exception&) {
    return false;
  }
}

// The folder that holds the prior's weights: the folder itself, or its prior/ (or
// prior_lite/) subfolder in a pipeline folder.
std::optional<fs::path> prior_folder(const fs::path& dir) {
  auto has_weights = [](const fs::path& d) {
    if (!fs::is_directory(d)) return false;
    for (const auto& e : fs::directory_iterator(d)) {
      const std::string name = e.path().filename().string();
      if (starts_with(name, "diffusion_pytorch_model") &&
          (ends_with(name, ".safetensors") || ends_with(name, ".json")))
        return true;
    }
    return false;
  };
  if (has_weights(dir)) return dir;
  for (const char* sub : {"prior", "prior_lite"})
    if (has_weights(dir / sub)) return dir / sub;
  return std::nullopt;
}

// The weight files of a prior folder: one file, or the shards an index json names. Full
// precision first, then the bf16 and fp16 variants diffusers writes.
std::vector<fs::path> prior_weight_files(const fs::path& dir, std::map<std::string, fs::path>* weight_map) {
  for (const std::string variant : {"", ".bf16", ".fp16"}) {
    const fs::path single = dir / ("diffusion_pytorch_model" + variant + ".safetensors");
    if (fs::is_regular_file(single)) return {single};
    const std::string index_suffix = variant.empty() ? "" : variant;
    const fs::path index = dir / ("diffusion_pytorch_model.safetensors.index" + index_suffix + ".json");
    if (!fs::is_regular_file(index)) continue;
    const auto j = read_json(index);
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      throw Error(fmt::format("{}: no \"weight_map\" object (a diffusers shard index names each tensor's file)",
                              index.string()));
    std::set<std::string> shard_names;
    for (const auto& [key, file] : j["weight_map"].items()) {
      if (!file.is_string())
        throw Error(fmt::format("{}: weight_map entry {} is not a file name", index.string(), key));
      const std::string name = file.get<std::string>();
      if (name.find('/') != std::string::npos || name.find("..") != std::string::npos)
        throw Error(fmt::format("{}: weight_map names {} outside the folder", index.string(), name));
      (*weight_map)[key] = dir / name;
      shard_names.insert(name);
    }
    std::vector<fs::path> shards;
    for (const auto& name : shard_names) {
      if (!fs::is_regular_file(dir / name))
        throw Error(fmt::format("{}: shard {} named by {} is missing", dir.string(), name, index.filename().string()));
      shards.push_back(dir / name);
    }
    return shards;
  }
  for (const char* pickle : {"diffusion_pytorch_model.bin", "diffusion_pytorch_model.fp16.bin"})
    if (fs::exists(dir / pickle))
      throw Error(fmt::format("{}: pickled weights are not loaded; use the .safetensors files", (dir / pickle).string()));
  throw Error(fmt::format("{}: no diffusion_pytorch_model[.bf16|.fp16].safetensors and no "
                          "diffusion_pytorch_model.safetensors.index[.bf16|.fp16].json", dir.string()));
}

// Adds one stored tensor under its canonical name(s): in_proj splits into three.
void add_tensor(StageCWeights& w, const SafetensorsFile& file, const std::string& stored) {
  const TensorInfo& info = file.info(stored);
  std::string key = stage_c_key_from_diffusers(stored);
  auto put = [&](const std::string& canonical, int part, std::vector<std::int64_t> shape) {
    TensorRef ref;
    ref.file = &file;
    ref.source_key = stored;
    ref.view = file.view(stored);
    ref.shape = std::move(shape);
    ref.qkv_part = part;
    if (!w.tensors.emplace(canonical, ref).second)
      throw Error(fmt::format("{}: {} is stored twice (as {} and {})", file.path().string(), canonical,
                              w.tensors.at(canonical).source_key, stored));
  };
  for (const char* kind : {"weight", "bias"}) {
    const std::string fused = std::string(".attention.attn.in_proj_") + kind;
    if (!ends_with(key, fused)) continue;
    if (info.shape.empty() || info.shape[0] % 3 != 0)
      throw Error(fmt::format("{}: {} has {} rows, not q, k and v of equal size", file.path().string(), stored,
                              info.shape.empty() ? 0 : info.shape[0]));
    std::vector<std::int64_t> third = info.shape;
    third[0] /= 3;
    const std::string base = key.substr(0, key.size() - fused.size()) + ".attention.attn.";
    const char* names[] = {"to_q", "to_k", "to_v"};
    for (int p = 0; p < 3; ++p) put(base + names[p] + "." + kind, p, third);
    return;
  }
  put(key, -1, info.shape);
}

}  // namespace

const char* stage_c_layout_name(StageCLayout l) {
  return l == StageCLayout::Stability ? "Stability single file" : "diffusers prior";
}

std::string stage_c_key_from_diffusers(const std::string& key) {
  std::string out = key;
  if (replace_segment(out, ".attention.to_out.0.", ".attention.attn.out_proj.")) return out;
  for (const char* p : {"to_q", "to_k", "to_v"})
    if (replace_segment(out, std::string(".attention.") + p + ".", std::string(".attention.attn.") + p + "."))
      return out;
  return out;
}

std::uint64_t StageCWeights::parameters() const {
  std::uint64_t n = 0;
  for (const auto& [key, ref] : tensors) {
    std::uint64_t v = 1;
    for (auto d : ref.shape) v *= static_cast<std::uint64_t>(d);
    n += v;
  }
  return n;
}

std::map<std::string, std::size_t> StageCWeights::stored_dtypes() const {
  std::map<std::string, std::size_t> out;
  for (const auto& f : files)
    for (const auto& t : f->header().tensors) ++out[dtype_name(t.dtype)];
  return out;
}

std::uint64_t StageCWeights::stored_bytes() const {
  std::uint64_t n = 0;
  for (const auto& f : files)
    for (const auto& t : f->header().tensors) n += t.end - t.begin;
  return n;
}

std::optional<fs::path> find_stage_c_prior(const fs::path& path) {
  try {
    if (fs::is_directory(path)) {
      auto dir = prior_folder(path);
      if (!dir) return std::nullopt;
      if (is_stage_c_config(*dir / "config.json")) return dir;
      std::map<std::string, fs::path> weight_map;
      const auto files = prior_weight_files(*dir, &weight_map);
      if (!weight_map.empty()) {
        std::vector<std::string> keys;
        for (const auto& kv : weight_map) keys.push_back(stage_c_key_from_diffusers(kv.first));
        return looks_like_stage_c(keys) ? dir : std::nullopt;
      }
      SafetensorsFile f(files.front());
      return looks_like_stage_c(f.names()) ? dir : std::nullopt;
    }
    if (!fs::is_regular_file(path) || path.extension() != ".safetensors") return std::nullopt;
    SafetensorsFile f(path);
    return looks_like_stage_c(f.names()) ? std::optional<fs::path>(path) : std::nullopt;
  } catch (const Error&) {
    return std::nullopt;  // not readable as a Stage C prior: the SD checkpoint path reports it
  }
}

StageCWeights open_stage_c(const fs::path& path, const StageCOpenOptions& options) {
  StageCWeights w;
  w.path = path;
  if (!fs::exists(path)) throw Error(fmt::format("{}: no such file or folder", path.string()));
  std::map<std::string, fs::path> weight_map;
  std::vector<fs::path> files;
  if (fs::is_directory(path)) {
    auto dir = prior_folder(path);
    if (!dir)
      throw Error(fmt::format("{}: no Stage C prior weights here (expected diffusion_pytorch_model*.safetensors, "
                              "or a prior/ subfolder with them)", path.string()));
    files = prior_weight_files(*dir, &weight_map);
    if (fs::is_regular_file(*dir / "config.json")) w.config_json = *dir / "config.json";
  } else {
    files = {path};
    if (is_stage_c_config(path.parent_path() / "config.json")) w.config_json = path.parent_path() / "config.json";
  }
  bool diffusers_names = false;
  for (const auto& file : files) {
    w.files.push_back(std::make_unique<SafetensorsFile>(file));
    const SafetensorsFile& f = *w.files.back();
    for (const auto& key : f.names()) {
      if (!weight_map.empty()) {
        auto it = weight_map.find(key);
        if (it == weight_map.end() || it->second != file) continue;  // the index assigns it elsewhere
      }
      diffusers_names = diffusers_names || stage_c_key_from_diffusers(key) != key;
      add_tensor(w, f, key);
    }
  }
  for (const auto& [key, file] : weight_map)
    if (!w.files.empty() && std::none_of(w.files.begin(), w.files.end(), [&](const auto& f) {
          return f->path() == file && f->contains(key);
        }))
      throw Error(fmt::format("{}: the shard index names {} in {}, which does not hold it", path.string(), key,
                              file.filename().string()));
  w.layout = diffusers_names || fs::is_directory(path) ? StageCLayout::Diffusers : StageCLayout::Stability;

  std::vector<std::string> keys;
  for (const auto& kv : w.tensors) keys.push_back(kv.first);
  if (!looks_like_stage_c(keys))
    throw Error(fmt::format("{}: not a Stable Cascade Stage C prior (no clip_txt_mapper / clip_txt_pooled_mapper / "
                            "embedding.1 / kv_mapper tensors)", path.string()));

  StageCJsonFacts facts;
  if (w.config_json) facts = stage_c_facts_from_diffusers_config(read_json(*w.config_json), w.config_json->string());
  std::vector<std::int64_t> heads = options.heads;
  w.heads_source = "stated";
  if (heads.empty() && !facts.heads.empty()) {
    heads = facts.heads;
    w.heads_source = w.config_json->filename().string();
  } else if (heads.empty()) {
    w.heads_source = "width / 64";
  }
  std::map<std::string, std::vector<std::int64_t>> shapes;
  for (const auto& [key, ref] : w.tensors) shapes[key] = ref.shape;
  w.config = stage_c_config_from_shapes(shapes, path.string(), heads);
  if (facts.dropout.size() == w.config.widths.size()) w.config.dropout = facts.dropout;
  w.config.validate(path.string());
  return w;
}

void check_stage_c_keys(const StageCWeights& weights, const std::vector<std::string>& expected) {
  std::vector<std::string> missing, unexpected;
  const std::set<std::string> want(expected.begin(), expected.end());
  for (const auto& k : expected)
    if (!weights.tensors.count(k)) missing.push_back(k);
  for (const auto& [k, ref] : weights.tensors)
    if (!want.count(k)) unexpected.push_back(k == ref.source_key ? k : k + " (stored as " + ref.source_key + ")");
  if (missing.empty() && unexpected.empty()) return;
  std::string what;
  if (!missing.empty()) what += fmt::format("{} missing: {}", missing.size(), list_some(missing));
  if (!unexpected.empty())
    what += fmt::format("{}{} unexpected: {}", what.empty() ? "" : "; ", unexpected.size(), list_some(unexpected));
  throw Error(fmt::format("{}: the Stage C weights do not match the {} prior built from them: {}",
                          weights.path.string(), stage_c_variant_name(weights.config), what));
}

}  // namespace lathe
