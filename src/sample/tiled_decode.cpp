// Tiled VAE decode (see the header).
//
// Geometry: the latents are split per axis into cores that partition the latent grid; a tile
// decodes its core plus `overlap` latent pixels on each side that has a neighbour. Across a
// shared core boundary c both tiles cover [c - overlap, c + overlap), and their weights there are
// complementary linear ramps (summing to one), so a seam is a cross-fade over 2 x overlap latent
// pixels instead of a cut, and the pixels nearest a tile's edge (where its convolutions saw zero
// padding instead of the neighbour) weigh least.
//
// Statistics: every GroupNorm of the upsampling path normalises over the whole image in a full
// decode. A tile normalising over itself shifts its colours and contrast towards its own mean
// (visible as a patchwork when the image has large areas of different colour). So the tiles are
// decoded `statistics_passes` times first, only to measure each GroupNorm's input over the
// tiles' cores (which partition the image, so together they are the whole image), and the
// final pass normalises every tile with those shared statistics. The first measuring pass sees
// inputs produced under per-tile normalisation, so only the first GroupNorm's statistics are
// exact; a further pass measures inputs produced under the previous pass's statistics, which
// is not guaranteed to get closer (it did not on every layout in the tests).
#include "sample/tiled_decode.h"

#include <c10/core/CachingDeviceAllocator.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <vector>

#include "common/error.h"
#include "models/vae.h"

namespace lathe {

namespace {

namespace F = torch::nn::functional;

// One tile along one axis, in latent pixels: its core [core_begin, core_end) and the region it
// decodes [begin, end) (the core plus the halo on sides that have a neighbour).
struct AxisTile {
  std::int64_t core_begin, core_end, begin, end;
};

std::vector<AxisTile> split_axis(std::int64_t length, std::int64_t tile, std::int64_t overlap) {
  const std::int64_t count = (length + tile - 1) / tile;
  std::vector<AxisTile> tiles;
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t core_begin = i * length / count, core_end = (i + 1) * length / count;
    tiles.push_back({core_begin, core_end, std::max<std::int64_t>(0, core_begin - overlap),
                     std::min(length, core_end + overlap)});
  }
  return tiles;
}

// The tile's weight at each output pixel of its region ((end - begin) * factor values): 1 inside,
// ramping linearly to near 0 across each shared band [c - overlap, c + overlap) * factor. The
// neighbour's ramp over the same band is one minus this one (pixel centres at x + 0.5).
torch::Tensor axis_weights(const AxisTile& t, std::int64_t length, std::int64_t overlap, std::int64_t factor) {
  const auto n = (t.end - t.begin) * factor;
  auto x = torch::arange(n, torch::kFloat64) + 0.5;  // pixel centres, relative to the region start
  auto w = torch::ones({n}, torch::kFloat64);
  const double band = static_cast<double>(2 * overlap * factor);
  if (t.core_begin > 0) w = torch::minimum(w, x / band);                                // rises over the first band
  if (t.core_end < length) w = torch::minimum(w, (static_cast<double>(n) - x) / band);  // falls over the last band
  return w.to(torch::kFloat32);
}

// Per-(sample, group) statistics of one GroupNorm's input over the whole image, merged from the
// tiles' cores (Chan et al.'s pairwise update of count, mean and sum of squared deviations).
struct GroupStats {
  double count = 0;
  torch::Tensor mean, m2;  // [B, G] float64 on the CPU

  void merge(const torch::Tensor& var, const torch::Tensor& mu, double n) {
    auto v = var.to(torch::kCPU, torch::kFloat64), m = mu.to(torch::kCPU, torch::kFloat64);
    if (count == 0) {
      mean = m;
      m2 = v * n;
    } else {
      const auto delta = m - mean;
      const double total = count + n;
      mean = mean + delta * (n / total);
      m2 = m2 + v * n + delta * delta * (count * n / total);
    }
    count += n;
  }
  torch::Tensor variance() const { return m2 / count; }
};

// The GroupNorms of one tile's decode, in the order the upsampling path runs them: each either
// normalises over the tile (no shared statistics yet) or with the shared statistics, and each
// can add its input's statistics over the tile's core to `measured`.
class TileNorms {
 public:
  TileNorms(const AxisTile& row, const AxisTile& col, const std::vector<GroupStats>* shared,
            std::vector<GroupStats>* measured)
      : row_(row), col_(col), shared_(shared), measured_(measured) {}

