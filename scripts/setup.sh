#!/usr/bin/env bash
# Installs everything Lathe needs and builds it into build/ (idempotent: each step is skipped
# when already done):
#   1. Debian packages (compilers, OpenCV, toml++, ncurses, GoogleTest, ...), with apt;
#   2. the project venv .venv with the pinned PyTorch wheel, whose libtorch (CUDA 13.0 build)
#      Lathe compiles and links against; pip keeps its download cache in ~/.cache/pip;
#   3. the CMake configure + build.
# A libtorch of your own (2.7 or newer) instead of the wheel: LATHE_TORCH_DIR=/path/to/libtorch.
# Run as root or with sudo available. The CUDA toolkit (nvcc, headers) must be installed
# (/usr/local/cuda): the wheel's CMake files need it to configure, even on a machine without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache hits across checkouts in different folders (CI clones afresh each time).
export CCACHE_BASEDIR="$PWD"

TORCH_VERSION="2.11.0"  # the wheel on PyPI is built for CUDA 13.0

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  python3 python3-venv python3-pip
  libopencv-dev libwebp-dev libjpeg-dev
  libtomlplusplus-dev libfmt-dev nlohmann-json3-dev
  libncurses-dev zlib1g-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  tmux
)

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

if [ -z "${LATHE_TORCH_DIR:-}" ]; then
  python="${LATHE_SETUP_PYTHON:-python3}"
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  if .venv/bin/python -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$TORCH_VERSION' else 1)" 2>/dev/null; then
    echo "setup: torch $TORCH_VERSION present in .venv"
  else
    echo "setup: installing torch==$TORCH_VERSION into .venv (about 3 GB with its CUDA libraries; cached by pip)"
    .venv/bin/python -m pip install -q --disable-pip-version-check "torch==$TORCH_VERSION"
  fi
fi

if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export CUDACXX=/usr/local/cuda/bin/nvcc
  export PATH="/usr/local/cuda/bin:$PATH"
fi

cmake_args=(-S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release)
[ -n "${LATHE_TORCH_DIR:-}" ] && cmake_args+=("-DLATHE_TORCH_DIR=$LATHE_TORCH_DIR")
cmake "${cmake_args[@]}"
cmake --build build
echo "setup: built build/lathe"
