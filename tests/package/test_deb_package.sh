#!/usr/bin/env bash
# The Debian package end to end, as a user gets it: build it with CPack from
# this build, check what it holds and what it depends on, install it with apt,
# use it from the installed location (CLI, plugins, a tiny training run, the
# GUI offscreen, desktop files, man pages, the plugin SDK), then purge it and
# check nothing of it is left. The machine is left as it was, also on failure.
#
#   test_deb_package.sh BUILD_DIR SOURCE_DIR VERSION LIBDIR
#
# Needs root (or password-less sudo) and apt; exits 77 (skipped) without them,
# or when a tunebench package is installed already (it is not ours to remove).
set -euo pipefail
build=$(cd "$1" && pwd)
source=$(cd "$2" && pwd)
version=$3
libdir=$4 # CMAKE_INSTALL_LIBDIR, e.g. lib/x86_64-linux-gnu
app_id=io.github.tunebench.Tunebench
start=$(date +%s)

say() { printf '== %s (%d s)\n' "$*" $(($(date +%s) - start)); }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
  as_root=(sudo -n)
else
  echo "SKIP: installing a package needs root or password-less sudo"
  exit 77
fi
if ! command -v apt-get > /dev/null || ! command -v dpkg-deb > /dev/null; then
  echo "SKIP: needs apt-get and dpkg-deb (Debian)"
  exit 77
fi
apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300)
# Set while this test's package is installed: a run killed before its trap (a
# CTest timeout) leaves it, and the next run purges what that one installed.
marker=/var/tmp/tunebench-deb-test.installed
# Pipelines end in a grep that reads everything (no -q): with pipefail, a writer
# cut off by an early-exiting grep would fail the test for nothing.
status() { dpkg-query -W -f='${db:Status-Abbrev}' tunebench 2> /dev/null || true; }
if [[ "$(status)" == ?i* ]]; then
  if [ -f "$marker" ]; then
    echo "== purging the tunebench package an interrupted run of this test left installed"
    "${as_root[@]}" "${apt[@]}" remove --purge tunebench > /dev/null
    "${as_root[@]}" rm -f "$marker"
  else
    echo "SKIP: a tunebench package is installed on this machine already; this test installs and purges its own"
    exit 77
  fi
fi

work=$(mktemp -d /tmp/tunebench-deb-test.XXXXXX)
chmod 755 "$work" # apt reads the .deb as its sandbox user
installed=0
# The packages apt installs along with tunebench (none where the build's
# dependencies are installed already; taken from apt's own plan) go again too.
touch "$work/extra-packages"
purge() {
  # shellcheck disable=SC2046 # one word a package
  "${as_root[@]}" "${apt[@]}" remove --purge tunebench $(cat "$work/extra-packages")
  "${as_root[@]}" rm -f "$marker"
}
cleanup() {
  local status=$?
  if [ "$installed" -eq 1 ]; then
    echo "== cleanup: purging the tunebench package"
    purge > "$work/purge-trap.log" 2>&1 || cat "$work/purge-trap.log" >&2
  fi
  cd /
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "build the package with CPack"
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/deb" > "$work/cpack.log" 2>&1 || {
  cat "$work/cpack.log"
  fail "cpack -G DEB failed"
}
debs=("$work"/deb/tunebench_"$version"_*.deb)
[ -f "${debs[0]}" ] || fail "no tunebench_${version}_*.deb in $work/deb: $(ls "$work/deb")"
deb=${debs[0]}
echo "$(basename "$deb"): $(du -h "$deb" | cut -f1)"

say "control fields"
dpkg-deb -f "$deb" > "$work/control"
cat "$work/control"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = tunebench ] || fail "Package is '$(field Package)', expected tunebench"
[ "$(field Version)" = "$version" ] || fail "Version is '$(field Version)', expected $version"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture is '$(field Architecture)'"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ "$(field Section)" = science ] || fail "Section is '$(field Section)', expected science"
[ "$(field Description | sed -n 2p)" != "" ] || fail "Description has no extended text"
depends=$(field Depends)
# The package names in Depends, alternatives included, one a line.
tr ',|' '\n' <<< "$depends" | sed 's/(.*//; s/ //g' | grep . > "$work/depends"
depends_on() { grep -Fqx "$1" "$work/depends"; }

