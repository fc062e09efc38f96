// CLIP text encoder (see clip_text.h). Forward as in the reference: token + position embeddings,
// pre-LN causal self-attention and MLP per layer, final LayerNorm; pooled output at the first
// end-of-text token (= argmax of the ids for OpenAI's tokenizer, whose EOS id is the largest).
#include "models/clip_text.h"

#include "common/error.h"
#include "models/attention.h"
#include "models/module_adapter.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace lathe {

namespace nn = torch::nn;

CLIPTextConfig CLIPTextConfig::vit_l14() { return CLIPTextConfig{}; }

CLIPTextConfig CLIPTextConfig::vit_h14() {
  CLIPTextConfig c;
  c.hidden_size = 1024;
  c.intermediate_size = 4096;
  c.layers = 24;
  c.heads = 16;
  c.quick_gelu = false;
  return c;
}

CLIPTextConfig CLIPTextConfig::vit_bigg14() {
  CLIPTextConfig c;
  c.hidden_size = 1280;
  c.intermediate_size = 5120;
  c.layers = 32;
  c.heads = 20;
  c.quick_gelu = false;
  c.projection_dim = 1280;
  return c;
}

CLIPTextConfig clip_text_config_from_hf(const nlohmann::json& j, const std::string& source) {
  try {
    CLIPTextConfig c;
    c.vocab_size = j.value("vocab_size", c.vocab_size);
    c.max_positions = j.value("max_position_embeddings", c.max_positions);
    c.hidden_size = j.at("hidden_size").get<std::int64_t>();
    c.intermediate_size = j.at("intermediate_size").get<std::int64_t>();
    c.layers = j.at("num_hidden_layers").get<std::int64_t>();
    c.heads = j.at("num_attention_heads").get<std::int64_t>();
    c.layer_norm_eps = j.value("layer_norm_eps", 1e-5);
    c.eos_token_id = j.value("eos_token_id", c.eos_token_id);
    const auto act = j.value("hidden_act", std::string("quick_gelu"));
    if (act != "quick_gelu" && act != "gelu")
      throw Error(fmt::format("{}: hidden_act \"{}\" is not supported (quick_gelu or gelu)", source, act));
    c.quick_gelu = act == "quick_gelu";
    std::string arch = j.value("architecture", std::string());
    if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty())
      arch = j["architectures"][0].get<std::string>();
    if (arch == "CLIPTextModelWithProjection") c.projection_dim = j.value("projection_dim", c.hidden_size);
    if (c.hidden_size % c.heads != 0)
      throw Error(fmt::format("{}: {} heads do not divide hidden_size {}", source, c.heads, c.hidden_size));
    return c;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: malformed CLIP text config: {}", source, e.what()));
  }
}

CLIPTextConfig detect_clip_text_config(const std::map<std::string, std::vector<std::int64_t>>& shapes,
                                       bool quick_gelu, const std::string& source) {
  auto shape = [&](const std::string& key, std::size_t dims) -> const std::vector<std::int64_t>& {
    auto it = shapes.find(key);
    if (it == shapes.end())
      throw Error(fmt::format("{}: text encoder tensor `{}` not found; is this a CLIP text encoder?", source, key));
    if (it->second.size() != dims)
      throw Error(fmt::format("{}: text encoder tensor `{}` should have {} dimensions, has {}", source, key, dims,
                              it->second.size()));
    return it->second;
  };
  CLIPTextConfig c;
  const auto& token = shape("text_model.embeddings.token_embedding.weight", 2);
  c.vocab_size = token[0];
  c.hidden_size = token[1];
  c.max_positions = shape("text_model.embeddings.position_embedding.weight", 2)[0];
  // The highest layer index, so a gap shows as missing tensors when the weights load.
  const std::string layer_prefix = "text_model.encoder.layers.";
  c.layers = 0;
  for (const auto& [key, dims] : shapes) {
    if (key.compare(0, layer_prefix.size(), layer_prefix) != 0) continue;
    const auto dot = key.find('.', layer_prefix.size());
    const std::string index = key.substr(layer_prefix.size(), dot - layer_prefix.size());
    if (index.empty() || index.size() > 4 || index.find_first_not_of("0123456789") != std::string::npos) continue;
    c.layers = std::max<std::int64_t>(c.layers, std::stoll(index) + 1);
  }
  if (c.layers == 0)
    throw Error(fmt::format("{}: the text encoder has no layers (text_model.encoder.layers.N)", source));
  c.intermediate_size = shape("text_model.encoder.layers.0.mlp.fc1.weight", 2)[0];
  c.heads = c.hidden_size % 64 == 0 ? c.hidden_size / 64 : 1;
  c.quick_gelu = quick_gelu;
  if (auto it = shapes.find("text_projection.weight"); it != shapes.end()) {
    c.projection_dim = shape("text_projection.weight", 2)[0];
  }
  c.eos_token_id = c.vocab_size - 1;  // 49407 in OpenAI's vocabulary; the tiny models' end id too
  return c;
}

CLIPAttentionImpl::CLIPAttentionImpl(std::int64_t dim, std::int64_t heads_) : heads(heads_) {
  q_proj = register_module("q_proj", nn::Linear(dim, dim));
  k_proj = register_module("k_proj", nn::Linear(dim, dim));
  v_proj = register_module("v_proj", nn::Linear(dim, dim));
  out_proj = register_module("out_proj", nn::Linear(dim, dim));
}

torch::Tensor CLIPAttentionImpl::forward(const torch::Tensor& x) {
  // adapted_forward: LoRA adapters attach to these Linears (module_adapter.h).
  auto a = multi_head_attention(adapted_forward(q_proj, x), adapted_forward(k_proj, x),
                                adapted_forward(v_proj, x), heads, /*causal=*/true);
  return adapted_forward(out_proj, a);
}

