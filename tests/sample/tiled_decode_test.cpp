// Tiled VAE decode against the full decode on a tiny VAE of the real topology (three levels,
// factor 4, random weights): equal within a stated tolerance inside the tiles and across the
// seam bands, no step at a seam, exact when one tile covers the image, smaller peak memory
// (libtorch's CPU allocator's own count), and the estimate behind the "auto" rule.
// Measured here: error inside the tiles mean 0.17 / max 0.98 of the image's standard deviation,
// in the seam bands 0.20 / 1.71 (per-tile statistics: 0.47 / 3.97 and 0.39 / 3.44).
#include "sample/tiled_decode.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "allocation_peak.h"
#include "common/error.h"
#include "models/attention.h"
#include "models/vae.h"

namespace lathe {
namespace {

VAEConfig tiny_vae_config() {
  VAEConfig c;
  c.block_out_channels = {32, 64, 64};  // factor 4
  c.layers_per_block = 1;
  c.norm_groups = 8;
  return c;
}

VAE tiny_vae() {
  torch::manual_seed(15);
  VAE vae(tiny_vae_config());
  vae->eval();
  return vae;
}

// Latents with the spatial structure of real ones (smooth areas and edges), unscaled: a smooth
// field plus noise, so every tile sees statistics of its own.
torch::Tensor test_latents(std::int64_t h, std::int64_t w) {
  torch::manual_seed(16);
  auto smooth = torch::nn::functional::interpolate(
      torch::randn({1, 4, h / 8, w / 8}) * 3,
      torch::nn::functional::InterpolateFuncOptions().size(std::vector<std::int64_t>{h, w}).mode(torch::kBilinear).align_corners(false));
  return smooth + 0.5 * torch::randn({1, 4, h, w});
}

// 1 where an output pixel lies in a seam band ([c - overlap, c + overlap) x factor around a
// shared core boundary c) along either axis, else 0.
torch::Tensor seam_mask(std::int64_t h, std::int64_t w, const TileOptions& t, std::int64_t factor) {
  auto axis = [&](std::int64_t length) {
    auto m = torch::zeros({length * factor}, torch::kBool);
    const std::int64_t count = (length + t.tile - 1) / t.tile;
    for (std::int64_t i = 1; i < count; ++i) {
      const auto c = i * length / count;
      m.slice(0, (c - t.overlap) * factor, (c + t.overlap) * factor).fill_(true);
    }
    return m;
  };
  return axis(h).view({-1, 1}) | axis(w).view({1, -1});
}

struct TileError {
  double inside_max, inside_mean, across_max, across_mean;
};

// Largest and mean error of a tiled decode against the full one per output pixel (the worst
// channel), relative to the full image's standard deviation, inside the tiles and in the seam bands.
TileError tile_error(VAE& vae, const torch::Tensor& z, const torch::Tensor& full, const TileOptions& tiles) {
  torch::NoGradGuard no_grad;
  const auto tiled = tiled_decode(*vae, z, tiles);
  EXPECT_EQ(tiled.sizes(), full.sizes());
  const auto error = (tiled - full).abs().amax(1)[0] / full.std().item<double>();  // [H, W]
  const auto seams = seam_mask(z.size(2), z.size(3), tiles, 4);
  const auto inside = error.masked_select(~seams), across = error.masked_select(seams);
  TileError e{inside.max().item<double>(), inside.mean().item<double>(), across.max().item<double>(),
              across.mean().item<double>()};
  std::printf("statistics passes %d: relative error inside tiles max %.4f mean %.5f, across seams max %.4f mean %.5f\n",
              tiles.statistics_passes, e.inside_max, e.inside_mean, e.across_max, e.across_mean);
  return e;
}

TEST(TiledDecode, MatchesTheFullDecodeInsideTilesAndAcrossSeams) {
  auto vae = tiny_vae();
  const auto z = test_latents(40, 48);  // 3 x 3 tiles of 16 latent pixels, 160 x 192 pixels
  torch::NoGradGuard no_grad;
  const auto full = vae->decode(z);
  const auto per_tile = tile_error(vae, z, full, {16, 4, 0});
  const auto e = tile_error(vae, z, full, {16, 4, 1});
  // Tolerances, as fractions of the full image's standard deviation. What remains is the
  // statistics of the GroupNorms after the first (measured on inputs that earlier GroupNorms
  // normalised per tile) and, near the halos' outer edges, zero padding. A random-weight decoder
  // is a harsh case (nothing trained keeps the error from growing through the layers) and these
  // latents hold large areas of different mean.
  EXPECT_LT(e.inside_mean, 0.25);
  EXPECT_LT(e.inside_max, 1.5);
  // The seam bands are no worse than the tiles' insides: the cross-fade adds no error of its own.
  EXPECT_LT(e.across_mean, 1.25 * e.inside_mean);
  EXPECT_LT(e.across_max, 2.0);
  // Shared statistics against each tile normalising over itself (diffusers' and ComfyUI's
  // tiling): measured 0.17 / 0.20 against 0.47 / 0.39.
  EXPECT_LT(e.inside_mean, 0.6 * per_tile.inside_mean);
  EXPECT_LT(e.across_mean, 0.6 * per_tile.across_mean);
}

// The error's largest jump between neighbouring output columns at the tiles' core boundaries.
double jump_at_core_boundaries(VAE& vae, const torch::Tensor& z, const TileOptions& tiles) {
  torch::NoGradGuard no_grad;
  const auto error = (tiled_decode(*vae, z, tiles) - vae->decode(z))[0];               // [3, H, W]
  const auto jumps = (error.slice(2, 1) - error.slice(2, 0, -1)).abs().amax({0, 1});  // [W - 1]
  return torch::stack({jumps[16 * 4 - 1], jumps[32 * 4 - 1]}).max().item<double>();
}

TEST(TiledDecode, HasNoStepAtASeam) {
  // Tiles that abut without a halo (overlap 0) leave a step in the image where they meet; the
  // cross-faded halo of 4 latent pixels leaves a small fraction of it.
  auto vae = tiny_vae();
  const auto z = test_latents(16, 48);  // one row of 3 tiles
  const double hard = jump_at_core_boundaries(vae, z, {16, 0, 1});
  const double feathered = jump_at_core_boundaries(vae, z, {16, 4, 1});
  std::printf("error jump at core boundaries: abutting tiles %.4f, feathered %.4f\n", hard, feathered);
  EXPECT_LT(feathered, 0.25 * hard);
}

TEST(TiledDecode, OneTileCoveringTheImageIsTheFullDecode) {
  auto vae = tiny_vae();
  const auto z = test_latents(24, 24);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(tiled_decode(*vae, z, {24, 4}), vae->decode(z), 1e-5, 1e-6));
}

TEST(TiledDecode, HoldsLessMemoryThanTheFullDecode) {
  auto vae = tiny_vae();
  const auto z = test_latents(48, 48);
  torch::NoGradGuard no_grad;
  // The mid block's attention (latent resolution, the same in both) is bounded apart by slicing;
  // keep it small so the measurement is of the upsampling path.
  const auto saved = attention_settings();
  attention_settings().use_fused = false;
  attention_settings().slice_bytes = 1 << 20;
  std::int64_t full_peak = 0, tiled_peak = 0;
  {
    test::AllocationPeak peak;
    vae->decode(z);
    full_peak = peak.peak_bytes();
  }
  {
    test::AllocationPeak peak;
    tiled_decode(*vae, z, {16, 4});
    tiled_peak = peak.peak_bytes();
  }
  attention_settings() = saved;
  std::printf("CPU allocator peak: full decode %.1f MiB, tiled %.1f MiB\n", full_peak / 1048576.0,
              tiled_peak / 1048576.0);
  // The full decode's widest moment: a resnet at 192 x 192 px with 64 channels coming in (9 MiB
  // per fp32 tensor). A tile's is the same at (16 + 2 x 4)^2 latent pixels: a quarter or less.
  EXPECT_GT(full_peak, 4 * (64ll * 192 * 192 * 4));
  EXPECT_LT(tiled_peak, full_peak / 3);
}

TEST(TiledDecode, EstimatesTheFullDecodesPeakAndRefusesBadTiles) {
  // SDXL 1024 px in fp32: [1, 256, 1024, 1024] x 4 tensors = 4 GiB; the CPU never tiles by itself.
  const auto sdxl = VAEConfig::sdxl();
  EXPECT_EQ(full_decode_peak_bytes(sdxl, {1, 4, 128, 128}, torch::kFloat32), 4ll << 30);
  EXPECT_EQ(full_decode_peak_bytes(sdxl, {1, 4, 128, 128}, torch::kBFloat16), 2ll << 30);
  EXPECT_FALSE(full_decode_memory_short(sdxl, torch::zeros({1, 4, 128, 128}), torch::kFloat32));
  auto vae = tiny_vae();
  EXPECT_THROW(tiled_decode(*vae, torch::zeros({1, 4, 16, 16}), {8, 4}), Error);
  EXPECT_THROW(tiled_decode(*vae, torch::zeros({1, 4, 16, 16}), {0, 0}), Error);
}

}  // namespace
}  // namespace lathe