say "contents"
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' > "$work/contents"
has() { grep -Fqx "$1" "$work/contents" || fail "the package lacks $1"; }
has /usr/bin/tunebench
has /usr/bin/tunebench-cli
has "/usr/$libdir/cmake/Tunebench/TunebenchConfig.cmake"
has "/usr/$libdir/cmake/Tunebench/TunebenchHelpers.cmake"
has /usr/include/tunebench/core/method/plugin_api.h
has /usr/include/tunebench/core/tunebench_config.h
has "/usr/share/applications/$app_id.desktop"
has "/usr/share/metainfo/$app_id.metainfo.xml"
has "/usr/share/mime/packages/$app_id.xml"
has /usr/share/man/man1/tunebench.1.gz
has /usr/share/man/man1/tunebench-cli.1.gz
has "/usr/share/icons/hicolor/scalable/apps/$app_id.svg"
for size in 16 22 24 32 48 64 128 256 512; do
  has "/usr/share/icons/hicolor/${size}x${size}/apps/$app_id.png"
done
grep -q "^/usr/$libdir/libtunebench-core\.so\." "$work/contents" || fail "the package lacks /usr/$libdir/libtunebench-core.so.*"
# Every plugin this build made, under the multiarch library folder.
plugins=()
for so in "$build"/plugins/tunebench_*.so; do
  plugins+=("$(basename "$so")")
  has "/usr/$libdir/tunebench/plugins/$(basename "$so")"