CLIPEncoderLayerImpl::CLIPEncoderLayerImpl(const CLIPTextConfig& c) : quick_gelu(c.quick_gelu) {
  auto ln = [&] { return nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)); };
  self_attn = register_module("self_attn", CLIPAttention(c.hidden_size, c.heads));
  layer_norm1 = register_module("layer_norm1", ln());
  auto mlp = std::make_shared<nn::Module>();
  fc1 = mlp->register_module("fc1", nn::Linear(c.hidden_size, c.intermediate_size));
  fc2 = mlp->register_module("fc2", nn::Linear(c.intermediate_size, c.hidden_size));
  register_module("mlp", mlp);
  layer_norm2 = register_module("layer_norm2", ln());
}

torch::Tensor CLIPEncoderLayerImpl::forward(const torch::Tensor& x_in) {
  auto x = x_in + self_attn->forward(layer_norm1->forward(x_in));
  auto h = adapted_forward(fc1, layer_norm2->forward(x));  // [B, T, 4C]
  h = quick_gelu ? h * torch::sigmoid(1.702 * h) : torch::gelu(h);
  return x + adapted_forward(fc2, h);
}

CLIPTextTransformerImpl::CLIPTextTransformerImpl(const CLIPTextConfig& c) {
  auto embeddings = std::make_shared<nn::Module>();
  token_embedding = embeddings->register_module("token_embedding", nn::Embedding(c.vocab_size, c.hidden_size));
  position_embedding = embeddings->register_module("position_embedding", nn::Embedding(c.max_positions, c.hidden_size));
  register_module("embeddings", embeddings);
  auto encoder = std::make_shared<nn::Module>();
  layers = encoder->register_module("layers", nn::ModuleList());
  for (std::int64_t i = 0; i < c.layers; ++i) layers->push_back(CLIPEncoderLayer(c));
  register_module("encoder", encoder);
  final_layer_norm = register_module("final_layer_norm",
                                     nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
}

CLIPTextModelImpl::CLIPTextModelImpl(CLIPTextConfig config) : config_(std::move(config)) {
  text_model = register_module("text_model", CLIPTextTransformer(config_));
  if (config_.projection_dim > 0)
    text_projection = register_module("text_projection",
                                      nn::Linear(nn::LinearOptions(config_.hidden_size, config_.projection_dim).bias(false)));
}

CLIPTextOutput CLIPTextModelImpl::forward(const torch::Tensor& input_ids, std::int64_t stop_after_layer) {
  TORCH_CHECK(input_ids.dim() == 2, "input_ids must be [B, T]");
  const auto t = input_ids.size(1);
  if (t > config_.max_positions)
    throw Error(fmt::format("CLIP text encoder: {} tokens, at most {} positions", t, config_.max_positions));
  auto& tm = *text_model;
  auto positions = torch::arange(t, torch::TensorOptions().dtype(torch::kLong).device(input_ids.device()));
  auto x = embed_tokens(input_ids) + tm.position_embedding->forward(positions).unsqueeze(0);

  CLIPTextOutput out;
  out.hidden_states.push_back(x);  // [B, T, C]
  const auto n = stop_after_layer > 0 ? std::min<std::int64_t>(stop_after_layer, config_.layers) : config_.layers;
  for (std::int64_t i = 0; i < n; ++i) {
    x = tm.layers[i]->as<CLIPEncoderLayerImpl>()->forward(x);
    out.hidden_states.push_back(x);
  }
  out.last_hidden_state = tm.final_layer_norm->forward(x);
  // First EOS position per row; rows without one fall back to argmax of the ids, as the
  // reference's argmax does.
  auto is_eos = (input_ids == config_.eos_token_id).to(torch::kInt);
  auto eos_pos = torch::where(is_eos.any(1), is_eos.argmax(1), input_ids.argmax(1));
  auto rows = torch::arange(input_ids.size(0), positions.options());
  out.pooled = out.last_hidden_state.index({rows, eos_pos});  // [B, C]
  if (text_projection) out.text_embeds = text_projection->forward(out.pooled);
  return out;
}

torch::Tensor CLIPTextModelImpl::embed_tokens(const torch::Tensor& input_ids) {
  auto& table = text_model->token_embedding;
  if (extra_token_rows.empty()) return table->forward(input_ids);
  const auto& weight = table->weight;
  std::vector<torch::Tensor> rows;
  for (const auto& r : extra_token_rows) rows.push_back(r.to(weight.options()));
  auto extra = torch::cat(rows, 0);  // [N, C]
  const auto v = config_.vocab_size;
  // Both lookups stay in range (clamped), and `where` takes each position from its own table,
  // so gradients reach the extra rows only where their ids stand.
  auto base = table->forward(input_ids.clamp_max(v - 1));                            // [B, T, C]
  auto index = (input_ids - v).clamp(0, extra.size(0) - 1);
  auto added = extra.index_select(0, index.flatten()).view(base.sizes());           // [B, T, C]
  return torch::where((input_ids >= v).unsqueeze(-1), added, base);
}

torch::Tensor CLIPTextModelImpl::skip_hidden_state(const CLIPTextOutput& out, std::int64_t clip_skip,
                                                   bool final_norm) {
  const auto available = static_cast<std::int64_t>(out.hidden_states.size()) - 1;
  if (clip_skip < 1 || clip_skip > available)
    throw Error(fmt::format("clip skip {} is out of range: this text encoder ran {} layers (use 1..{})", clip_skip,
                            available, available));
  const auto& h = out.hidden_states[available + 1 - clip_skip];
  return final_norm ? text_model->final_layer_norm->forward(h) : h;
}

}  // namespace lathe
