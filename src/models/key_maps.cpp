// Key-map tables (see key_maps.h). The UNet and VAE rules are those of diffusers'
// convert_original_stable_diffusion_to_diffusers (and the fixture README): a layout's index
// arithmetic lives in the table builders, the lookup is one generic longest-prefix search.
#include "models/key_maps.h"

#include <algorithm>
#include <cstdlib>
#include <set>

#include <fmt/format.h>

namespace lathe {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// The integer in `key` right after `prefix` ("down_blocks.3.resnets" -> 3), or -1.
int index_after(const std::string& key, const std::string& prefix) {
  if (!starts_with(key, prefix)) return -1;
  std::size_t pos = prefix.size(), end = pos;
  while (end < key.size() && std::isdigit(static_cast<unsigned char>(key[end]))) ++end;
  if (end == pos || end - pos > 6 || (end < key.size() && key[end] != '.')) return -1;
  return std::atoi(key.substr(pos, end - pos).c_str());
}

void add_unet_resnet(NameTable& t, const std::string& a, const std::string& b) {
  static const std::pair<const char*, const char*> kParts[] = {
      {"norm1", "in_layers.0"},  {"conv1", "in_layers.2"},  {"time_emb_proj", "emb_layers.1"},
      {"norm2", "out_layers.0"}, {"conv2", "out_layers.3"}, {"conv_shortcut", "skip_connection"}};
  for (const auto& [da, lb] : kParts) t.add(a + "." + da, b + "." + lb);
}

void add_vae_resnet(NameTable& t, const std::string& a, const std::string& b) {
  for (const char* same : {"norm1", "conv1", "norm2", "conv2"}) t.add(a + "." + same, b + "." + same);
  t.add(a + ".conv_shortcut", b + ".nin_shortcut");
}

const std::pair<const char*, const char*> kClipLayerParts[] = {
    {"ln_1", "layer_norm1"},       {"ln_2", "layer_norm2"},  {"mlp.c_fc", "mlp.fc1"},
    {"mlp.c_proj", "mlp.fc2"},     {"attn.out_proj", "self_attn.out_proj"}};

const char* const kQKV[] = {"q_proj", "k_proj", "v_proj"};

}  // namespace

void NameTable::add(const std::string& a, const std::string& b) {
  a_to_b_[a] = b;
  b_to_a_.emplace(b, a);
}

std::optional<std::string> NameTable::convert(const std::map<std::string, std::string>& rows,
                                              const std::string& key) {
  std::size_t cut = key.size();
  while (true) {
    auto it = rows.find(key.substr(0, cut));
    if (it != rows.end()) return it->second + key.substr(cut);
    if (cut == 0) return std::nullopt;
    cut = key.rfind('.', cut - 1);
    if (cut == std::string::npos) return std::nullopt;
  }
}

std::optional<std::string> NameTable::a_to_b(const std::string& key) const { return convert(a_to_b_, key); }
std::optional<std::string> NameTable::b_to_a(const std::string& key) const { return convert(b_to_a_, key); }

UNetTopology unet_topology_from_diffusers(const std::vector<std::string>& keys) {
  UNetTopology t;
  std::set<int> attn_up;
  for (const auto& k : keys) {
    int i = index_after(k, "down_blocks.");
    if (i >= 0) {
      t.levels = std::max(t.levels, i + 1);
      std::string rest = k.substr(k.find('.', 12) + 1);
      int j = index_after(rest, "resnets.");
      if (j >= 0) t.layers_per_block = std::max(t.layers_per_block, j + 1);
    }
    int u = index_after(k, "up_blocks.");
    if (u >= 0 && k.find(".attentions.") == k.find('.', 10)) attn_up.insert(u);
  }
  for (int i = 0; i < t.levels; ++i) t.up_attention.push_back(attn_up.count(i) > 0);
  return t;
}

UNetTopology unet_topology_from_ldm(const std::vector<std::string>& keys) {
  UNetTopology t;
  std::set<int> down_samplers;
  int max_input = 0;
  for (const auto& k : keys) {
    int n = index_after(k, "input_blocks.");
    if (n < 0) continue;
    max_input = std::max(max_input, n);
    if (k.find(".0.op.", 13) != std::string::npos) down_samplers.insert(n);
  }
  t.levels = static_cast<int>(down_samplers.size()) + 1;
  t.layers_per_block = down_samplers.empty() ? max_input : *down_samplers.begin() - 1;
  const int L = t.layers_per_block;
  for (int i = 0; i < t.levels; ++i) {
    bool attn = false;
    for (int j = 0; j <= L && !attn; ++j) {
      const std::string p = fmt::format("output_blocks.{}.1.", (L + 1) * i + j);
      for (const auto& k : keys)
        if (starts_with(k, p) && !starts_with(k, p + "conv.")) attn = true;
    }
    t.up_attention.push_back(attn);
  }
  return t;
}

