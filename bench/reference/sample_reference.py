#!/usr/bin/env python3
"""Text-to-image sampling with diffusers' pipeline loop, timed: the reference side of Lathe's
bench/sample_bench.cpp (CPU) and bench/gpu/sample_gpu.cpp (GPU).

What StableDiffusionPipeline.__call__ does once the prompt is encoded, on a UNet2DConditionModel
and an AutoencoderKL built from their configs with random weights (no download, no hub), under
torch.no_grad(): initial latents scaled by init_noise_sigma; for each of --steps timesteps the
latents doubled (negative, positive), scale_model_input, one UNet call with a [2, 77, 768]
random context (the encoded prompt pair), classifier-free guidance uncond + cfg * (cond -
uncond), scheduler.step; then vae.decode(latents / scaling_factor) and the pipeline's
postprocess to [0, 1]. The scheduler is EulerDiscreteScheduler with SD 1.5's configuration
(scaled-linear betas 0.00085..0.012, 1000 steps, "leading" spacing, steps offset 1), the same
sampler the Lathe side runs. The text encoder is left out on both sides (one call per image,
~1% of the time).

A warm-up (one UNet call and one decode) comes first; then --images images are timed whole.
Progress goes to stderr; the last line of stdout is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

import diffusers  # noqa: E402
from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from diffusers_lora_step import SD15, SD15_TINY, read_status_kib, reset_peak_rss  # noqa: E402

# runwayml/stable-diffusion-v1-5 vae/config.json (diffusers' AutoencoderKL defaults otherwise).
VAE_SD = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    block_out_channels=(128, 256, 512, 512),
    layers_per_block=2,
    latent_channels=4,
    norm_num_groups=32,
    sample_size=512,
    scaling_factor=0.18215,
)
VAE_TINY = dict(VAE_SD, down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=8)
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def log(msg: str) -> None:
    print(f"[sample_reference] {msg}", file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--resolution", type=int, default=None, help="pixels (latents are /8); default 512, --tiny: 64")
    ap.add_argument("--steps", type=int, default=20, help="sampler steps per image")
    ap.add_argument("--cfg", type=float, default=7.0, help="guidance scale (> 1: two UNet rows per step)")
    ap.add_argument("--images", type=int, default=1, help="timed images")
    ap.add_argument("--dtype", choices=list(DTYPES), default="fp32", help="UNet and VAE weights and compute")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--tiny", action="store_true", help="tiny UNet and VAE of the same topology (CI dry run)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = ap.parse_args()
    if args.resolution is None:
        args.resolution = 64 if args.tiny else 512
    if args.resolution % 8 or args.steps < 1 or args.images < 1:
        ap.error("--resolution must be a multiple of 8, --steps and --images >= 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        log("--device cuda, but torch sees no CUDA device")
        return 1
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    log(f"torch {torch.__version__}, diffusers {diffusers.__version__}, {torch.get_num_threads()} threads, {device}")

    torch.manual_seed(0)
    unet_config, vae_config = (SD15_TINY, VAE_TINY) if args.tiny else (SD15, VAE_SD)
    unet = UNet2DConditionModel(**unet_config).to(device, dtype).eval()
    vae = AutoencoderKL(**vae_config).to(device, dtype).eval()
    scheduler = EulerDiscreteScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                                       beta_schedule="scaled_linear", timestep_spacing="leading", steps_offset=1)
    g = torch.Generator().manual_seed(1)
    h = args.resolution // 8
    # The encoded prompt pair as the pipeline concatenates it: negative first.
    prompt_embeds = torch.randn(2, 77, unet_config["cross_attention_dim"], generator=g).to(device, dtype)
    do_cfg = args.cfg > 1.0
    if not do_cfg:
        prompt_embeds = prompt_embeds[1:]

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def unet_call(latents: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x = torch.cat([latents] * 2) if do_cfg else latents
        x = scheduler.scale_model_input(x, t)
        noise_pred = unet(x, t, encoder_hidden_states=prompt_embeds, return_dict=False)[0]
        if do_cfg:
            uncond, cond = noise_pred.chunk(2)
            noise_pred = uncond + args.cfg * (cond - uncond)
        return noise_pred

    def decode(latents: torch.Tensor) -> torch.Tensor:
        image = vae.decode(latents / vae.config.scaling_factor, return_dict=False)[0]
        return (image / 2 + 0.5).clamp(0, 1)  # VaeImageProcessor.postprocess's denormalize

    @torch.no_grad()
    def render(seed: int) -> tuple[float, float]:
        gen = torch.Generator().manual_seed(seed)
        scheduler.set_timesteps(args.steps, device=device)
        latents = torch.randn(1, 4, h, h, generator=gen).to(device, dtype) * scheduler.init_noise_sigma
        sync()
        t0 = time.perf_counter()
        for t in scheduler.timesteps:
            latents = scheduler.step(unet_call(latents, t), t, latents, return_dict=False)[0]
        sync()
        t1 = time.perf_counter()
        decode(latents).cpu()
        sync()
        return t1 - t0, time.perf_counter() - t1

    with torch.no_grad():  # warm-up: oneDNN primitives, allocator pools, cuDNN plans
        scheduler.set_timesteps(args.steps, device=device)
        t0 = time.perf_counter()
        warm = torch.randn(1, 4, h, h, generator=g).to(device, dtype)
        unet_call(warm, scheduler.timesteps[0])
        decode(warm).cpu()
        sync()
        log(f"warm-up (one UNet call, one decode): {time.perf_counter() - t0:.2f} s")

    rss_reset = reset_peak_rss()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    totals, loops, decodes = [], [], []
    for i in range(args.images):
        loop_s, decode_s = render(100 + i)
        loops.append(loop_s)
        decodes.append(decode_s)
        totals.append(loop_s + decode_s)
        log(f"image {i + 1}/{args.images}: {totals[-1]:.2f} s ({args.steps} steps {loop_s:.2f} s, "
            f"{args.steps / loop_s:.3f} it/s; decode {decode_s:.2f} s)")
    hwm = read_status_kib("VmHWM")
    result = {
        "impl": "diffusers",
        "tiny": args.tiny,
        "resolution": args.resolution,
        "steps": args.steps,
        "cfg": args.cfg,
        "dtype": args.dtype,
        "device": args.device,
        "threads": torch.get_num_threads(),
        "images": args.images,
        "s_per_image": statistics.median(totals),
        "min_s": min(totals),
        "max_s": max(totals),
        "loop_s": statistics.median(loops),
        "decode_s": statistics.median(decodes),
        "it_per_s": args.steps / statistics.median(loops),
        "peak_rss_mib": hwm / 1024 if hwm is not None else None,
        "peak_rss_reset": rss_reset,
        "peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None,
        "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
