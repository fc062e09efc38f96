#!/usr/bin/env python3
"""One LoRA training step of a Stable Diffusion UNet with diffusers + PEFT, timed.

The reference side of Lathe's bench/train_step_bench.cpp: the step as a user of diffusers and
PEFT writes it (the shape of diffusers' examples/text_to_image/train_text_to_image_lora.py),
on a UNet2DConditionModel built from its config with random weights (no download, no hub).

  frozen base weights stored in --dtype; LoRA r=16, alpha=8 (PEFT, gaussian init) on kohya's
  default UNet targets (every Linear / 1x1 conv inside the Transformer2DModel blocks), LoRA
  parameters in fp32; AdamW(lr=1e-4) over the LoRA parameters only; forward under autocast
  when --dtype is not fp32 (accelerate's mixed precision), MSE against the noise in fp32,
  backward, optimizer step, zero_grad(set_to_none=True).

Progress goes to stderr; the last line of stdout is one JSON object (see README.md).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

# Offline by construction: nothing here loads from a hub, and this keeps it that way.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

import diffusers  # noqa: E402
import peft  # noqa: E402
from diffusers import DDPMScheduler, UNet2DConditionModel  # noqa: E402
from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0  # noqa: E402
from diffusers.models.transformers.transformer_2d import Transformer2DModel  # noqa: E402
from peft import LoraConfig  # noqa: E402

# UNet configs (diffusers' names). SD 1.5 = runwayml/stable-diffusion-v1-5 unet/config.json,
# SDXL = stabilityai/stable-diffusion-xl-base-1.0 unet/config.json; keys left out take
# UNet2DConditionModel's defaults, which are those checkpoints' values.
SD15 = dict(
    sample_size=64,
    in_channels=4,
    out_channels=4,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    mid_block_type="UNetMidBlock2DCrossAttn",
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(320, 640, 1280, 1280),
    layers_per_block=2,
    norm_num_groups=32,
    cross_attention_dim=768,
    attention_head_dim=8,
    use_linear_projection=False,
)
SDXL = dict(
    sample_size=128,
    in_channels=4,
    out_channels=4,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    mid_block_type="UNetMidBlock2DCrossAttn",
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    block_out_channels=(320, 640, 1280),
    layers_per_block=2,
    norm_num_groups=32,
    transformer_layers_per_block=(1, 2, 10),
    attention_head_dim=(5, 10, 20),
    cross_attention_dim=2048,
    use_linear_projection=True,
    addition_embed_type="text_time",
    addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816,  # 1280 pooled text + 6 time ids x 256
)
# Tiny configs of the same topologies (a down block with attention, one without, the
# cross-attention mid block; SDXL: linear projections, text_time added conditioning), for a
# dry run in seconds on a CPU.
SD15_TINY = dict(
    SD15,
    sample_size=8,
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(32, 64),
    layers_per_block=1,
    cross_attention_dim=32,
    attention_head_dim=8,
)
SDXL_TINY = dict(
    SDXL,
    sample_size=8,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
    block_out_channels=(32, 64),
    layers_per_block=1,
    transformer_layers_per_block=(1, 2),
    attention_head_dim=(2, 4),
    cross_attention_dim=64,
    addition_time_embed_dim=8,
    projection_class_embeddings_input_dim=32 + 6 * 8,
)
CONFIGS = {("sd15", False): SD15, ("sdxl", False): SDXL, ("sd15", True): SD15_TINY, ("sdxl", True): SDXL_TINY}

# kohya's default UNet LoRA (networks/lora.py, no conv_dim): every Linear and 1x1 Conv2d inside
# a Transformer2DModel. In diffusers' module names those are the projections below; PEFT
# matches each entry as a suffix of a module's dotted name.
TARGET_MODULES = [
    "attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out.0",
    "attn2.to_q", "attn2.to_k", "attn2.to_v", "attn2.to_out.0",
    "ff.net.0.proj", "ff.net.2",
    "proj_in", "proj_out",
]
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
CONTEXT_TOKENS = 77


def log(msg: str) -> None:
    print(f"[diffusers_lora_step] {msg}", file=sys.stderr, flush=True)


def read_status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Resets VmHWM to the current RSS (clear_refs "5"); True when it evidently worked."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    hwm, rss = read_status_kib("VmHWM"), read_status_kib("VmRSS")
    return hwm is not None and rss is not None and hwm <= rss + 16 * 1024


def kohya_expected(unet: torch.nn.Module) -> set[str]:
    """The module names kohya's rule picks: Linear / 1x1 Conv2d children of Transformer2DModel."""
    names = set()
    for tname, t in unet.named_modules():
        if not isinstance(t, Transformer2DModel):
            continue
        for cname, c in t.named_modules():
            if isinstance(c, torch.nn.Linear) or (isinstance(c, torch.nn.Conv2d) and c.kernel_size == (1, 1)):
                names.add(f"{tname}.{cname}")
    return names


