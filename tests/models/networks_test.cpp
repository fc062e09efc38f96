// Tiny-configuration tests of every network (same code paths as SD 1.5 / SD 2.x / SDXL at small
// widths): output shapes, checkpoint key names, determinism, gradient flow, gradient
// checkpointing, config detection (attention has attention_test.cpp). They run in seconds; numerical
// parity with the reference is parity_test.cpp.
#include "common/error.h"
#include "models/attention.h"
#include "models/blocks.h"
#include "models/clip_text.h"
#include "models/grad_checkpoint.h"
#include "models/unet.h"
#include "models/vae.h"
#include "models/tiny_unet_configs.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace lathe {
namespace {

using test::tiny_sd15;
using test::tiny_sd2;
// A wider context than the LoRA tests use, so context and channel widths never coincide.
UNetConfig tiny_sdxl() { return test::tiny_sdxl(48); }

struct UNetInputs {
  torch::Tensor x, t, ctx, y;
};

UNetInputs inputs_for(UNet& unet, std::int64_t b = 2, std::int64_t h = 8, std::int64_t w = 12) {
  const auto& c = unet->config();
  UNetInputs in;
  in.x = torch::randn({b, 4, h, w});
  in.t = torch::tensor(std::vector<std::int64_t>{999, 3}).slice(0, 0, b);
  in.ctx = torch::randn({b, 5, c.cross_attention_dim});
  if (c.adm_in_channels > 0) {
    auto time_ids = torch::tensor({1024.f, 1024.f, 0.f, 0.f, 1024.f, 1024.f}).repeat({b, 1});
    in.y = unet->sdxl_vector(torch::randn({b, c.adm_in_channels - 6 * c.addition_time_embed_dim}), time_ids);
  }
  return in;
}

class TinyUNet : public testing::TestWithParam<int> {
 protected:
  UNetConfig config() const {
    switch (GetParam()) {
      case 0: return tiny_sd15();
      case 1: return tiny_sd2();
      default: return tiny_sdxl();
    }
  }
};

TEST_P(TinyUNet, ShapesAndLdmKeyNames) {
  torch::manual_seed(1);
  UNet unet(config());
  auto in = inputs_for(unet);
  auto out = unet->forward(in.x, in.t, in.ctx, in.y);
  EXPECT_EQ(out.sizes(), in.x.sizes());
  auto params = unet->named_parameters();
  for (const char* key : {"input_blocks.0.0.weight", "time_embed.0.weight", "time_embed.2.bias",
                          "input_blocks.1.0.in_layers.2.weight", "input_blocks.1.0.emb_layers.1.weight",
                          "input_blocks.1.0.out_layers.3.weight", "middle_block.1.proj_in.weight",
                          "middle_block.1.transformer_blocks.0.ff.net.0.proj.weight",
                          "middle_block.1.transformer_blocks.0.ff.net.2.weight",
                          "middle_block.1.transformer_blocks.0.attn2.to_out.0.bias", "middle_block.2.out_layers.0.weight",
                          "out.0.weight", "out.2.weight"})
    EXPECT_TRUE(params.contains(key)) << key;
  const auto& c = unet->config();
  const auto L = c.layers_per_block;
  // The first downsampler sits at input_blocks.(L+1).0.op; the first upsampler ends level n-1.
  EXPECT_TRUE(params.contains(fmt::format("input_blocks.{}.0.op.weight", L + 1)));
  const auto up_index = c.attention.back() ? 2 : 1;
  EXPECT_TRUE(params.contains(fmt::format("output_blocks.{}.{}.conv.weight", L, up_index)));
  EXPECT_EQ(params.contains("label_emb.0.0.weight"), c.adm_in_channels > 0);
  EXPECT_EQ(params["middle_block.1.proj_in.weight"].dim(), c.linear_projection ? 2 : 4);
}

TEST_P(TinyUNet, DeterministicAndEveryParameterGetsAGradient) {
  torch::manual_seed(2);
  UNet unet(config());
  auto in = inputs_for(unet);
  auto a = unet->forward(in.x, in.t, in.ctx, in.y);
  auto b = unet->forward(in.x, in.t, in.ctx, in.y);
  EXPECT_TRUE(torch::equal(a, b));
  // Zero-initialised output convs would hide gradients; these are random, so every one flows.
  a.pow(2).mean().backward();
  for (const auto& p : unet->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().max().item<double>(), 0.0) << p.key();
  }
}

TEST_P(TinyUNet, DetectConfigFromWeightShapes) {
  auto c = config();
  UNet unet(c);
  std::map<std::string, std::vector<std::int64_t>> shapes;
  for (const auto& p : unet->named_parameters()) shapes[p.key()] = p.value().sizes().vec();
  auto d = detect_unet_config(shapes, "tiny");
  EXPECT_EQ(d.block_out_channels, c.block_out_channels);
  EXPECT_EQ(d.layers_per_block, c.layers_per_block);
  EXPECT_EQ(d.attention, c.attention);
  EXPECT_EQ(d.linear_projection, c.linear_projection);
  EXPECT_EQ(d.cross_attention_dim, c.cross_attention_dim);
  EXPECT_EQ(d.mid_transformer_depth, c.mid_transformer_depth);
  EXPECT_EQ(d.adm_in_channels, c.adm_in_channels);
  for (std::size_t i = 0; i < c.attention.size(); ++i)
    if (c.attention[i]) {
      EXPECT_EQ(d.transformer_depth[i], c.transformer_depth[i]) << "level " << i;
    }
}