  torch::Tensor operator()(torch::nn::GroupNormImpl& norm, const torch::Tensor& x) {
    const auto index = next_++;
    const auto groups = norm.options.num_groups();
    if (measured_) measure(index, groups, x);
    if (!shared_) return norm.forward(x);
    return normalize(norm, x, (*shared_)[index]);
  }

 private:
  void measure(std::size_t index, std::int64_t groups, const torch::Tensor& x) {
    // The core inside this tile at x's resolution (the scale grows with each upsampling).
    const auto scale = x.size(2) / (row_.end - row_.begin);
    const auto b = x.size(0), c = x.size(1);
    auto core = x.view({b, groups, c / groups, x.size(2), x.size(3)})
                    .slice(3, (row_.core_begin - row_.begin) * scale, (row_.core_end - row_.begin) * scale)
                    .slice(4, (col_.core_begin - col_.begin) * scale, (col_.core_end - col_.begin) * scale);
    auto [var, mean] = torch::var_mean(core.to(torch::kFloat32), {2, 3, 4}, /*correction=*/0, /*keepdim=*/false);
    if (measured_->size() <= index) measured_->resize(index + 1);
    (*measured_)[index].merge(var, mean, static_cast<double>(core.numel() / (b * groups)));
  }

  // GroupNorm with given statistics, as one per-channel scale and shift: x * a + s.
  static torch::Tensor normalize(torch::nn::GroupNormImpl& norm, const torch::Tensor& x, const GroupStats& stats) {
    const auto b = x.size(0), c = x.size(1), groups = norm.options.num_groups();
    const auto rstd = (stats.variance() + norm.options.eps()).rsqrt().to(x.device(), torch::kFloat32);  // [B, G]
    const auto mean = stats.mean.to(x.device(), torch::kFloat32);
    const auto per_channel = [&](const torch::Tensor& g) { return g.repeat_interleave(c / groups, 1); };  // [B, C]
    const auto a = per_channel(rstd) * norm.weight.to(torch::kFloat32).unsqueeze(0);
    const auto s = norm.bias.to(torch::kFloat32).unsqueeze(0) - per_channel(mean) * a;
    return torch::addcmul(s.to(x.scalar_type()).view({b, c, 1, 1}), x, a.to(x.scalar_type()).view({b, c, 1, 1}));
  }

  AxisTile row_, col_;
  const std::vector<GroupStats>* shared_;
  std::vector<GroupStats>* measured_;
  std::size_t next_ = 0;
};

// Mirrors VAEResnetImpl::forward with the tile's norms.
torch::Tensor resnet_forward(VAEResnetImpl& r, const torch::Tensor& x, TileNorms& norms) {
  auto h = r.conv1->forward(torch::silu(norms(*r.norm1, x)));
  h = r.conv2->forward(torch::silu(norms(*r.norm2, h)));
  return (r.nin_shortcut ? r.nin_shortcut->forward(x) : x) + h;
}

// The decoder from the mid block's output to pixels, as VAEDecoderImpl::forward runs it after
// the mid block (up levels last to first, each upsampling but the first; then the output head).
torch::Tensor upsampling_path(VAEDecoderImpl& decoder, torch::Tensor h, TileNorms& norms) {
  for (auto i = static_cast<std::int64_t>(decoder.up->size()) - 1; i >= 0; --i) {
    auto& level = *decoder.up[i]->as<VAELevelImpl>();
    for (const auto& block : *level.block) h = resnet_forward(*block->as<VAEResnetImpl>(), h, norms);
    if (level.resample == VAELevelImpl::Resample::Up)
      h = level.resample_conv->forward(
          F::interpolate(h, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest)));
  }
  return decoder.conv_out->forward(torch::silu(norms(*decoder.norm_out, h)));
}

std::int64_t element_bytes(torch::ScalarType dtype) { return static_cast<std::int64_t>(c10::elementSize(dtype)); }

}  // namespace