def lora_wrapped(unet: torch.nn.Module) -> set[str]:
    from peft.tuners.lora import LoraLayer

    return {name for name, m in unet.named_modules() if isinstance(m, LoraLayer)}


def build(args, device: torch.device, weight_dtype: torch.dtype):
    config = CONFIGS[(args.model, args.tiny)]
    torch.manual_seed(0)
    t0 = time.perf_counter()
    unet = UNet2DConditionModel(**config)  # random init, fp32, like from_config
    unet.requires_grad_(False)
    if args.attention == "sdpa":
        unet.set_attn_processor(AttnProcessor2_0())
    else:  # "classic": diffusers' baddbmm + softmax + bmm attention
        unet.set_attn_processor(AttnProcessor())
    # As train_text_to_image_lora.py: frozen weights in weight_dtype, then the adapter, then the
    # trainable (LoRA) parameters upcast to fp32 (cast_training_params).
    unet.to(device, dtype=weight_dtype)
    expected = kohya_expected(unet)
    unet.add_adapter(
        LoraConfig(r=args.rank, lora_alpha=args.alpha, init_lora_weights="gaussian", target_modules=TARGET_MODULES)
    )
    for p in unet.parameters():
        if p.requires_grad:
            p.data = p.to(torch.float32)
    if args.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    unet.train()
    log(f"built {args.model}{' (tiny)' if args.tiny else ''} UNet in {time.perf_counter() - t0:.1f} s")

    wrapped = lora_wrapped(unet)
    if wrapped != expected:
        raise SystemExit(
            "LoRA targets differ from kohya's rule: "
            f"extra {sorted(wrapped - expected)[:5]}, missing {sorted(expected - wrapped)[:5]}"
        )
    return unet, config, wrapped


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=["sd15", "sdxl"], default="sd15")
    ap.add_argument("--resolution", type=int, default=None, help="pixels (latents are /8); default 512, --tiny: 64")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--dtype", choices=list(DTYPES), default="fp32", help="storage dtype of the frozen base weights")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--gradient-checkpointing", action="store_true")
    ap.add_argument("--steps", type=int, default=2, help="timed steps")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    ap.add_argument("--attention", choices=["sdpa", "classic"], default="sdpa",
                    help="sdpa: AttnProcessor2_0 (diffusers' default); classic: AttnProcessor")
    ap.add_argument("--tiny", action="store_true", help="a tiny UNet of the same topology (CI dry run)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=8)
    args = ap.parse_args()
    if args.resolution is None:
        args.resolution = 64 if args.tiny else 512
    if args.resolution % 8:
        ap.error("--resolution must be a multiple of 8")
    if args.steps < 1 or args.warmup < 0:
        ap.error("--steps must be >= 1 and --warmup >= 0")

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        log("--device cuda, but torch sees no CUDA device")
        return 1
    device = torch.device(args.device)
    weight_dtype = DTYPES[args.dtype]
    log(f"torch {torch.__version__}, diffusers {diffusers.__version__}, peft {peft.__version__}, "
        f"{torch.get_num_threads()} threads, device {device}")

    unet, config, wrapped = build(args, device, weight_dtype)
    lora_params = [p for p in unet.parameters() if p.requires_grad]
    assert all(p.dtype == torch.float32 for p in lora_params)
    optimizer = torch.optim.AdamW(lora_params, lr=1e-4)  # betas (0.9, 0.999), wd 1e-2, eps 1e-8
    # accelerate's fp16 mixed precision scales the loss; bf16 and fp32 need no scaler.
    scaler = torch.amp.GradScaler(args.device) if weight_dtype == torch.float16 else None
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                              beta_schedule="scaled_linear")

    # Inputs (fixed seed): latents and noise [B,4,H/8,W/8], timestep 500 per element, a random
    # 77-token context; SDXL's pooled text embedding and 6 time ids. In weight_dtype, as the
    # example feeds the VAE's / text encoders' outputs.
    b, h = args.batch, args.resolution // 8
    g = torch.Generator().manual_seed(1)
    latents = torch.randn(b, 4, h, h, generator=g).to(device, weight_dtype)
    noise = torch.randn(b, 4, h, h, generator=g).to(device, weight_dtype)
    timesteps = torch.full((b,), 500, dtype=torch.long, device=device)
    ehs = torch.randn(b, CONTEXT_TOKENS, config["cross_attention_dim"], generator=g).to(device, weight_dtype)
    added_cond_kwargs = None
    if config.get("addition_embed_type") == "text_time":
        text_dim = config["projection_class_embeddings_input_dim"] - 6 * config["addition_time_embed_dim"]
        r = float(args.resolution)
        added_cond_kwargs = {
            "text_embeds": torch.randn(b, text_dim, generator=g).to(device, weight_dtype),
            "time_ids": torch.tensor([[r, r, 0.0, 0.0, r, r]] * b).to(device, weight_dtype),
        }
    noisy = scheduler.add_noise(latents, noise, timesteps)

    autocast = torch.autocast(args.device, dtype=weight_dtype, enabled=weight_dtype != torch.float32)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def step() -> float:
        with autocast:
            pred = unet(noisy, timesteps, ehs, added_cond_kwargs=added_cond_kwargs, return_dict=False)[0]
        loss = F.mse_loss(pred.float(), noise.float(), reduction="mean")
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()  # the example logs the loss each step; this also syncs

    for i in range(args.warmup):
        t0 = time.perf_counter()
        loss = step()
        sync()
        log(f"warm-up {i + 1}/{args.warmup}: {time.perf_counter() - t0:.3f} s, loss {loss:.5f}")

    rss_reset = reset_peak_rss()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(args.steps):
        sync()
        t0 = time.perf_counter()
        loss = step()
        sync()
        times.append(time.perf_counter() - t0)
        log(f"step {i + 1}/{args.steps}: {times[-1]:.3f} s, loss {loss:.5f}")
    hwm = read_status_kib("VmHWM")

    median = statistics.median(times)
    result = {
        "model": args.model,
        "tiny": args.tiny,
        "resolution": args.resolution,
        "batch": args.batch,
        "dtype": args.dtype,
        "device": args.device,
        "gradient_checkpointing": args.gradient_checkpointing,
        "attention": args.attention,
        "threads": torch.get_num_threads(),
        "lora_params": len(lora_params),
        "lora_param_elements": sum(p.numel() for p in lora_params),
        "trainable_modules": len(wrapped),
        "warmup": args.warmup,
        "steps": args.steps,
        "s_per_step": median,
        "min_s": min(times),
        "max_s": max(times),
        "it_per_s": 1.0 / median,
        "loss": loss,
        "peak_rss_mib": hwm / 1024 if hwm is not None else None,
        "peak_rss_reset": rss_reset,
        "peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None,
        "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "peft": peft.__version__,
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
