#!/usr/bin/env bash
# The GPU side-by-side benchmark in one script, for a machine that has PyTorch 2.11 + CUDA, cmake
# and ninja and nothing else (no Debian packages, no network). Builds Lathe's training core and
# bench/gpu/train_step_gpu (CMake option LATHE_TRAINING_CORE_ONLY), then times one LoRA step
# (rank 16, bf16 base weights) for
#   SD 1.5 at 512 px, batch 1 and 4;  SDXL at 1024 px, batch 1;  each with and without
#   gradient checkpointing,
# for Lathe and for the diffusers + PEFT reference (bench/reference/diffusers_lora_step.py) on
# the same GPU, and writes results.jsonl and summary.md (seconds per step, it/s, peak GPU memory,
# the ratios the targets are about) into $OUT (or bench/out/gpu); then sampling it/s and seconds per
# image of SD 1.5 at 512 px (20 Euler steps, CFG, fp16) for Lathe (bench/gpu/sample_gpu) and
# diffusers' pipeline loop (bench/reference/sample_reference.py), into samples.jsonl and the summary.
#
#   bench/gpu/prepare.sh            on the build machine first: header-only deps + reference wheels
#   bench/gpu/run.sh                on the GPU machine (carry bench/gpu/third_party and bench/gpu/wheels)
#   bench/gpu/run.sh --dry-run      anywhere: tiny configurations on the CPU, 2 steps (CI runs this)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dry=0
[[ "${1:-}" == "--dry-run" ]] && dry=1
out="${OUT:-$root/bench/out/gpu}"
mkdir -p "$out"
results="$out/results.jsonl"
: >"$results"

# The Python with torch: the project venv when there is one, else the machine's.
py="${LATHE_BENCH_PYTHON:-}"
if [[ -z "$py" ]]; then
  if [[ -x "$root/.venv/bin/python" ]]; then py="$root/.venv/bin/python"; else py="$(command -v python3)"; fi
fi
prefix="$("$py" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')"
echo "run.sh: torch $("$py" -c 'import torch; print(torch.__version__)') from $py" >&2

# ccache hits across checkouts in different folders (CI clones afresh each time), as in setup.sh.
export CCACHE_BASEDIR="$root"
build="$root/build-gpu-bench"
[[ $dry == 1 ]] && build="$root/build-gpu-dry"
cuda_args=()
if ! command -v nvcc >/dev/null 2>&1 && [[ -x /usr/local/cuda/bin/nvcc ]]; then
  cuda_args+=("-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc")
fi
t0=$SECONDS
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLATHE_TRAINING_CORE_ONLY=ON \
  -DLATHE_TORCH_DIR="$prefix" "${cuda_args[@]}" >"$out/configure.log" 2>&1 ||
  { tail -30 "$out/configure.log"; exit 1; }
cmake --build "$build" --target train_step_gpu sample_gpu >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
echo "run.sh: built $build/train_step_gpu and $build/sample_gpu in $((SECONDS - t0)) s" >&2

# The reference: diffusers + peft importable, or installable offline from bench/gpu/wheels.
reference=1
if ! "$py" -c 'import diffusers, peft' 2>/dev/null; then
  if [[ -d "$here/wheels" ]] && ls "$here/wheels"/*.whl >/dev/null 2>&1; then
    refenv="$build/reference-venv"
    [[ -x "$refenv/bin/python" ]] || "$py" -m venv --system-site-packages "$refenv"
    "$refenv/bin/python" -m pip install -q --no-index --find-links "$here/wheels" \
      -r "$root/bench/reference/requirements.txt" >&2 && py="$refenv/bin/python" || reference=0
  else
    reference=0
  fi
fi
[[ $reference == 0 ]] && echo "run.sh: diffusers/peft not available: the reference is skipped" >&2

if [[ $dry == 1 ]]; then
  common=(--device cpu --tiny --steps 2 --warmup 1 --threads 1)
  cases=("sd15 64 1" "sd15 64 2" "sdxl 64 1")
else
  common=(--device cuda --steps 10 --warmup 3)
  cases=("sd15 512 1" "sd15 512 4" "sdxl 1024 1")
fi

run_case() {  # implementation model resolution batch [--gradient-checkpointing]
  local impl=$1 model=$2 res=$3 batch=$4; shift 4
  local args=(--model "$model" --resolution "$res" --batch "$batch" --dtype bf16 "${common[@]}" "$@")
  local line
  if [[ $impl == lathe ]]; then
    line="$("$build/train_step_gpu" "${args[@]}" 2>>"$out/stderr.log" | tail -1)" || line=""
  else
    line="$("$py" "$root/bench/reference/diffusers_lora_step.py" "${args[@]}" 2>>"$out/stderr.log" | tail -1)" || line=""
  fi
  if [[ -z "$line" ]]; then
    echo "run.sh: $impl $model $res px batch $batch $* failed (see $out/stderr.log)" >&2
    return 1
  fi
  echo "{\"impl\": \"$impl\", \"result\": $line}" >>"$results"
  echo "run.sh: $impl $model ${res}px b$batch $*: $(echo "$line" | "$py" -c 'import json, sys; r = json.load(sys.stdin); print("%.4f s/step, peak GPU %s MiB" % (r["s_per_step"], r["peak_gpu_mib"]))')" >&2
}

status=0
for c in "${cases[@]}"; do
  read -r model res batch <<<"$c"
  for ckpt in "" "--gradient-checkpointing"; do
    run_case lathe "$model" "$res" "$batch" $ckpt || status=1
    [[ $reference == 1 ]] && { run_case reference "$model" "$res" "$batch" $ckpt || status=1; }
  done
done

# Sampling: one SD 1.5 512 px image, 20 Euler steps with classifier-free guidance, VAE decode
# (bench/gpu/sample_gpu against bench/reference/sample_reference.py, diffusers' pipeline loop).
samples="$out/samples.jsonl"
: >"$samples"
if [[ $dry == 1 ]]; then
  sample_args=(--device cpu --tiny --steps 3 --images 1 --threads 1 --dtype fp32)
else
  sample_args=(--device cuda --steps 20 --images 5 --dtype fp16)
fi
run_sample() {  # implementation
  local impl=$1 line
  if [[ $impl == lathe ]]; then
    line="$("$build/sample_gpu" "${sample_args[@]}" 2>>"$out/stderr.log" | tail -1)" || line=""
  else
    line="$("$py" "$root/bench/reference/sample_reference.py" "${sample_args[@]}" 2>>"$out/stderr.log" | tail -1)" || line=""
  fi
  if [[ -z "$line" ]]; then
    echo "run.sh: $impl sampling failed (see $out/stderr.log)" >&2
    return 1
  fi
  echo "$line" >>"$samples"
  echo "run.sh: $impl sampling: $(echo "$line" | "$py" -c 'import json, sys; r = json.load(sys.stdin); print("%.3f s/image, %.2f it/s" % (r["s_per_image"], r["it_per_s"]))')" >&2
}
run_sample lathe || status=1
[[ $reference == 1 ]] && { run_sample reference || status=1; }

"$py" "$here/summarize.py" "$results" "$samples" >"$out/summary.md"
cat "$out/summary.md"
echo "run.sh: results in $results, summary in $out/summary.md ($((SECONDS - t0)) s in all)" >&2
exit $status
