#!/usr/bin/env python3
"""Checks of Tunebench's CUDA paths on a GPU, driven through tunebench-cli (part of scripts/gpu-check).

On a tiny random Llama (grouped-query attention) and its BPE tokenizer:
 1. `--version` names a LibTorch with CUDA and sees a GPU;
 2. `forward --device cuda` equals `forward --device cpu` and transformers' logits on the GPU (1e-4);
 3. `generate --device cuda` (greedy) equals the CPU's continuation;
 4. training on the GPU: LoRA and full fine-tuning in float32 and under bf16 autocast finish with finite,
    falling losses; float32 on the GPU follows the CPU run's losses (1e-4 relative); every step event carries the
    allocator's memory read-out (device_memory_mb, device_peak_memory_mb).
Prints one line per check; exit 0 when all pass, 1 otherwise. --device cpu rehearses it without a GPU (the
GPU-only checks then say "skipped").

  cuda_checks.py --cli build-gpu/bin/tunebench-cli [--device cuda] [--work DIR]
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_gpu_train import make_data, make_model  # noqa: E402

RESULTS = []


def check(name, ok, detail=""):
    RESULTS.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)


def run(cli, *args):
    proc = subprocess.run([cli, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"tunebench-cli {' '.join(args)}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    return proc.stdout


def steps_of(output):
    events = []
    for line in output.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return [e for e in events if e.get("event") == "step"]


def train(cli, work, name, model, data, device, adapter, precision, steps=8, extra=""):
    ws = os.path.join(work, f"ws-{name}")
    config = os.path.join(work, f"{name}.yaml")
    with open(config, "w") as f:
        f.write(f"name: {name}\nmodel: {model}\ndataset: {data}\nobjective: sft\nadapter:\n  type: {adapter}\n"
                f"training:\n  learning_rate: 1.0e-3\n  lr_scheduler_type: constant\n  max_steps: {steps}\n"
                f"  per_device_train_batch_size: 4\n  cutoff_len: 64\n  device: {device}\n"
                f"  mixed_precision: {precision}\n  seed: 3\n{extra}")
    run(cli, "workspace", "init", ws)
    return steps_of(run(cli, "train", config, "--workspace", ws)), ws, config


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cli", required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--work")
    args = parser.parse_args()
    gpu = args.device.startswith("cuda")
    work = args.work or tempfile.mkdtemp(prefix="tunebench-cuda-checks-")
    model = os.path.join(work, "model")
    data = os.path.join(work, "data.jsonl")
    make_model(model, "tiny", seed=2)
    make_data(data, 64, seed=2)

    version = run(args.cli, "--version")
    check("--version names CUDA and a visible GPU", ("with CUDA" in version and "a GPU is visible" in version)
          if gpu else "LibTorch" in version, version.strip().replace("\n", "; "))

    # Logits: CPU, GPU and transformers on the GPU.
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    ids = os.path.join(work, "ids.jsonl")
    with open(ids, "w") as f:
        f.write(json.dumps([5, 17, 42, 7, 99, 3, 250, 11]) + "\n" + json.dumps(list(range(40, 72))) + "\n")
    run(args.cli, "forward", "--model", model, "--input", ids, "--out", os.path.join(work, "cpu.safetensors"))
    run(args.cli, "forward", "--model", model, "--input", ids, "--out", os.path.join(work, "dev.safetensors"),
        "--device", args.device)
    cpu, dev = load_file(os.path.join(work, "cpu.safetensors")), load_file(os.path.join(work, "dev.safetensors"))
    diff = max((cpu[k] - dev[k]).abs().max().item() for k in cpu if k.startswith("logits."))
    check(f"forward on {args.device} equals the CPU", diff <= 1e-4, f"max |diff| {diff:.2e}")
    reference = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32, attn_implementation="eager")
    reference.to(args.device).eval()
    worst = 0.0
    with torch.no_grad():
        for k in [k for k in dev if k.startswith("logits.")]:
            i = k.split(".")[1]
            theirs = reference(input_ids=dev[f"input_ids.{i}"].long().unsqueeze(0).to(args.device)).logits[0]
            worst = max(worst, (theirs.float().cpu() - dev[k].float()).abs().max().item())
    check(f"forward on {args.device} equals transformers on {args.device}", worst <= 1e-4, f"max |diff| {worst:.2e}")

    # Greedy generation.
    cpu_text = run(args.cli, "generate", "--model", model, "--prompt", "abc de", "--max-new-tokens", "24")
    dev_text = run(args.cli, "generate", "--model", model, "--prompt", "abc de", "--max-new-tokens", "24",
                   "--device", args.device)
    check(f"greedy generate on {args.device} equals the CPU", cpu_text == dev_text)

    # Training.
    reference_steps, _, _ = train(args.cli, work, "cpu-full", model, data, "cpu", "full", "none")
    for adapter in ("lora", "full"):
        for precision in ("none", "bf16"):
            steps, _, _ = train(args.cli, work, f"{adapter}-{precision}", model, data, args.device, adapter, precision)
            losses = [s["loss"] for s in steps]
            finite = all(math.isfinite(x) for x in losses)
            check(f"{adapter} {precision} trains on {args.device}", finite and losses[-1] < losses[0],
                  f"loss {losses[0]:.4f} -> {losses[-1]:.4f}")
            if gpu:
                memory = all("device_peak_memory_mb" in s and s["device_peak_memory_mb"] > 0 for s in steps)
                check(f"{adapter} {precision} step events carry GPU memory", memory,
                      f"peak {steps[-1].get('device_peak_memory_mb', 0):.1f} MiB")
            if adapter == "full" and precision == "none":
                rel = max(abs(a["loss"] - b["loss"]) / abs(b["loss"]) for a, b in zip(steps, reference_steps))
                check(f"full float32 on {args.device} follows the CPU's losses", rel <= 1e-4, f"max rel {rel:.2e}")

    failed = RESULTS.count(False)
    print(f"{len(RESULTS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
