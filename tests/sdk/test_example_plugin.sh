#!/usr/bin/env bash
# The example out-of-tree plugin (examples/plugins/ln_tuning) built against the
# installed SDK, as a third party would: install this build into a scratch
# prefix, configure and build the example with find_package(Tunebench), then
# load it through TUNEBENCH_PLUGIN_PATH and treat it as a built-in: its
# conformance rows (`plugins check`), the suite's run check (train, export
# merged, stop and resume), training a tiny model, PEFT export and import.
#
#   test_example_plugin.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
source=$2
cli="$build/app/tunebench-cli"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== install the SDK into $work/prefix"
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
# lib/cmake or, on Debian, lib/<multiarch>/cmake
find "$work/prefix" -path '*/cmake/Tunebench/TunebenchConfig.cmake' | grep -q .
test -f "$work/prefix/include/tunebench/core/method/plugin_api.h"

echo "== build the example against it"
launcher=()
if command -v ccache > /dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
# The LibTorch this build used (Debian's, or PyTorch's 2.x for the CUDA build), as a third party names it.
torch_dir=$(sed -n 's/^Torch_DIR:PATH=//p' "$build/CMakeCache.txt")
caffe2_dir=$(sed -n 's/^Caffe2_DIR:PATH=//p' "$build/CMakeCache.txt")
cmake -S "$source/examples/plugins/ln_tuning" -B "$work/example" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DTorch_DIR="$torch_dir" -DCaffe2_DIR="$caffe2_dir" "${launcher[@]}" > "$work/configure.log" 2>&1 || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/example" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
test -f "$work/example/plugins/tunebench_ln_tuning.so"
test -f "$work/example/plugins/tunebench_ln_tuning.conformance.yaml"
test -n "$(find "$work/prefix" -name tunebench_lora.conformance.yaml)"

echo "== load it"
export TUNEBENCH_PLUGIN_PATH="$work/example/plugins"
"$cli" plugins list | tee "$work/plugins.txt"
grep -q "^adapter	ln_tuning	1.0.0	$work/example/plugins/tunebench_ln_tuning.so" "$work/plugins.txt"
"$cli" plugins show ln_tuning | grep -q include_final_norm

echo "== its conformance rows, as a built-in plugin's"
"$cli" plugins check ln_tuning | tee "$work/check.txt"
test "$(grep -c '^ok' "$work/check.txt")" -eq 4
echo "== the suite's run check: trained from YAML, exported merged, stopped and resumed exactly"
if [ -x "$build/tests/test_adapter_runs" ]; then
  "$build/tests/test_adapter_runs" trainsFromYamlAndResumesExactly:ln_tuning > "$work/runs.txt" 2>&1 || { cat "$work/runs.txt"; exit 1; }
  grep -q "PASS   : TestAdapterRuns::trainsFromYamlAndResumesExactly(ln_tuning)" "$work/runs.txt"
else
  echo "(this build has no Qt Test executables, as a Qt-free build: the run check runs in the desktop build)"
fi

echo "== train with it"
python3 "$source/tests/support/write_byte_tokenizer.py" "$work/tokenizer"
"$cli" make-model --arch llama --tokenizer "$work/tokenizer" \
  --hidden-size 32 --num-layers 2 --num-heads 4 --out "$work/model" > /dev/null
for i in $(seq 16); do echo '{"text": "the cat sat on the mat and the dog ran in the park"}'; done > "$work/data.jsonl"
cat > "$work/run.yaml" << YAML
model: $work/model
dataset: $work/data.jsonl
adapter:
  type: ln_tuning
training:
  learning_rate: 5.0e-2
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
start = events[0]
assert start["adapter"] == "ln_tuning", start
assert 0 < start["trainable_parameters"] < start["total_parameters"], start
assert events[-1]["event"] == "finished", events[-1]
assert steps[-1]["loss"] < steps[0]["loss"], (steps[0]["loss"], steps[-1]["loss"])
print(f"ln_tuning: {start['trainable_parameters']} of {start['total_parameters']} parameters trained, "
      f"loss {steps[0]['loss']:.3f} -> {steps[-1]['loss']:.3f}")
PY

echo "== export its PEFT form (LN_TUNING) and import it back as a run"
"$cli" export --workspace "$work/ws" --run 1 --format peft --out "$work/peft" > /dev/null
grep -q '"peft_type": "LN_TUNING"' "$work/peft/adapter_config.json"
"$cli" import-adapter --workspace "$work/ws" --model "$work/model" --adapter "$work/peft" > "$work/import.json"
grep -q '"adapter": *"ln_tuning"' "$work/import.json" || { cat "$work/import.json"; exit 1; }
echo "ok"