NameTable unet_name_table(const UNetTopology& topo) {
  NameTable t;
  const int L = topo.layers_per_block;
  t.add("conv_in", "input_blocks.0.0");
  t.add("time_embedding.linear_1", "time_embed.0");
  t.add("time_embedding.linear_2", "time_embed.2");
  t.add("add_embedding.linear_1", "label_emb.0.0");
  t.add("add_embedding.linear_2", "label_emb.0.2");
  for (int i = 0; i < topo.levels; ++i) {
    for (int j = 0; j < L; ++j) {
      const int n = (L + 1) * i + j + 1;
      add_unet_resnet(t, fmt::format("down_blocks.{}.resnets.{}", i, j), fmt::format("input_blocks.{}.0", n));
      t.add(fmt::format("down_blocks.{}.attentions.{}", i, j), fmt::format("input_blocks.{}.1", n));
    }
    if (i + 1 < topo.levels)
      t.add(fmt::format("down_blocks.{}.downsamplers.0.conv", i),
            fmt::format("input_blocks.{}.0.op", (L + 1) * (i + 1)));
  }
  add_unet_resnet(t, "mid_block.resnets.0", "middle_block.0");
  t.add("mid_block.attentions.0", "middle_block.1");
  add_unet_resnet(t, "mid_block.resnets.1", "middle_block.2");
  for (int i = 0; i < topo.levels; ++i) {
    for (int j = 0; j <= L; ++j) {
      const int n = (L + 1) * i + j;
      add_unet_resnet(t, fmt::format("up_blocks.{}.resnets.{}", i, j), fmt::format("output_blocks.{}.0", n));
      t.add(fmt::format("up_blocks.{}.attentions.{}", i, j), fmt::format("output_blocks.{}.1", n));
    }
    if (i + 1 < topo.levels) {
      const bool attn = i < static_cast<int>(topo.up_attention.size()) && topo.up_attention[i];
      t.add(fmt::format("up_blocks.{}.upsamplers.0.conv", i),
            fmt::format("output_blocks.{}.{}.conv", (L + 1) * i + L, attn ? 2 : 1));
    }
  }
  t.add("conv_norm_out", "out.0");
  t.add("conv_out", "out.2");
  return t;
}

int vae_levels_from_diffusers(const std::vector<std::string>& keys) {
  int levels = 0;
  for (const auto& k : keys) levels = std::max(levels, index_after(k, "encoder.down_blocks.") + 1);
  return levels;
}

int vae_levels_from_ldm(const std::vector<std::string>& keys) {
  int levels = 0;
  for (const auto& k : keys) levels = std::max(levels, index_after(k, "encoder.down.") + 1);
  return levels;
}

NameTable vae_name_table(int levels) {
  NameTable t;
  for (const char* side : {"encoder", "decoder"}) {
    const std::string s = side;
    for (const char* same : {"conv_in", "conv_out"}) t.add(s + "." + same, s + "." + same);
    t.add(s + ".conv_norm_out", s + ".norm_out");
    add_vae_resnet(t, s + ".mid_block.resnets.0", s + ".mid.block_1");
    add_vae_resnet(t, s + ".mid_block.resnets.1", s + ".mid.block_2");
    const std::string attn = s + ".mid_block.attentions.0.", ldm = s + ".mid.attn_1.";
    t.add(attn + "group_norm", ldm + "norm");
    t.add(attn + "to_q", ldm + "q");
    t.add(attn + "to_k", ldm + "k");
    t.add(attn + "to_v", ldm + "v");
    t.add(attn + "to_out.0", ldm + "proj_out");
    // diffusers < 0.15 AttentionBlock names; read, never written.
    t.add(attn + "query", ldm + "q");
    t.add(attn + "key", ldm + "k");
    t.add(attn + "value", ldm + "v");
    t.add(attn + "proj_attn", ldm + "proj_out");
  }
  t.add("quant_conv", "quant_conv");
  t.add("post_quant_conv", "post_quant_conv");
  // Resnets per level are few; rows for up to 8 cover every released VAE and the fixtures.
  for (int i = 0; i < levels; ++i) {
    for (int j = 0; j < 8; ++j) {
      add_vae_resnet(t, fmt::format("encoder.down_blocks.{}.resnets.{}", i, j),
                     fmt::format("encoder.down.{}.block.{}", i, j));
      add_vae_resnet(t, fmt::format("decoder.up_blocks.{}.resnets.{}", i, j),
                     fmt::format("decoder.up.{}.block.{}", levels - 1 - i, j));
    }
    t.add(fmt::format("encoder.down_blocks.{}.downsamplers.0.conv", i),
          fmt::format("encoder.down.{}.downsample.conv", i));
    t.add(fmt::format("decoder.up_blocks.{}.upsamplers.0.conv", i),
          fmt::format("decoder.up.{}.upsample.conv", levels - 1 - i));
  }
  return t;
}

