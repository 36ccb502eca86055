# Shared by scripts/demo and scripts/test: install what is missing, configure, build.
# Source it from bash with `set -euo pipefail` in effect.

TB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Debian 12 packages the build, the tests and the GUI need.
TB_APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libopenblas0-openmp
  qt6-base-dev libqt6opengl6-dev libqcustomplot-dev libqcustomplot2.1-qt6
  libsqlite3-dev sqlite3 nlohmann-json3-dev libyaml-cpp-dev libpcre2-dev libutf8proc-dev
  xvfb xauth python3-jinja2 python3-torch poppler-utils
  clang libclang-rt-14-dev
  librsvg2-bin desktop-file-utils appstream man-db dpkg-dev file
)

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

# Reference implementations the tests compare against (tokenizers from npm),
# installed from tests/reference/package-lock.json into tests/reference/node_modules.
tb_install_npm() {
  local dir="$TB_ROOT/tests/reference"
  [ -f "$dir/package.json" ] || return 0
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    tb_log "installing Node.js and npm"
    tb_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
  fi
  local stamp="$dir/node_modules/.tunebench-installed"
  if [ ! -f "$stamp" ] || [ "$dir/package.json" -nt "$stamp" ] || { [ -f "$dir/package-lock.json" ] && [ "$dir/package-lock.json" -nt "$stamp" ]; }; then
    tb_log "installing npm reference packages"
    if [ -f "$dir/package-lock.json" ]; then
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    else
      (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
    fi
    touch "$stamp"
  fi
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
