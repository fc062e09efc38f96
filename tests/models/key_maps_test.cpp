// Key maps: every entry of the fixtures' key_map_*.json reproduced in both directions (UNet of
// the SD1.5 / SD2 / SDXL topologies, VAE, CLIP-L, OpenCLIP bigG with fused q/k/v), topology
// detection from either layout, legacy VAE names, and round trips over generated layouts
// (other layers_per_block and level counts than the fixtures have).
#include "models/key_maps.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "io/atomic_file.h"
#include "test_paths.h"

namespace lathe {
namespace {

std::map<std::string, std::string> read_key_map(const std::string& rel) {
  auto j = nlohmann::json::parse(read_file(test::shared_dir() / "fixtures" / rel));
  return j.get<std::map<std::string, std::string>>();
}

std::string strip(const std::string& key, const std::string& prefix) {
  EXPECT_EQ(key.compare(0, prefix.size(), prefix), 0) << key;
  return key.substr(prefix.size());
}

void check_unet_map(const std::string& folder, int levels, int layers) {
  auto map = read_key_map(folder + "/key_map_diffusers_to_ldm.json");
  std::vector<std::string> dkeys, lkeys;
  for (const auto& [d, l] : map) {
    dkeys.push_back(d);
    lkeys.push_back(strip(l, "model.diffusion_model."));
  }
  UNetTopology from_d = unet_topology_from_diffusers(dkeys), from_l = unet_topology_from_ldm(lkeys);
  EXPECT_EQ(from_d.levels, levels);
  EXPECT_EQ(from_d.layers_per_block, layers);
  EXPECT_EQ(from_l.levels, levels);
  EXPECT_EQ(from_l.layers_per_block, layers);
  EXPECT_EQ(from_d.up_attention, from_l.up_attention);
  NameTable td = unet_name_table(from_d), tl = unet_name_table(from_l);
  for (const auto& [d, l] : map) {
    const std::string ldm = strip(l, "model.diffusion_model.");
    EXPECT_EQ(td.a_to_b(d).value_or("<none>"), ldm) << folder << ": " << d;
    EXPECT_EQ(tl.b_to_a(ldm).value_or("<none>"), d) << folder << ": " << ldm;
  }
}

TEST(KeyMapsFixtures, UNetSD15Tiny) {
  LATHE_REQUIRE_SHARED("fixtures/unet_sd15_tiny/key_map_diffusers_to_ldm.json");
  check_unet_map("unet_sd15_tiny", 2, 1);
}
TEST(KeyMapsFixtures, UNetSD15Topology) {
  LATHE_REQUIRE_SHARED("fixtures/unet_sd15_topo/key_map_diffusers_to_ldm.json");
  check_unet_map("unet_sd15_topo", 4, 2);
}
TEST(KeyMapsFixtures, UNetSD2Topology) {
  LATHE_REQUIRE_SHARED("fixtures/unet_sd2_topo/key_map_diffusers_to_ldm.json");
  check_unet_map("unet_sd2_topo", 4, 2);
}
TEST(KeyMapsFixtures, UNetSDXLTopology) {
  LATHE_REQUIRE_SHARED("fixtures/unet_sdxl_topo/key_map_diffusers_to_ldm.json");
  check_unet_map("unet_sdxl_topo", 3, 2);
}

TEST(KeyMapsFixtures, VAE) {
  LATHE_REQUIRE_SHARED("fixtures/vae_sd_topo/key_map_diffusers_to_ldm.json");
  auto map = read_key_map("vae_sd_topo/key_map_diffusers_to_ldm.json");
  std::vector<std::string> dkeys, lkeys;
  for (const auto& [d, l] : map) {
    dkeys.push_back(d);
    lkeys.push_back(strip(l, "first_stage_model."));
  }
  ASSERT_EQ(vae_levels_from_diffusers(dkeys), 4);
  ASSERT_EQ(vae_levels_from_ldm(lkeys), 4);
  NameTable t = vae_name_table(4);
  int conv_attention = 0;
  for (const auto& [d, l] : map) {
    const std::string ldm = strip(l, "first_stage_model.");
    EXPECT_EQ(t.a_to_b(d).value_or("<none>"), ldm) << d;
    EXPECT_EQ(t.b_to_a(ldm).value_or("<none>"), d) << ldm;
    conv_attention += vae_is_conv_attention_weight(ldm);
  }
  EXPECT_EQ(conv_attention, 8);  // q, k, v, proj_out in the encoder and the decoder
}

TEST(KeyMapsFixtures, ClipL) {
  LATHE_REQUIRE_SHARED("fixtures/te_clip_l_tiny/key_map_hf_to_ldm.json");
  for (const auto& [hf, ldm] : read_key_map("te_clip_l_tiny/key_map_hf_to_ldm.json")) {
    EXPECT_EQ(hf_clip_modern_name(strip(ldm, "cond_stage_model.transformer.")), hf);
  }
}

TEST(KeyMapsFixtures, OpenClipBigG) {
  LATHE_REQUIRE_SHARED("fixtures/te_clip_g_tiny/key_map_hf_to_ldm.json");
  auto map = read_key_map("te_clip_g_tiny/key_map_hf_to_ldm.json");
  std::map<std::string, int> fused_parts;
  for (const auto& [hf, ldm] : map) {
    const std::string oc = strip(ldm, "conditioner.embedders.1.model.");
    auto back = hf_to_openclip(hf);
    ASSERT_TRUE(back) << hf;
    EXPECT_EQ(back->key, oc) << hf;
    EXPECT_EQ(back->transposed, hf == "text_projection.weight");
    auto parts = openclip_to_hf(oc);
    ASSERT_TRUE(parts) << oc;
    bool found = false;
    for (const auto& p : *parts) found = found || (p.key == hf && p.qkv_part == back->qkv_part);
    EXPECT_TRUE(found) << oc << " should hold " << hf;
    if (back->qkv_part >= 0) fused_parts[oc] |= 1 << back->qkv_part;
  }
  EXPECT_EQ(fused_parts.size(), 6u);  // in_proj_weight and _bias of 3 layers
  for (const auto& [oc, mask] : fused_parts) EXPECT_EQ(mask, 7) << oc << " needs q, k and v";
  EXPECT_FALSE(openclip_to_hf("transformer.resblocks.0.attn.bogus"));
  EXPECT_TRUE(openclip_key_is_unused("logit_scale"));
}

TEST(KeyMaps, LegacyDiffusersVAEAttentionNames) {
  NameTable t = vae_name_table(4);
  EXPECT_EQ(*t.a_to_b("encoder.mid_block.attentions.0.query.weight"), "encoder.mid.attn_1.q.weight");
  EXPECT_EQ(*t.a_to_b("decoder.mid_block.attentions.0.proj_attn.bias"), "decoder.mid.attn_1.proj_out.bias");
  EXPECT_EQ(*t.b_to_a("encoder.mid.attn_1.q.weight"), "encoder.mid_block.attentions.0.to_q.weight");
  EXPECT_EQ(*t.a_to_b("decoder.up_blocks.0.upsamplers.0.conv.weight"), "decoder.up.3.upsample.conv.weight");
}

TEST(KeyMaps, OldTransformersClipNamesGainTextModel) {
  EXPECT_EQ(hf_clip_modern_name("embeddings.token_embedding.weight"),
            "text_model.embeddings.token_embedding.weight");
  EXPECT_EQ(hf_clip_modern_name("text_model.final_layer_norm.bias"), "text_model.final_layer_norm.bias");
}

TEST(KeyMaps, UnknownKeysHaveNoName) {
  NameTable t = unet_name_table({4, 2, {false, true, true, true}});
  EXPECT_FALSE(t.a_to_b("down_blocks.0.resnets.0.bogus.weight"));
  EXPECT_FALSE(t.a_to_b("nothing.weight"));
  EXPECT_FALSE(t.b_to_a("input_blocks.99.0.in_layers.0.weight"));
}

// Diffusers keys of a UNet with the given structure (one tensor per module is enough).
std::vector<std::string> synthetic_diffusers_unet(int levels, int L, const std::vector<bool>& down_attn,
                                                  const std::vector<bool>& up_attn) {
  std::vector<std::string> k = {"conv_in.weight", "time_embedding.linear_1.weight",
                                "time_embedding.linear_2.bias", "conv_norm_out.weight", "conv_out.bias",
                                "mid_block.resnets.0.norm1.weight", "mid_block.attentions.0.proj_in.weight",
                                "mid_block.resnets.1.conv_shortcut.weight", "add_embedding.linear_2.weight"};
  for (int i = 0; i < levels; ++i) {
    for (int j = 0; j < L; ++j) {
      k.push_back(fmt::format("down_blocks.{}.resnets.{}.conv1.weight", i, j));
      k.push_back(fmt::format("down_blocks.{}.resnets.{}.time_emb_proj.bias", i, j));
      if (down_attn[i]) k.push_back(fmt::format("down_blocks.{}.attentions.{}.transformer_blocks.1.attn2.to_k.weight", i, j));
    }
    for (int j = 0; j <= L; ++j) {
      k.push_back(fmt::format("up_blocks.{}.resnets.{}.conv2.bias", i, j));
      k.push_back(fmt::format("up_blocks.{}.resnets.{}.conv_shortcut.weight", i, j));
      if (up_attn[i]) k.push_back(fmt::format("up_blocks.{}.attentions.{}.norm.weight", i, j));
    }
    if (i + 1 < levels) {
      k.push_back(fmt::format("down_blocks.{}.downsamplers.0.conv.weight", i));
      k.push_back(fmt::format("up_blocks.{}.upsamplers.0.conv.bias", i));
    }
  }
  return k;
}

TEST(KeyMaps, UNetRoundTripsForOtherLayouts) {
  struct Case { int levels, L; std::vector<bool> down, up; };
  for (const Case& c : {Case{3, 3, {true, false, true}, {true, false, true}},
                        Case{5, 1, {false, true, true, true, false}, {false, true, true, true, false}},
                        Case{2, 4, {false, false}, {true, true}}}) {
    auto dkeys = synthetic_diffusers_unet(c.levels, c.L, c.down, c.up);
    NameTable t = unet_name_table(unet_topology_from_diffusers(dkeys));
    std::vector<std::string> lkeys;
    for (const auto& d : dkeys) {
      auto l = t.a_to_b(d);
      ASSERT_TRUE(l) << d;
      lkeys.push_back(*l);
    }
    UNetTopology back = unet_topology_from_ldm(lkeys);
    EXPECT_EQ(back.levels, c.levels);
    EXPECT_EQ(back.layers_per_block, c.L);
    NameTable tb = unet_name_table(back);
    for (std::size_t i = 0; i < dkeys.size(); ++i)
      EXPECT_EQ(tb.b_to_a(lkeys[i]).value_or("<none>"), dkeys[i]) << lkeys[i];
  }
}

TEST(KeyMaps, UpsamplerIndexFollowsAttention) {
  NameTable t = unet_name_table({3, 2, {false, true, true}});
  EXPECT_EQ(*t.a_to_b("up_blocks.0.upsamplers.0.conv.weight"), "output_blocks.2.1.conv.weight");
  EXPECT_EQ(*t.a_to_b("up_blocks.1.upsamplers.0.conv.weight"), "output_blocks.5.2.conv.weight");
  EXPECT_EQ(*t.a_to_b("down_blocks.2.resnets.1.norm2.bias"), "input_blocks.8.0.out_layers.0.bias");
  EXPECT_EQ(*t.a_to_b("down_blocks.1.downsamplers.0.conv.weight"), "input_blocks.6.0.op.weight");
  EXPECT_EQ(*t.a_to_b("add_embedding.linear_1.weight"), "label_emb.0.0.weight");
}

TEST(KeyMaps, OpenClipRoundTripsEveryLayerName) {
  for (int n : {0, 7, 31}) {
    for (const char* hf : {"layer_norm1.weight", "layer_norm2.bias", "mlp.fc1.weight", "mlp.fc2.bias",
                           "self_attn.out_proj.weight", "self_attn.q_proj.weight", "self_attn.k_proj.bias",
                           "self_attn.v_proj.weight"}) {
      const std::string key = fmt::format("text_model.encoder.layers.{}.{}", n, hf);
      auto oc = hf_to_openclip(key);
      ASSERT_TRUE(oc) << key;
      auto parts = openclip_to_hf(oc->key);
      ASSERT_TRUE(parts) << oc->key;
      const auto& p = (*parts)[oc->qkv_part < 0 ? 0 : oc->qkv_part];
      EXPECT_EQ(p.key, key);
      EXPECT_EQ(p.qkv_part, oc->qkv_part);
    }
  }
}

}  // namespace
}  // namespace lathe
