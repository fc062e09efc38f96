// CLIP text encoders of the SD families: OpenAI CLIP ViT-L/14 (SD 1.x, SDXL encoder 1; QuickGELU)
// and OpenCLIP ViT-H (SD 2.x) / ViT-bigG (SDXL encoder 2; exact GELU, text projection), in one
// module with Hugging Face names (text_model.embeddings.token_embedding, text_model.encoder.
// layers.N.self_attn.q_proj, ..., text_projection), so a transformers text_encoder folder loads
// by name. Outputs every hidden state, so clip-skip and SDXL's penultimate layer are a choice
// of index, plus the pooled (EOS-token) output and its projection.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lathe {

struct CLIPTextConfig {
  std::int64_t vocab_size = 49408;
  std::int64_t max_positions = 77;
  std::int64_t hidden_size = 768;
  std::int64_t intermediate_size = 3072;
  std::int64_t layers = 12;
  std::int64_t heads = 12;
  bool quick_gelu = true;         // x * sigmoid(1.702 x) (OpenAI CLIP); else exact erf GELU
  std::int64_t projection_dim = 0;  // 0 = no text_projection (CLIPTextModel)
  double layer_norm_eps = 1e-5;
  std::int64_t eos_token_id = 49407;

  static CLIPTextConfig vit_l14();  // SD 1.x, SDXL encoder 1
  static CLIPTextConfig vit_h14();  // SD 2.x (OpenCLIP ViT-H/14), 1024 wide, 24 layers
  static CLIPTextConfig vit_bigg14();  // SDXL encoder 2: 1280 wide, 32 layers, projection 1280
};

// From a Hugging Face CLIPTextConfig config.json; throws lathe::Error naming `source`.
CLIPTextConfig clip_text_config_from_hf(const nlohmann::json& config, const std::string& source);

// From the canonical (Hugging Face) names and shapes of a checkpoint's text encoder, as single
// files carry no config: layers from the highest layer index, width and vocabulary from the
// token embedding, positions from the position embedding, MLP width from fc1, a projection when
// text_projection is there, heads = width / 64 (every released CLIP text tower; widths that are
// not a multiple of 64, as in tiny test models, get one head), end-of-text id = vocabulary - 1.
// The activation is not in the shapes: `quick_gelu` for OpenAI CLIP, exact GELU for OpenCLIP.
// Throws lathe::Error naming `source` when a needed tensor is missing or malformed.
CLIPTextConfig detect_clip_text_config(const std::map<std::string, std::vector<std::int64_t>>& shapes,
                                       bool quick_gelu, const std::string& source);

struct CLIPTextOutput {
  std::vector<torch::Tensor> hidden_states;  // [layers + 1] x [B, T, C]; 0 = the embeddings
  torch::Tensor last_hidden_state;           // final_layer_norm(hidden_states.back())
  torch::Tensor pooled;                      // [B, C]: last_hidden_state at the first EOS token
  torch::Tensor text_embeds;                 // [B, P]: pooled @ text_projection^T (if any)
};

// Reference: transformers CLIPAttention (openai CLIP nn.MultiheadAttention), causal.
struct CLIPAttentionImpl : torch::nn::Module {
  CLIPAttentionImpl(std::int64_t dim, std::int64_t heads);
  torch::Tensor forward(const torch::Tensor& x);  // [B, T, C] -> [B, T, C]
  std::int64_t heads;
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
};
TORCH_MODULE(CLIPAttention);

// Reference: transformers CLIPEncoderLayer (pre-LN attention and MLP, each with a residual).
struct CLIPEncoderLayerImpl : torch::nn::Module {
  explicit CLIPEncoderLayerImpl(const CLIPTextConfig& c);
  torch::Tensor forward(const torch::Tensor& x);  // [B, T, C] -> [B, T, C]
  bool quick_gelu;
  CLIPAttention self_attn{nullptr};
  torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};  // registered under `mlp`
};
TORCH_MODULE(CLIPEncoderLayer);

// Reference: transformers CLIPTextTransformer (`text_model`).
struct CLIPTextTransformerImpl : torch::nn::Module {
  explicit CLIPTextTransformerImpl(const CLIPTextConfig& c);
  torch::nn::Embedding token_embedding{nullptr}, position_embedding{nullptr};  // under `embeddings`
  torch::nn::ModuleList layers{nullptr};                                       // under `encoder`
  torch::nn::LayerNorm final_layer_norm{nullptr};
};
TORCH_MODULE(CLIPTextTransformer);

// Reference: transformers CLIPTextModel / CLIPTextModelWithProjection.
struct CLIPTextModelImpl : torch::nn::Module {
  explicit CLIPTextModelImpl(CLIPTextConfig config);

  // input_ids [B, T] (int64, T <= max_positions) -> all outputs. `stop_after_layer` > 0 runs only
  // that many layers (clip-skip saves the rest); then last_hidden_state, pooled and
  // text_embeds are those of the truncated stack.
  CLIPTextOutput forward(const torch::Tensor& input_ids, std::int64_t stop_after_layer = 0);

  // The conditioning SD takes with clip-skip n (1 = last layer): the output of layer
  // (layers + 1 - n), through final_layer_norm when `final_norm` (SD 1.x clip-skip, SD 2.x's
  // penultimate layer) or as is (SDXL takes the penultimate states of both encoders un-normed).
  torch::Tensor skip_hidden_state(const CLIPTextOutput& out, std::int64_t clip_skip, bool final_norm);

  // Token embeddings of input_ids [B, T] -> [B, T, C]: the vocabulary's rows, and for ids at or
  // past vocab_size the extra rows below.
  torch::Tensor embed_tokens(const torch::Tensor& input_ids);

  const CLIPTextConfig& config() const { return config_; }

  CLIPTextTransformer text_model{nullptr};
  // Rows for token ids past the vocabulary: id vocab_size + k reads row k of these tensors
  // stacked ([n_i, C] each; cast to the token embedding's dtype and device in the forward, so
  // gradients reach them). Installed embeddings (src/embedding/embedding_install.h) add theirs
  // here; the vocabulary's token embedding is never changed. Not registered: they are no part
  // of the checkpoint, the LoRA or named_parameters().
  std::vector<torch::Tensor> extra_token_rows;
  torch::nn::Linear text_projection{nullptr};  // projection models only, no bias

 private:
  CLIPTextConfig config_;
};
TORCH_MODULE(CLIPTextModel);

}  // namespace lathe
