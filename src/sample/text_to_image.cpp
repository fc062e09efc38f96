// Text to image (see text_to_image.h): the diffusers StableDiffusion(XL)Pipeline loop on Lathe's
// modules. Prompt and negative are encoded as one batch of two, uncond first, and the UNet runs
// on both at once (diffusers' classifier-free guidance); one CPU generator seeded with the
// request's seed draws the initial latents and then every step's noise, as diffusers does with
// `generator=torch.Generator().manual_seed(seed)`, so an image is reproducible from its
// parameters on any device.
#include "sample/text_to_image.h"

#include <fmt/format.h>

#include <torch/torch.h>

#include <vector>

#include "common/error.h"
#include "common/interrupted.h"
#include "diffusion/noise.h"
#include "sample/tiled_decode.h"
#include "train/model/base_model.h"
#include "train/model/compute_device.h"
#include "train/model/precision.h"
#include "train/model/text_conditioning.h"

namespace lathe {
namespace {

// The VAE's spatial factor (8 for every released VAE: 2^(levels-1)).
int64_t vae_factor(const VAEConfig& c) { return int64_t{1} << (c.block_out_channels.size() - 1); }

// Puts every module of the base model in eval mode with grad off while it lives, and restores
// each submodule's own train flag afterwards (a training run's modules go back exactly as they
// were, whatever mix of modes they had).
class InferenceModeScope {
 public:
  explicit InferenceModeScope(BaseModel& model) {
    remember(*model.unet);
    for (auto& te : model.text_encoders) remember(*te);
    remember(*model.vae);
    for (auto& [module, training] : modes_) module->eval();
  }
  ~InferenceModeScope() {
    for (auto& [module, training] : modes_) module->train(training);
  }
  InferenceModeScope(const InferenceModeScope&) = delete;
  InferenceModeScope& operator=(const InferenceModeScope&) = delete;

 private:
  // train(bool) recurses, so each module is restored on its own (children after parents).
  void remember(torch::nn::Module& root) {
    for (const auto& m : root.modules(/*include_self=*/true)) modes_.emplace_back(m, m->is_training());
  }
  std::vector<std::pair<std::shared_ptr<torch::nn::Module>, bool>> modes_;
  torch::NoGradGuard no_grad_;
};

// Per-step noise of Euler a / DDPM from the generator that drew the initial latents.
class GeneratorStepNoise : public StepNoise {
 public:
  explicit GeneratorStepNoise(torch::Generator generator) : generator_(std::move(generator)) {}
  torch::Tensor next(const torch::Tensor& like) override { return randn_from(like.sizes(), generator_, like); }