bool vae_is_conv_attention_weight(const std::string& ldm_key) {
  for (const char* side : {"encoder", "decoder"})
    for (const char* p : {"q", "k", "v", "proj_out"})
      if (ldm_key == fmt::format("{}.mid.attn_1.{}.weight", side, p)) return true;
  return false;
}

std::optional<std::vector<ClipKeyPart>> openclip_to_hf(const std::string& key) {
  using Parts = std::vector<ClipKeyPart>;
  if (key == "token_embedding.weight") return Parts{{"text_model.embeddings.token_embedding.weight"}};
  if (key == "positional_embedding") return Parts{{"text_model.embeddings.position_embedding.weight"}};
  if (key == "text_projection") return Parts{{"text_projection.weight", -1, true}};
  if (starts_with(key, "ln_final.")) return Parts{{"text_model.final_layer_norm." + key.substr(9)}};
  const int n = index_after(key, "transformer.resblocks.");
  if (n < 0) return std::nullopt;
  const std::string rest = key.substr(key.find('.', 22) + 1);
  const std::string layer = fmt::format("text_model.encoder.layers.{}.", n);
  if (rest == "attn.in_proj_weight" || rest == "attn.in_proj_bias") {
    const char* what = rest == "attn.in_proj_weight" ? "weight" : "bias";
    Parts parts;
    for (int p = 0; p < 3; ++p) parts.push_back({fmt::format("{}self_attn.{}.{}", layer, kQKV[p], what), p});
    return parts;
  }
  for (const auto& [oc, hf] : kClipLayerParts) {
    const std::string prefix = std::string(oc) + ".";
    if (starts_with(rest, prefix)) return Parts{{layer + hf + "." + rest.substr(prefix.size())}};
  }
  return std::nullopt;
}

std::optional<ClipKeyPart> hf_to_openclip(const std::string& key) {
  if (key == "text_model.embeddings.token_embedding.weight") return ClipKeyPart{"token_embedding.weight"};
  if (key == "text_model.embeddings.position_embedding.weight") return ClipKeyPart{"positional_embedding"};
  if (key == "text_projection.weight") return ClipKeyPart{"text_projection", -1, true};
  if (starts_with(key, "text_model.final_layer_norm."))
    return ClipKeyPart{"ln_final." + key.substr(28)};
  const int n = index_after(key, "text_model.encoder.layers.");
  if (n < 0) return std::nullopt;
  const std::string rest = key.substr(key.find('.', 26) + 1);
  const std::string block = fmt::format("transformer.resblocks.{}.", n);
  for (int p = 0; p < 3; ++p) {
    const std::string prefix = std::string("self_attn.") + kQKV[p] + ".";
    if (starts_with(rest, prefix)) {
      const std::string what = rest.substr(prefix.size());
      if (what != "weight" && what != "bias") return std::nullopt;
      return ClipKeyPart{block + "attn.in_proj_" + what, p};
    }
  }
  for (const auto& [oc, hf] : kClipLayerParts) {
    const std::string prefix = std::string(hf) + ".";
    if (starts_with(rest, prefix)) return ClipKeyPart{block + oc + "." + rest.substr(prefix.size())};
  }
  return std::nullopt;
}

bool openclip_key_is_unused(const std::string& key) {
  return key == "logit_scale" || key == "attn_mask";
}

std::string ldm_ema_key(const std::string& unet_key) {
  std::string out = "model_ema.diffusion_model";
  for (char ch : unet_key)
    if (ch != '.') out += ch;
  return out;
}

std::string hf_clip_modern_name(const std::string& key) {
  for (const char* legacy : {"embeddings.", "encoder.", "final_layer_norm."})
    if (starts_with(key, legacy)) return "text_model." + key;
  return key;
}

}  // namespace lathe
