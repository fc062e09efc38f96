// VAE decode in overlapping tiles, so the memory a decode needs is bounded by the tile size and
// not by the image size (a full 1024x1024 SDXL decode holds [1, 256, 1024, 1024] activations and
// their temporaries: gigabytes in fp32). The latent-resolution part of the decoder (post-quant
// conv, conv_in and the mid block with its single-head attention over every position) runs on
// the whole latent, because it is small there and its attention is global; only the upsampling
// path, where the memory is, runs per tile. Each tile is decoded with a halo of `overlap` latent
// pixels on every side that has a neighbour, and neighbouring tiles are cross-faded with linear
// ramps across the whole 2 x overlap band they share (feathered seams). Each GroupNorm of the
// upsampling path normalises every tile with statistics measured over the whole image in a first
// pass over the tiles (a tile normalised over itself alone drifts towards its own mean colour: a
// patchwork, as diffusers' AutoencoderKL.enable_tiling and ComfyUI's VAEDecodeTiled give).
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace lathe {

struct VAEConfig;
struct VAEImpl;

struct TileOptions {
  std::int64_t tile = 64;     // core tile size in latent pixels (64: 512 px tiles)
  std::int64_t overlap = 16;  // halo on each shared side, latent pixels (cross-faded over 2x this)
  // Passes over the tiles that only measure the GroupNorms' whole-image statistics before the
  // pass that decodes with them (0: each tile normalises over itself). Each costs one more
  // upsampling path. A second pass is not reliably better: on the tests' random-weight VAE it
  // helped on one tile layout and doubled the error on another.
  int statistics_passes = 1;
};

// [B, latent, h, w] unscaled latents -> [B, 3, h*f, w*f] in the latents' dtype, as VAEImpl::decode
// (no autograd). Throws lathe::Error when tile < 4 * overlap, tile < 1 or passes < 0.
torch::Tensor tiled_decode(VAEImpl& vae, const torch::Tensor& latents, const TileOptions& tiles = {});

// Estimated peak bytes a full (untiled) decode allocates for [B, C, h, w] latents in `dtype`
// (the decoder's activations at their widest, not its weights).
std::int64_t full_decode_peak_bytes(const VAEConfig& config, torch::IntArrayRef latent_shape, torch::ScalarType dtype);

// The "auto" rule: true on a CUDA device whose free memory (the driver's free memory plus what
// libtorch's cache holds unused) is below 1.5x full_decode_peak_bytes. Never on the CPU.
bool full_decode_memory_short(const VAEConfig& config, const torch::Tensor& latents, torch::ScalarType dtype);

// The decode every rendered image goes through: tiled when `force_tiles`, or when the full
// decode would not fit (full_decode_memory_short); otherwise VAEImpl::decode.
torch::Tensor decode_latents(VAEImpl& vae, const torch::Tensor& latents, bool force_tiles);

}  // namespace lathe
