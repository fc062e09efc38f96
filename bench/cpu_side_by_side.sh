#!/usr/bin/env bash
# The CPU training-step comparison in one run: for fp32 and bf16 base weights, Lathe's SD 1.5 LoRA
# step (bench/train_step_bench: 512 px, batch 1, rank 16, AdamW; the matmul peak of the same
# dtype measured in the same process) and the diffusers + PEFT reference on the same torch
# (bench/reference/diffusers_lora_step.py), one process each, one after the other. Writes
# bench/out/cpu_side_by_side.{jsonl,md}. Needs an idle machine (it takes ~10 minutes on 2 cores)
# and the reference packages (bench/reference/setup.sh).
#   bench/cpu_side_by_side.sh [fp32|bf16 ...]   (default: both)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/bench/out"
mkdir -p "$out"
py="$root/.venv/bin/python"
dtypes=("$@")
((${#dtypes[@]})) || dtypes=(fp32 bf16)
results="$out/cpu_side_by_side.jsonl"
: >"$results"
for dt in "${dtypes[@]}"; do
  echo "lathe $dt ..." >&2
  "$root/build/train_step_bench" --benchmark_filter="Gemm/$dt/|SD15/$dt/" --benchmark_format=json \
    >"$out/lathe_$dt.json" 2>"$out/lathe_$dt.log"
  echo "reference $dt ..." >&2
  "$py" "$root/bench/reference/diffusers_lora_step.py" --model sd15 --dtype "$dt" --device cpu \
    --steps 2 --warmup 1 2>"$out/reference_$dt.log" | tail -1 >"$out/reference_$dt.json"
  "$py" - "$dt" "$out/lathe_$dt.json" "$out/reference_$dt.json" >>"$results" <<'PY'
import json, sys
dt, lathe_file, ref_file = sys.argv[1:]
bench = json.load(open(lathe_file))["benchmarks"]
step = next(b for b in bench if b["name"].startswith("BM_TrainStep/SD15/"))
gemm = [b for b in bench if b["name"].startswith("BM_Gemm/") and b.get("run_type") == "iteration"]
ref = json.load(open(ref_file))
print(json.dumps({"dtype": dt, "lathe_s_per_step": step["real_time"] / 1000.0,
                  "lathe_min_s": step["min_s"], "lathe_peak_rss_mib": step["peak_RSS_MiB"],
                  "lathe_frac_of_gemm_peak": step.get("frac_of_gemm_peak"),
                  "gemm_peak_gflops": max(b["best_FLOP/s"] for b in gemm) / 1e9 if gemm else None,
                  "ref_s_per_step": ref["s_per_step"], "ref_peak_rss_mib": ref["peak_rss_mib"],
                  "time_ratio": step["real_time"] / 1000.0 / ref["s_per_step"],
                  "memory_ratio": step["peak_RSS_MiB"] / ref["peak_rss_mib"]}))
PY
done
"$py" - "$results" >"$out/cpu_side_by_side.md" <<'PY'
import json, sys
print("| base weights | Lathe s/step | reference s/step | time ratio | Lathe peak RSS MiB | reference peak RSS MiB | memory ratio | Lathe fraction of matmul peak (same dtype) | matmul peak GFLOP/s |")
print("|---|---|---|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f"| {r['dtype']} | {r['lathe_s_per_step']:.2f} | {r['ref_s_per_step']:.2f} | {r['time_ratio']:.2f} | "
          f"{r['lathe_peak_rss_mib']:.0f} | {r['ref_peak_rss_mib']:.0f} | {r['memory_ratio']:.2f} | "
          f"{r['lathe_frac_of_gemm_peak']:.2f} | {r['gemm_peak_gflops']:.0f} |")
PY
cat "$out/cpu_side_by_side.md"