torch::Tensor tiled_decode(VAEImpl& vae, const torch::Tensor& latents, const TileOptions& tiles) {
  if (tiles.tile < 1 || tiles.overlap < 0 || tiles.tile < 4 * tiles.overlap || tiles.statistics_passes < 0)
    throw Error(fmt::format("tiled VAE decode: tile {} and overlap {} (latent pixels) need tile >= 1 and "
                            "tile >= 4 x overlap, so every seam's cross-fade band fits inside both tiles; "
                            "statistics passes {} must be >= 0",
                            tiles.tile, tiles.overlap, tiles.statistics_passes));
  torch::NoGradGuard no_grad;
  auto& decoder = *vae.decoder;
  // Latent resolution, whole image: small here, and the mid attention needs every position.
  const auto mid = decoder.mid->forward(
      decoder.conv_in->forward(vae.post_quant_conv->forward(latents.to(vae.post_quant_conv->weight.scalar_type()))));
  const std::int64_t factor = std::int64_t{1} << (static_cast<std::int64_t>(decoder.up->size()) - 1);
  const auto height = latents.size(2), width = latents.size(3);
  const auto rows = split_axis(height, tiles.tile, tiles.overlap), cols = split_axis(width, tiles.tile, tiles.overlap);
  auto region = [&](const AxisTile& row, const AxisTile& col) {
    return mid.slice(2, row.begin, row.end).slice(3, col.begin, col.end);
  };

  // Measuring passes (see the top of the file); a single tile needs none.
  std::vector<GroupStats> shared;
  const bool one_tile = rows.size() == 1 && cols.size() == 1;
  for (int pass = 0; pass < tiles.statistics_passes && !one_tile; ++pass) {
    std::vector<GroupStats> measured;
    for (const auto& row : rows)
      for (const auto& col : cols) {
        TileNorms norms(row, col, pass == 0 ? nullptr : &shared, &measured);
        upsampling_path(decoder, region(row, col), norms);
      }
    shared = std::move(measured);
  }

  const auto device = latents.device();
  auto image = torch::zeros({latents.size(0), decoder.conv_out->options.out_channels(), height * factor, width * factor},
                            torch::TensorOptions().dtype(torch::kFloat32).device(device));
  for (const auto& row : rows) {
    const auto wy = axis_weights(row, height, tiles.overlap, factor).to(device).view({-1, 1});
    for (const auto& col : cols) {
      const auto wx = axis_weights(col, width, tiles.overlap, factor).to(device).view({1, -1});
      TileNorms norms(row, col, shared.empty() ? nullptr : &shared, nullptr);
      auto pixels = upsampling_path(decoder, region(row, col), norms).to(torch::kFloat32);  // [B, 3, rh*f, rw*f]
      image.slice(2, row.begin * factor, row.end * factor)
          .slice(3, col.begin * factor, col.end * factor)
          .add_(pixels * (wy * wx));
    }
  }
  return image.to(latents.scalar_type());
}

std::int64_t full_decode_peak_bytes(const VAEConfig& config, torch::IntArrayRef latent_shape, torch::ScalarType dtype) {
  const auto& chs = config.block_out_channels;
  const auto levels = static_cast<std::int64_t>(chs.size());
  const std::int64_t batch = latent_shape[0];
  const std::int64_t pixels = latent_shape[2] * latent_shape[3] << (2 * (levels - 1));  // output pixels
  std::int64_t widest = 0;
  for (std::int64_t i = 0; i < levels; ++i) {
    // Level i runs at 1/2^i of the output size; its input is the level above, upsampled.
    const auto channels = std::max(chs[i], i + 1 < levels ? chs[i + 1] : chs[i]);
    widest = std::max(widest, channels * (pixels >> (2 * i)));
  }
  // A resnet holds its input, the norm and SiLU outputs and the conv output at once.
  return 4 * batch * widest * element_bytes(dtype);
}

bool full_decode_memory_short(const VAEConfig& config, const torch::Tensor& latents, torch::ScalarType dtype) {
  const auto device = latents.device();
  if (!device.is_cuda()) return false;
  const auto index = device.has_index() ? device.index() : c10::DeviceIndex{0};
  auto* allocator = c10::getDeviceAllocator(c10::DeviceType::CUDA);
  const auto driver_free = allocator->getMemoryInfo(index).first;
  const auto stats = allocator->getDeviceStats(index);
  const auto aggregate = static_cast<std::size_t>(c10::CachingAllocator::StatType::AGGREGATE);
  const auto cached_unused = stats.reserved_bytes[aggregate].current - stats.allocated_bytes[aggregate].current;
  const double free = static_cast<double>(driver_free) + static_cast<double>(std::max<std::int64_t>(0, cached_unused));
  return 1.5 * static_cast<double>(full_decode_peak_bytes(config, latents.sizes(), dtype)) > free;
}

torch::Tensor decode_latents(VAEImpl& vae, const torch::Tensor& latents, bool force_tiles) {
  const auto dtype = vae.post_quant_conv->weight.scalar_type();
  if (force_tiles || full_decode_memory_short(vae.config(), latents, dtype)) return tiled_decode(vae, latents);
  torch::NoGradGuard no_grad;
  return vae.decode(latents);
}

}  // namespace lathe