done
[ ${#plugins[@]} -ge 10 ] || fail "only ${#plugins[@]} plugins in $build/plugins"
# Every resource file (presets, demo inputs, ...) under /usr/share/tunebench.
resources=0
while IFS= read -r -d '' file; do
  rel=${file#"$source/resources/"}
  case "$rel" in CMakeLists.txt | icons/*) continue ;; esac
  has "/usr/share/tunebench/$rel"
  resources=$((resources + 1))
done < <(find "$source/resources" -type f -print0)
echo "${#plugins[@]} plugins, $resources resource files"
if grep -E '^/usr/local|/tests?/|/test_|/bench_|CMakeFiles|\.o$' "$work/contents"; then
  fail "the package holds files from outside its layout or tests (above)"
fi

say "dependencies: every library the binaries need comes from a package in Depends"
mkdir "$work/root"
dpkg-deb -x "$deb" "$work/root"
own=$(find "$work/root" -name '*.so*' -printf '%f\n')
elves=("$work/root/usr/bin/tunebench" "$work/root/usr/bin/tunebench-cli" "$work/root/usr/$libdir"/libtunebench-core.so.*.* "$work/root/usr/$libdir/tunebench/plugins"/*.so)
readelf -d "${elves[@]}" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u > "$work/needed"
ldconfig -p > "$work/ldcache"
while read -r lib; do
  if grep -qx "$lib" <<< "$own"; then continue; fi
  path=$(awk -v l="$lib" '$1 == l && !found { print $NF; found = 1 }' "$work/ldcache")
  [ -n "$path" ] || fail "$lib (needed by the package) is not on this machine"
  pkg=$(dpkg -S "$(readlink -f "$path")" 2> /dev/null | head -1 | cut -d: -f1) || true
  [ -n "$pkg" ] || pkg=$(dpkg -S "$path" 2> /dev/null | head -1 | cut -d: -f1) || true
  [ -n "$pkg" ] || fail "$lib ($path) belongs to no Debian package"
  depends_on "$pkg" || fail "$lib comes from $pkg, which Depends does not name: $depends"
  echo "  $lib <- $pkg"
done < "$work/needed"
for pkg in libopenblas0-openmp qt6-qpa-plugins libqcustomplot2.1-qt6 libqt6widgets6 libsqlite3-0; do
  depends_on "$pkg" || fail "Depends does not name $pkg: $depends"
done
readelf -d "${elves[@]}" > "$work/dynamic"
grep -E 'R(UN)?PATH' "$work/dynamic" | grep -F "$build" && fail "a binary's run path points into the build folder"

say "desktop entry and AppStream metainfo"
desktop-file-validate "$work/root/usr/share/applications/$app_id.desktop"
if command -v appstreamcli > /dev/null; then
  appstreamcli validate --no-net "$work/root/usr/share/metainfo/$app_id.metainfo.xml"
else
  echo "appstreamcli not installed (Debian: appstream): metainfo not validated"
fi
grep -q "^Exec=tunebench %f$" "$work/root/usr/share/applications/$app_id.desktop" || fail "Exec is not 'tunebench %f'"

say "install with apt"
"${as_root[@]}" "${apt[@]}" -s install --no-install-recommends "$deb" 2> /dev/null \
  | awk '/^Inst / && $2 != "tunebench" { print $2 }' > "$work/extra-packages"
[ -s "$work/extra-packages" ] && echo "apt installs along with it: $(tr '\n' ' ' < "$work/extra-packages")"
installed=1
"${as_root[@]}" touch "$marker"
"${as_root[@]}" "${apt[@]}" install --no-install-recommends "$deb" > "$work/install.log" 2>&1 || {
  cat "$work/install.log"
  fail "apt-get install $deb failed"
}
[[ "$(status)" == ii* ]] || fail "tunebench is not installed after apt-get install"

# From here on only the installed files: no build folder on any path, a fresh HOME.
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" XDG_DATA_HOME="$work/home/.local/share"
mkdir -p "$HOME"
unset TUNEBENCH_PLUGIN_PATH TUNEBENCH_WORKSPACE LD_LIBRARY_PATH
cd "$work"
cli=/usr/bin/tunebench-cli
[ "$(command -v tunebench-cli)" = "$cli" ] || fail "tunebench-cli on PATH is $(command -v tunebench-cli)"
ldd "$cli" > "$work/ldd"
core=$(sed -n 's/.*libtunebench-core[^ ]* => \([^ ]*\) .*/\1/p' "$work/ldd")
if [ -z "$core" ] || [ "$(dirname "$(realpath "$core")")" != "/usr/$libdir" ]; then
  fail "tunebench-cli does not load /usr/$libdir/libtunebench-core: $(grep tunebench "$work/ldd")"
fi
echo "tunebench-cli loads $core"

say "tunebench-cli --version"
"$cli" --version | tee "$work/version.txt"
grep -qx "Tunebench $version" "$work/version.txt" || fail "--version does not say 'Tunebench $version'"

say "tunebench-cli plugins list: the built-ins from /usr/$libdir/tunebench/plugins"
"$cli" plugins list > "$work/plugins.txt"
cat "$work/plugins.txt"
grep -q '^broken' "$work/plugins.txt" && fail "broken plugins at the installed location"
for so in "${plugins[@]}"; do
  grep -q "	/usr/$libdir/tunebench/plugins/$so\$" "$work/plugins.txt" || fail "$so is not listed from /usr/$libdir/tunebench/plugins"
done
[ "$(wc -l < "$work/plugins.txt")" -eq ${#plugins[@]} ] || fail "plugins list has $(wc -l < "$work/plugins.txt") lines, expected ${#plugins[@]}"

say "a tiny training run from the installed location"
python3 "$source/tests/support/write_byte_tokenizer.py" "$work/tokenizer"
"$cli" make-model --arch llama --tokenizer "$work/tokenizer" \
  --hidden-size 32 --num-layers 2 --num-heads 4 --out "$work/model" > /dev/null
for _ in $(seq 16); do echo '{"text": "the cat sat on the mat and the dog ran in the park"}'; done > "$work/data.jsonl"
cat > "$work/run.yaml" << YAML
model: $work/model
dataset: $work/data.jsonl
adapter:
  type: lora
  r: 4
  target_modules: all-linear
training:
  learning_rate: 1.0e-2
  max_steps: 8
  per_device_train_batch_size: 4
  threads: 1
YAML
"$cli" workspace init "$work/ws" > /dev/null
"$cli" train "$work/run.yaml" --workspace "$work/ws" > "$work/events.jsonl"
python3 - "$work/events.jsonl" << 'PY'
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
steps = [e for e in events if e["event"] == "step"]
assert events[0]["adapter"] == "lora", events[0]
assert events[-1]["event"] == "finished", events[-1]
assert len(steps) == 8, len(steps)
assert steps[-1]["loss"] < steps[0]["loss"], (steps[0]["loss"], steps[-1]["loss"])
print(f"lora from the installed plugins: loss {steps[0]['loss']:.3f} -> {steps[-1]['loss']:.3f} in {len(steps)} steps")
PY
"$cli" runs list --workspace "$work/ws" > "$work/runs.txt"
grep finished "$work/runs.txt" || fail "the run is not recorded as finished: $(cat "$work/runs.txt")"

say "the GUI: --help and --version without a display, a workspace database as its argument"
(
  unset DISPLAY WAYLAND_DISPLAY QT_QPA_PLATFORM
  /usr/bin/tunebench --help > "$work/gui-help.txt" 2> "$work/gui-help.err" || {
    cat "$work/gui-help.err"
    fail "tunebench --help without a display failed"
  }
  /usr/bin/tunebench --version > "$work/gui-version.txt" 2> /dev/null
  grep -x "Tunebench $version" "$work/gui-version.txt" || fail "tunebench --version does not say 'Tunebench $version'"
)
if ! grep -q -- "--workspace" "$work/gui-help.txt" || ! grep -q "WORKSPACE" "$work/gui-help.txt"; then
  cat "$work/gui-help.txt"
  fail "tunebench --help lacks --workspace or WORKSPACE"
fi
# What the desktop entry's %f passes for a workspace: its tunebench.db. The GUI opens
# the folder and remembers it as the last workspace in its settings.
QT_QPA_PLATFORM=offscreen /usr/bin/tunebench "$work/ws/tunebench.db" > "$work/gui.log" 2>&1 &
gui=$!
settings="$XDG_CONFIG_HOME/Tunebench/Tunebench.conf"
opened=0
for _ in $(seq 120); do
  if [ -f "$settings" ] && grep -q "^last=$work/ws\$" "$settings"; then
    opened=1
    break
  fi
  kill -0 $gui 2> /dev/null || break
  sleep 0.5
done
kill $gui 2> /dev/null || true
wait $gui 2> /dev/null || true
[ $opened -eq 1 ] || {
  cat "$work/gui.log" "$settings" 2> /dev/null || true
  fail "tunebench $work/ws/tunebench.db did not open the workspace $work/ws"
}
echo "the GUI opened $work/ws from its tunebench.db"

say "man pages"
command -v man > /dev/null || fail "man is not installed (Debian: man-db)"
for page in tunebench tunebench-cli; do
  warnings=$(MANWIDTH=100 man --warnings -l "/usr/share/man/man1/$page.1.gz" 2>&1 > "$work/$page.txt")
  [ -z "$warnings" ] || fail "man $page: $warnings"
  grep -q "^NAME" "$work/$page.txt" || fail "man $page has no NAME section"
done
# Every command of the CLI has its section.
"$cli" --help | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([^ ].*[^ ]\)  .*/\1/p' > "$work/commands"
[ -s "$work/commands" ] || fail "tunebench-cli --help lists no commands"
while read -r words; do
  grep -q "^   $words\$" "$work/tunebench-cli.txt" || fail "man tunebench-cli has no section for '$words'"
done < "$work/commands"
grep -q -- "--workspace" "$work/tunebench.txt" || fail "man tunebench lacks --workspace"

say "MIME types and desktop database"
grep -q "application/x-tunebench-workspace:tunebench.db" /usr/share/mime/globs2 || fail "the workspace MIME type is not in the MIME database"
grep -q "application/x-tunebench-run+yaml:\*.tbrun.yaml" /usr/share/mime/globs2 || fail "the run configuration MIME type is not in the MIME database"
if command -v update-desktop-database > /dev/null; then
  grep -q "application/x-tunebench-workspace=.*$app_id.desktop" /usr/share/applications/mimeinfo.cache \
    || fail "the desktop database does not open workspaces with $app_id.desktop"
fi

say "the example plugin built against the installed SDK (find_package(Tunebench) from /usr)"
launcher=()
if command -v ccache > /dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S "$source/examples/plugins/ln_tuning" -B "$work/example" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  "${launcher[@]}" > "$work/configure.log" 2>&1 || {
  cat "$work/configure.log"
  fail "configuring the example against the installed SDK failed"
}
grep -qx "Tunebench_DIR:PATH=/usr/$libdir/cmake/Tunebench" "$work/example/CMakeCache.txt" \
  || fail "the example found $(grep Tunebench_DIR "$work/example/CMakeCache.txt"), expected /usr/$libdir/cmake/Tunebench"
cmake --build "$work/example" > "$work/build.log" 2>&1 || {
  cat "$work/build.log"
  fail "building the example against the installed SDK failed"
}
TUNEBENCH_PLUGIN_PATH="$work/example/plugins" "$cli" plugins list > "$work/plugins-example.txt"
grep -q "^adapter	ln_tuning	1.0.0	$work/example/plugins/tunebench_ln_tuning.so\$" "$work/plugins-example.txt" \
  || fail "the example plugin is not loaded: $(cat "$work/plugins-example.txt")"
grep -q '^broken' "$work/plugins-example.txt" && fail "broken plugins beside the example: $(grep '^broken' "$work/plugins-example.txt")"
TUNEBENCH_PLUGIN_PATH="$work/example/plugins" "$cli" plugins show ln_tuning > "$work/ln_tuning.json"
grep -q include_final_norm "$work/ln_tuning.json" || fail "plugins show ln_tuning lacks its parameter"

say "remove the package with apt and purge"
purge > "$work/purge.log" 2>&1 || {
  cat "$work/purge.log"
  fail "apt-get remove --purge tunebench failed"
}
installed=0
[[ "$(status)" == ?i* ]] && fail "tunebench is still installed"
left=0
while read -r path; do
  case "$path" in */) continue ;; esac
  if [ -e "$path" ] || [ -L "$path" ]; then
    echo "left behind: $path"
    left=1
  fi
done < "$work/contents"
for dir in "/usr/$libdir/tunebench" /usr/share/tunebench /usr/include/tunebench "/usr/$libdir/cmake/Tunebench"; do
  [ -e "$dir" ] && {
    echo "left behind: $dir"
    left=1
  }
done
[ $left -eq 0 ] || fail "files of the package are left after the purge"
grep -q "application/x-tunebench" /usr/share/mime/globs2 && fail "the MIME database still has Tunebench's types"
say "ok"
