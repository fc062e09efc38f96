"""Turns bench/gpu/run.sh's results.jsonl into a Markdown table: per case Lathe's and the
reference's seconds per step, it/s and peak memory, and the ratios the targets are about
(SD 1.5: Lathe's it/s over the reference's; SDXL: Lathe's peak GPU memory over the reference's)."""
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
