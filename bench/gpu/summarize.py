"""Turns bench/gpu/run.sh's results.jsonl into a Markdown table: per case Lathe's and the
reference's seconds per step, it/s and peak memory, and the ratios the targets are about
(SD 1.5: Lathe's it/s over the reference's; SDXL: Lathe's peak GPU memory over the reference's);
with a second file (run.sh's samples.jsonl), a table of sampling it/s and seconds per image."""
import json
import sys


def key(r):
    return (r["model"], r["resolution"], r["batch"], r["gradient_checkpointing"])


def memory(r):
    return r["peak_gpu_mib"] if r.get("peak_gpu_mib") is not None else r.get("peak_rss_mib")


rows = {}
for line in open(sys.argv[1]):
    if line.strip():
        entry = json.loads(line)
        rows.setdefault(key(entry["result"]), {})[entry["impl"]] = entry["result"]

first = next((r for case in rows.values() for r in case.values()), None)
where = (first or {}).get("gpu") or (first or {}).get("device", "?")
mem_name = "peak GPU MiB" if first and first.get("peak_gpu_mib") is not None else "peak RSS MiB"
print(f"Device: {where}; torch {(first or {}).get('torch', '?')}; bf16 base weights, LoRA rank 16\n")
print(f"| model | px | batch | ckpt | Lathe s/step | ref s/step | Lathe it/s ÷ ref | Lathe {mem_name} | ref {mem_name} | memory ratio |")
print("|---|---|---|---|---|---|---|---|---|---|")


def number(value, fmt):
    return fmt.format(value) if value is not None else "-"


for (model, res, batch, ckpt), case in sorted(rows.items()):
    lathe, ref = case.get("lathe"), case.get("reference")
    speed = ref["s_per_step"] / lathe["s_per_step"] if lathe and ref else None
    mem_ratio = memory(lathe) / memory(ref) if lathe and ref and memory(ref) else None
    cells = [model, str(res), str(batch), "yes" if ckpt else "no",
             number(lathe and lathe["s_per_step"], "{:.4f}"), number(ref and ref["s_per_step"], "{:.4f}"),
             number(speed, "{:.2f}"), number(lathe and memory(lathe), "{:.0f}"),
             number(ref and memory(ref), "{:.0f}"), number(mem_ratio, "{:.2f}")]
    print("| " + " | ".join(cells) + " |")


def sampling_table(path):
    runs = {}
    for line in open(path):
        if line.strip():
            r = json.loads(line)
            runs[r["impl"]] = r
    if not runs:
        return
    r0 = next(iter(runs.values()))
    print(f"\nSampling: SD 1.5 {r0['resolution']} px, {r0['steps']} Euler steps, CFG {r0['cfg']}, {r0['dtype']}, "
          f"VAE decode included\n")
    print(f"| implementation | it/s (steps) | s/image | decode s | {mem_name} |")
    print("|---|---|---|---|---|")
    for impl in ("lathe", "diffusers"):
        r = runs.get(impl)
        if r:
            print(f"| {impl} | {r['it_per_s']:.2f} | {r['s_per_image']:.3f} | {r['decode_s']:.3f} | "
                  f"{number(memory(r), '{:.0f}')} |")
    if "lathe" in runs and "diffusers" in runs:
        print(f"\nLathe's it/s / diffusers': {runs['lathe']['it_per_s'] / runs['diffusers']['it_per_s']:.2f}")


if len(sys.argv) > 2:
    sampling_table(sys.argv[2])