 private:
  torch::Generator generator_;
};

MixedPrecision autocast_mode(torch::Dtype dtype) {
  if (dtype == torch::kBFloat16) return MixedPrecision::BF16;
  if (dtype == torch::kFloat16) return MixedPrecision::FP16;
  return MixedPrecision::No;
}

void check_request(const BaseModel& model, const ImageRequest& r) {
  const int64_t multiple =
      vae_factor(model.vae->config()) * (int64_t{1} << (model.unet->config().block_out_channels.size() - 1));
  if (r.width <= 0 || r.height <= 0 || r.width % multiple != 0 || r.height % multiple != 0)
    throw Error(fmt::format("image size {}x{}: width and height must be positive multiples of {} for this model "
                            "(e.g. 512x512, 512x768, 1024x1024)",
                            r.width, r.height, multiple));
  if (r.steps < 1 || r.steps > 1000) throw Error(fmt::format("steps {}: must be between 1 and 1000", r.steps));
  if (!(r.cfg >= 0.0 && r.cfg <= 100.0)) throw Error(fmt::format("CFG scale {}: must be between 0 and 100", r.cfg));
  if (r.clip_skip < 1) throw Error(fmt::format("clip skip {}: must be 1 or more", r.clip_skip));
}

// What the UNet is conditioned on for one image: [negative, prompt] with guidance, else [prompt].
struct GuidedConditioning {
  torch::Tensor context;  // [B, 77, D]
  torch::Tensor y;        // SDXL added vector [B, adm]; else undefined
  bool guided = false;    // B == 2, uncond first
};

GuidedConditioning conditioning_for(BaseModel& model, const ImageRequest& r, torch::Device device) {
  GuidedConditioning g;
  // diffusers skips the unconditional pass when guidance_scale <= 1.
  g.guided = r.cfg > 1.0;
  std::vector<std::string> captions = g.guided ? std::vector<std::string>{r.negative, r.prompt}
                                               : std::vector<std::string>{r.prompt};
  Conditioning cond = encode_captions(model, captions, r.clip_skip, device);
  g.context = cond.context;
  // SDXL time ids of a generated image: original = target = the image size, no crop.
  SizeConditioning size{double(r.height), double(r.width), 0, 0, double(r.height), double(r.width)};
  g.y = added_vector(model, cond, std::vector<SizeConditioning>(captions.size(), size), device);
  return g;
}

// [1, C, h, w] float32 standard normal on the CPU from `generator` (torch.randn's stream).
torch::Tensor draw_initial_noise(torch::Generator& generator, int64_t channels, int64_t h, int64_t w) {
  return randn_from({1, channels, h, w}, generator, torch::empty({0}, torch::kFloat32));
}

}  // namespace

torch::Tensor initial_noise(std::uint64_t seed, int64_t channels, int64_t height, int64_t width) {
  torch::Generator generator = seeded_generator(seed);
  return draw_initial_noise(generator, channels, height / 8, width / 8);
}

torch::Tensor render_latents(BaseModel& model, const ImageRequest& request, const RenderOptions& options) {
  check_request(model, request);
  InferenceModeScope inference(model);
  const torch::Device device = options.device;
  GuidedConditioning cond = [&] {
    MixedPrecisionScope autocast(autocast_mode(options.dtype), device);
    return conditioning_for(model, request, device);
  }();

  SamplerConfig config;
  config.kind = request.sampler;
  config.steps = request.steps;
  config.prediction = model.prediction;
  const NoiseSchedule schedule(NoiseScheduleConfig{}, device);

  // One generator for the initial latents and then the step noise (diffusers' order).
  const int64_t factor = vae_factor(model.vae->config());
  torch::Generator generator = seeded_generator(request.seed);
  torch::Tensor noise = draw_initial_noise(generator, model.vae->config().latent_channels, request.height / factor,
                                           request.width / factor)
                            .to(device);
  GeneratorStepNoise step_noise(generator);

  const int64_t batch = cond.guided ? 2 : 1;
  Denoiser denoiser = [&](const torch::Tensor& x_in, const torch::Tensor& timestep) {
    MixedPrecisionScope autocast(autocast_mode(options.dtype), device);
    torch::Tensor x = x_in.expand({batch, -1, -1, -1});
    torch::Tensor t = timestep.reshape({-1}).expand({batch}).to(device);
    torch::Tensor out = model.unet->forward(x, t, cond.context, cond.y).to(torch::kFloat32);
    if (!cond.guided) return out;
    auto halves = out.chunk(2);
    return guide(halves[0], halves[1], request.cfg);
  };

  bool stopped = false;
  StepCallback on_step = [&](int64_t step, int64_t steps, const torch::Tensor& latents) {
    if (options.on_step && !options.on_step(step, steps, latents)) stopped = true;
    return !stopped;
  };
  torch::Tensor latents = sample(schedule, config, noise, denoiser, step_noise, on_step);
  if (stopped) throw Interrupted("sampling stopped before the last step");
  return latents;
}

torch::Tensor decode_image(BaseModel& model, const torch::Tensor& latents, const RenderOptions& options) {
  InferenceModeScope inference(model);
  torch::Tensor z = latents.to(options.device, torch::kFloat32) / model.vae->config().scaling_factor;
  // The VAE decodes in its weights' dtype (VAEImpl::decode casts), without autocast: the SDXL VAE
  // overflows in fp16 activations, and decode is a small share of the time.
  // Tiled when asked (RenderOptions::tiled_decode) or when a CUDA card's free memory is short.
  torch::Tensor pixels = decode_latents(*model.vae, z, options.tiled_decode).to(torch::kFloat32);  // [1, 3, H, W] in [-1, 1]
  // diffusers: (x / 2 + 0.5).clamp(0, 1), then (x * 255).round() to uint8.
  torch::Tensor image = (pixels[0] / 2 + 0.5).clamp(0, 1).mul(255).round().to(torch::kUInt8);
  return image.permute({1, 2, 0}).contiguous().to(torch::kCPU);
}

}  // namespace lathe
