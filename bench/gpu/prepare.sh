#!/usr/bin/env bash
# Run on a build machine (with network to PyPI) before bench/gpu/run.sh goes to a bare GPU
# machine: copies the header-only nlohmann/json into bench/gpu/third_party/ and downloads the
# reference benchmark's wheels (diffusers, peft and what they need beyond torch's own
# dependencies) into bench/gpu/wheels/, both git-ignored, so they can travel with the tree.
#   bench/gpu/prepare.sh [--python-version 3.11]   (the GPU machine's Python; default: this one's)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
py="$root/.venv/bin/python"
pyver="$("$py" -c 'import sys; print(f"{sys.version_info.major}.{sys.version_info.minor}")')"
[[ "${1:-}" == "--python-version" ]] && pyver="$2"

mkdir -p "$here/third_party"
if [[ ! -f "$here/third_party/nlohmann/json.hpp" ]]; then
  [[ -f /usr/include/nlohmann/json.hpp ]] || { echo "prepare.sh: /usr/include/nlohmann/json.hpp missing (apt-get install nlohmann-json3-dev)" >&2; exit 1; }
  cp -r /usr/include/nlohmann "$here/third_party/"
fi

wheels="$here/wheels"
rm -rf "$wheels" && mkdir -p "$wheels"
torch_version="$("$py" -c 'import importlib.metadata as m; print(m.version("torch"))')"
"$py" -m pip download -q --disable-pip-version-check -d "$wheels" --only-binary=:all: \
  --python-version "$pyver" -r "$root/bench/reference/requirements.txt" \
  -c <(echo "torch==$torch_version")
# What torch itself brings is on the GPU machine already.
(cd "$wheels" && rm -f torch-* triton-* nvidia_* cuda_* sympy-* mpmath-* networkx-* jinja2-* \
  markupsafe-* filelock-* fsspec-* typing_extensions-* setuptools-*)
echo "prepare.sh: $(ls "$wheels" | wc -l) wheels ($(du -sh "$wheels" | cut -f1)) for Python $pyver in $wheels; nlohmann/json in $here/third_party"
