# Shared by scripts/demo and scripts/test: install what is missing, configure, build.
# Source it from bash with `set -euo pipefail` in effect.

TB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Debian 12 packages the build, the tests and the GUI need (the CUDA toolkit, for the
# CUDA build, is expected in /usr/local/cuda; without it that build is skipped).
TB_APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libgloo-dev libopenblas0-openmp
  qt6-base-dev libqt6opengl6-dev libqcustomplot-dev libqcustomplot2.1-qt6
  libsqlite3-dev sqlite3 nlohmann-json3-dev libyaml-cpp-dev libpcre2-dev libutf8proc-dev
  xvfb xauth python3-jinja2 python3-torch python3-venv poppler-utils
  clang libclang-rt-14-dev
  librsvg2-bin desktop-file-utils appstream man-db dpkg-dev file
)

# The CUDA build (Qt-free, as on a GPU server) against the reference environment's LibTorch.
TB_CUDA_ROOT="${CUDA_HOME:-/usr/local/cuda}"
TB_CUDA_CMAKE_ARGS=(-DTUNEBENCH_WITH_QT=OFF -DTUNEBENCH_WERROR=ON -DCUDAToolkit_ROOT="$TB_CUDA_ROOT"
  -DCMAKE_CUDA_COMPILER="$TB_CUDA_ROOT/bin/nvcc")

# The main build's configuration, shared by scripts/demo and scripts/test so that
# running one after the other never reconfigures or rebuilds.
TB_CMAKE_ARGS=(-DTUNEBENCH_WERROR=ON)

tb_log() { printf '\033[1m[tunebench]\033[0m %s\n' "$*" >&2; }

tb_as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    tb_log "need root to run: $* (install sudo or run this script as root)"
    return 1
  fi
}

tb_install_deps() {
  local missing=() pkg status
  for pkg in "${TB_APT_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
    [ "${status:0:2}" = "ii" ] || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  tb_log "installing ${#missing[@]} Debian packages: ${missing[*]}"
  tb_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  tb_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The reference environment the parity tests compare against: a Python virtual
# environment with the pinned packages of tests/reference/requirements.txt (torch,
# transformers, peft, trl, tokenizers, gguf, ...). Created once and again only when that
# file changes; pip's own cache (~/.cache/pip) is kept between runs. Sets and exports
# TUNEBENCH_REFERENCE_PYTHON, which the tests read. The product never uses it.
TB_REFERENCE_VENV="${TUNEBENCH_REFERENCE_VENV:-$HOME/.cache/tunebench/reference-venv}"
tb_reference_env() {
  local requirements="$TB_ROOT/tests/reference/requirements.txt"
  local stamp="$TB_REFERENCE_VENV/.tunebench-requirements" want
  want=$(sha256sum "$requirements" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ ! -x "$TB_REFERENCE_VENV/bin/python" ]; then
    tb_log "creating the reference environment in $TB_REFERENCE_VENV (pinned: tests/reference/requirements.txt)"
    rm -rf "$TB_REFERENCE_VENV"
    mkdir -p "$(dirname "$TB_REFERENCE_VENV")"
    python3 -m venv "$TB_REFERENCE_VENV"
    "$TB_REFERENCE_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
    printf '%s' "$want" > "$stamp"
  fi
  export TUNEBENCH_REFERENCE_PYTHON="$TB_REFERENCE_VENV/bin/python"
}

# The folder of the CMake files of the LibTorch inside the reference environment's
# torch wheel (2.x, CUDA, C++11 ABI): what the CUDA build compiles against.
tb_reference_torch_cmake() {
  "$TB_REFERENCE_VENV/bin/python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)'
}

# tb_build BUILD_DIR [TARGET...] -- [CMAKE_ARGS...]
# Configures once (again only when the arguments change), then builds incrementally.
tb_build() {
  local dir="$1"; shift
  local targets=() args=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do targets+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  args=("$@")
  export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
  # Paths relative to the checkout, so clones in other folders share the cache.
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$TB_ROOT}"
  command -v ccache >/dev/null 2>&1 && ccache --max-size=5G >/dev/null 2>&1 || true
  local stamp="$dir/.tunebench-configure-args" want="${args[*]:-}"
  if [ ! -f "$dir/build.ninja" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    tb_log "configuring $dir ${want}"
    cmake -S "$TB_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${args[@]}"
    printf '%s' "$want" > "$stamp"
  fi
  tb_log "building $dir ${targets[*]:-(all)}"
  if [ ${#targets[@]} -gt 0 ]; then
    cmake --build "$dir" --target "${targets[@]}"
  else
    cmake --build "$dir"
  fi
}