TEST_P(TinyUNet, GradientCheckpointingGivesTheSameGradients) {
  auto run = [&](bool checkpointing, bool frozen_base) {
    torch::manual_seed(3);
    auto c = config();
    c.gradient_checkpointing = checkpointing;
    UNet unet(c);
    unet->train();
    // Frozen base (the LoRA case): only one attention weight trains and the input needs no
    // gradient, so the checkpointed blocks must still route gradients to that parameter.
    std::string trained = "middle_block.1.transformer_blocks.0.attn1.to_q.weight";
    for (auto& p : unet->named_parameters()) p.value().set_requires_grad(!frozen_base || p.key() == trained);
    auto in = inputs_for(unet);
    auto ctx = in.ctx.requires_grad_(!frozen_base);
    auto out = unet->forward(in.x, in.t, ctx, in.y);
    out.pow(2).mean().backward();
    std::vector<torch::Tensor> grads{out.detach()};
    for (auto& p : unet->named_parameters())
      if (p.value().requires_grad()) grads.push_back(p.value().grad().clone());
    if (!frozen_base) grads.push_back(ctx.grad().clone());
    return grads;
  };
  for (bool frozen : {false, true}) {
    auto plain = run(false, frozen), ckpt = run(true, frozen);
    ASSERT_EQ(plain.size(), ckpt.size());
    for (std::size_t i = 0; i < plain.size(); ++i)
      EXPECT_TRUE(torch::allclose(plain[i], ckpt[i], 1e-5, 1e-7)) << "tensor " << i << " frozen " << frozen;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, TinyUNet, testing::Values(0, 1, 2),
                         [](const testing::TestParamInfo<int>& i) {
                           return std::string(i.param == 0 ? "SD15" : i.param == 1 ? "SD2" : "SDXL");
                         });

TEST(Blocks, TimestepFeaturesCosineFirst) {
  auto f = timestep_features(torch::tensor(std::vector<std::int64_t>{0, 10}), 8);
  ASSERT_EQ(f.sizes(), (std::vector<std::int64_t>{2, 8}));
  EXPECT_FLOAT_EQ(f[0][0].item<float>(), 1.f);  // cos(0)
  EXPECT_FLOAT_EQ(f[0][4].item<float>(), 0.f);  // sin(0)
  EXPECT_NEAR(f[1][0].item<float>(), std::cos(10.0), 1e-6);
  EXPECT_NEAR(f[1][5].item<float>(), std::sin(10.0 * std::exp(-std::log(10000.0) / 4)), 1e-6);
}

TEST(GradCheckpoint, MatchesDirectComputation) {
  torch::manual_seed(7);
  auto w = torch::randn({5, 5}, torch::requires_grad());
  auto x = torch::randn({3, 5}, torch::requires_grad());
  auto fn = [&](const std::vector<torch::Tensor>& in) {
    return std::vector<torch::Tensor>{torch::tanh(torch::matmul(in[0], w)).sin()};
  };
  fn({x})[0].sum().backward();
  auto gx = x.grad().clone(), gw = w.grad().clone();
  x.mutable_grad().zero_();
  w.mutable_grad().zero_();
  checkpoint(fn, {x})[0].sum().backward();
  EXPECT_TRUE(torch::allclose(gx, x.grad()));
  EXPECT_TRUE(torch::allclose(gw, w.grad()));
}

VAEConfig tiny_vae() {
  VAEConfig c;
  c.block_out_channels = {32, 32, 64, 64};
  return c;
}

TEST(TinyVAE, ShapesKeysAndSampling) {
  torch::manual_seed(8);
  VAE vae(tiny_vae());
  auto params = vae->named_parameters();
  for (const char* key : {"encoder.conv_in.weight", "encoder.down.0.block.1.conv2.weight",
                          "encoder.down.0.downsample.conv.weight", "encoder.down.2.block.0.nin_shortcut.weight",
                          "encoder.mid.attn_1.q.weight", "encoder.mid.block_2.norm1.bias", "encoder.norm_out.weight",
                          "quant_conv.weight", "post_quant_conv.weight", "decoder.up.3.block.2.conv1.weight",
                          "decoder.up.3.upsample.conv.weight", "decoder.up.1.block.0.nin_shortcut.weight",
                          "decoder.mid.attn_1.proj_out.weight", "decoder.conv_out.weight"})
    EXPECT_TRUE(params.contains(key)) << key;
  EXPECT_FALSE(params.contains("decoder.up.0.upsample.conv.weight"));
  EXPECT_FALSE(params.contains("encoder.down.3.downsample.conv.weight"));
  EXPECT_EQ(params["encoder.mid.attn_1.q.weight"].dim(), 4);  // 1x1 conv, as in LDM files

  torch::NoGradGuard no_grad;
  auto image = torch::rand({1, 3, 32, 40}) * 2 - 1;
  auto dist = vae->encode(image);
  EXPECT_EQ(dist.mean.sizes(), (std::vector<std::int64_t>{1, 4, 4, 5}));
  EXPECT_EQ(vae->decode(dist.mean).sizes(), image.sizes());
  auto g1 = at::detail::createCPUGenerator(42), g2 = at::detail::createCPUGenerator(42);
  auto s1 = vae->encode_scaled(image, g1), s2 = vae->encode_scaled(image, g2);
  EXPECT_TRUE(torch::equal(s1, s2));
  EXPECT_FALSE(torch::equal(s1, vae->encode_scaled(image)));  // the mean, unsampled
  EXPECT_TRUE(torch::allclose(vae->encode_scaled(image), dist.mean * 0.18215));
}

CLIPTextConfig tiny_clip(bool projection) {
  CLIPTextConfig c;
  c.hidden_size = 16;
  c.intermediate_size = 64;
  c.layers = 3;
  c.heads = 2;
  c.vocab_size = 49408;
  c.quick_gelu = !projection;
  c.projection_dim = projection ? 8 : 0;
  return c;
}

TEST(TinyCLIP, CausalPooledAndClipSkip) {
  torch::manual_seed(9);
  for (bool projection : {false, true}) {
    CLIPTextModel te(tiny_clip(projection));
    auto ids = torch::full({2, 77}, projection ? 0 : 49407, torch::kLong);
    ids.index_put_({torch::indexing::Slice(), 0}, 49406);
    ids.index_put_({0, torch::indexing::Slice(1, 4)}, torch::tensor({320, 1125, 539}));
    ids.index_put_({0, 4}, 49407);
    ids.index_put_({1, 1}, 49407);
    auto out = te->forward(ids);
    EXPECT_EQ(out.hidden_states.size(), 4u);
    EXPECT_EQ(out.last_hidden_state.sizes(), (std::vector<std::int64_t>{2, 77, 16}));
    EXPECT_TRUE(torch::equal(out.pooled[0], out.last_hidden_state[0][4]));  // first EOS
    EXPECT_TRUE(torch::equal(out.pooled[1], out.last_hidden_state[1][1]));
    EXPECT_EQ(out.text_embeds.defined(), projection);
    // Causal: changing token 3 leaves positions 0..2 unchanged and changes position 3.
    auto ids2 = ids.clone();
    ids2.index_put_({0, 3}, 700);
    auto out2 = te->forward(ids2);
    EXPECT_TRUE(torch::equal(out.last_hidden_state[0].slice(0, 0, 3), out2.last_hidden_state[0].slice(0, 0, 3)));
    EXPECT_FALSE(torch::equal(out.last_hidden_state[0][3], out2.last_hidden_state[0][3]));
    // clip-skip 2 = the output of layer 2 of 3; running 2 layers gives the same states.
    auto short_run = te->forward(ids, 2);
    EXPECT_TRUE(torch::equal(te->skip_hidden_state(out, 2, false), short_run.hidden_states.back()));
    EXPECT_TRUE(torch::equal(te->skip_hidden_state(out, 1, true), out.last_hidden_state));
    EXPECT_THROW(te->skip_hidden_state(out, 4, true), Error);
  }
}

TEST(Configs, DiffusersConfigsAndRejections) {
  auto j = nlohmann::json::parse(R"({"block_out_channels":[320,640,1280],"layers_per_block":2,
    "down_block_types":["DownBlock2D","CrossAttnDownBlock2D","CrossAttnDownBlock2D"],
    "up_block_types":["CrossAttnUpBlock2D","CrossAttnUpBlock2D","UpBlock2D"],
    "attention_head_dim":[5,10,20],"transformer_layers_per_block":[1,2,10],"cross_attention_dim":2048,
    "use_linear_projection":true,"addition_embed_type":"text_time","addition_time_embed_dim":256,
    "projection_class_embeddings_input_dim":2816})");
  auto c = unet_config_from_diffusers(j, "unet/config.json");
  auto x = UNetConfig::sdxl();
  EXPECT_EQ(c.block_out_channels, x.block_out_channels);
  EXPECT_EQ(c.heads, x.heads);
  EXPECT_EQ(c.transformer_depth, x.transformer_depth);
  EXPECT_EQ(c.mid_transformer_depth, 10);
  EXPECT_EQ(c.adm_in_channels, 2816);
  j["up_block_types"][0] = "UpBlock2D";
  EXPECT_THROW(unet_config_from_diffusers(j, "unet/config.json"), Error);
  j["up_block_types"][0] = "CrossAttnUpBlock2D";
  j["resnet_time_scale_shift"] = "scale_shift";
  try {
    unet_config_from_diffusers(j, "unet/config.json");
    FAIL() << "scale_shift accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("resnet_time_scale_shift"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(UNetConfig::sd15().validate());
  EXPECT_NO_THROW(UNetConfig::sd2().validate());
}

}  // namespace
}  // namespace lathe
