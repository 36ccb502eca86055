#!/usr/bin/env python3
"""Compare Tunebench's models with Hugging Face transformers on the same random weights.

    tests/reference/run compare_transformers.py --cli build/app/tunebench-cli [--work DIR]
        [--tolerance 1e-4] [--new-tokens 12] [--only NAME ...]

For each case, Tunebench writes a random float32 model folder (`tunebench-cli make-model`, on a small
byte-level BPE tokenizer this script writes, so nothing outside the checkout is needed), computes
logits (`tunebench-cli forward`) and greedy continuations (`tunebench-cli generate --json`). This script
loads the same folder with transformers (AutoModelForCausalLM, float32, eager attention) and checks, in
one Python process:

- logits of single sequences of 1, 7 and 24 tokens, and of a padded batch (a full row, a right-padded
  and a left-padded one, with their attention_mask), within --tolerance; padded positions are not
  compared. Tunebench counts a row's positions from its first token (as transformers' generate() does),
  so transformers is given those position_ids;
- greedy generation: the same token ids as model.generate(do_sample=False) for a text prompt and for
  two prompts of token ids that Tunebench generates together (left-padded) and transformers one by one.

The cases cover Llama, Mistral, Qwen2, Qwen3 and GPT-2: grouped-query attention, tied and untied
embeddings, biases, q/k norms, a free head_dim, sliding windows shorter than the inputs, rope scaling
(linear, llama3 and yarn with its options), weights stored in bfloat16.

Prints per case the largest |logit difference| and the generation result. Exit status: 0 all agree,
1 a difference beyond the tolerance or a different continuation, 2 usage or a failing command.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

COMMON = ["--hidden-size", "64", "--num-layers", "2", "--num-heads", "4", "--intermediate-size", "160", "--seed", "1"]

# name -> (make-model options beyond COMMON, replacement for config.json's rope_scaling or None).
# Each switches on what sets the architecture apart.
CASES = {
    "llama-gqa": (["--arch", "llama", "--num-kv-heads", "2"], None),
    "llama-rope-llama3": (["--arch", "llama", "--num-kv-heads", "1", "--rope-scaling", "llama3"], None),
    "llama-rope-linear-tied": (["--arch", "llama", "--rope-scaling", "linear", "--tie-word-embeddings", "true"], None),
    # factor 4 over an original context of 2048 / 4: the defaults (beta 32 / 1, truncated band, attention
    # factor 0.1 ln 4 + 1).
    "llama-rope-yarn": (["--arch", "llama", "--num-kv-heads", "2", "--rope-scaling", "yarn"], None),
    "llama-bf16-weights": (["--arch", "llama", "--dtype", "bfloat16"], None),
    "mistral-gqa": (["--arch", "mistral", "--num-kv-heads", "2"], None),
    "mistral-window-8": (["--arch", "mistral", "--num-kv-heads", "2", "--sliding-window", "8"], None),
    "qwen2": (["--arch", "qwen2", "--num-kv-heads", "2"], None),
    "qwen2-window-8": (["--arch", "qwen2", "--num-kv-heads", "2", "--sliding-window", "8"], None),
    # Every yarn option: an untruncated band from other betas, the attention factor from mscale and
    # mscale_all_dim.
    "qwen2-rope-yarn-options": (
        ["--arch", "qwen2", "--num-kv-heads", "2", "--rope-scaling", "yarn"],
        {"rope_type": "yarn", "factor": 3.0, "original_max_position_embeddings": 256, "beta_fast": 16,
         "beta_slow": 2, "truncate": False, "mscale": 0.8, "mscale_all_dim": 0.5},
    ),
    "qwen3-head-dim-24": (["--arch", "qwen3", "--num-kv-heads", "2", "--head-dim", "24"], None),
    # An explicit attention_factor, and factor null: max_position_embeddings / original context (8).
    "qwen3-untied-rope-yarn-null-factor": (
        ["--arch", "qwen3", "--tie-word-embeddings", "false", "--max-positions", "4096", "--rope-scaling", "yarn"],
        {"rope_type": "yarn", "factor": None, "original_max_position_embeddings": 512, "attention_factor": 0.875},
    ),
    "gpt2-tied": (["--arch", "gpt2"], None),
    "gpt2-untied": (["--arch", "gpt2", "--tie-word-embeddings", "false", "--intermediate-size", "96"], None),
}
LENGTHS = [1, 7, 24]
BATCH_WIDTH = 12
PROMPT = "the cat sat on the mat"
PROMPT_IDS_LENGTHS = [20, 3]  # generated together (left padding); the first longer than the sliding windows


class CommandFailed(Exception):
    pass


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise CommandFailed(f"failed ({result.returncode}): {' '.join(command)}\n{result.stderr}")
    return result.stdout


def byte_level_alphabet():
    """GPT-2's byte -> printable character table: printable Latin-1 bytes stand for themselves, the
    others take the characters from U+0100 on, in byte order."""
    printable = set(range(ord("!"), ord("~") + 1)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    table = []
    extra = 0
    for b in range(256):
        if b in printable:
            table.append(chr(b))
        else:
            table.append(chr(256 + extra))
            extra += 1
    return table


def write_tokenizer(folder):
    """A byte-level BPE tokenizer: 256 byte tokens, 7 merges, <|endoftext|> (id 263) as BOS and EOS."""
    os.makedirs(folder, exist_ok=True)
    vocab = {ch: i for i, ch in enumerate(byte_level_alphabet())}
    space = "\u0120"
    merges = [(space, "t"), ("h", "e"), (space + "t", "he"), ("i", "n"), (space, "a"), ("e", "r"), ("o", "n")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    eos = {"id": len(vocab), "content": "<|endoftext|>", "single_word": False, "lstrip": False, "rstrip": False,
           "normalized": False, "special": True}
    doc = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [eos], "normalizer": None,
        "pre_tokenizer": byte_level, "post_processor": byte_level, "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                  "merges": [f"{a} {b}" for a, b in merges]},
    }
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "tokenizer_class": "GPT2Tokenizer",
                   "model_max_length": 1024}, f)


def padded_batch(rng, vocab):
    """A full row, a right-padded and a left-padded one (padding id 0, masked)."""
    ids, mask = [], []
    for real, left in ((BATCH_WIDTH, False), (7, False), (5, True)):
        tokens = [rng.randrange(vocab) for _ in range(real)]
        pad = BATCH_WIDTH - real
        ids.append([0] * pad + tokens if left else tokens + [0] * pad)
        mask.append([0] * pad + [1] * real if left else [1] * real + [0] * pad)
    return {"input_ids": ids, "attention_mask": mask}


def prepare(cli, work, names, new_tokens):
    """Writes each case's model, its inputs, Tunebench's logits and continuations."""
    tokenizer = os.path.join(work, "tokenizer")
    write_tokenizer(tokenizer)
    cases = []
    for name in names:
        options, rope = CASES[name]
        folder = os.path.join(work, name)
        common = list(COMMON)
        if "--intermediate-size" in options:  # the case's own size wins
            i = common.index("--intermediate-size")
            del common[i : i + 2]
        run([cli, "make-model", *options, *common, "--tokenizer", tokenizer, "--out", folder])
        config_file = os.path.join(folder, "config.json")
        with open(config_file) as f:
            config = json.load(f)
        if rope is not None:
            config["rope_scaling"] = rope
            with open(config_file, "w") as f:
                json.dump(config, f, indent=2)
        vocab = config["vocab_size"]
        rng = random.Random(7)
        inputs = [[rng.randrange(vocab) for _ in range(n)] for n in LENGTHS] + [padded_batch(rng, vocab)]
        ids_file = os.path.join(folder, "inputs.jsonl")
        with open(ids_file, "w") as f:
            for line in inputs:
                f.write(json.dumps(line) + "\n")
        logits = os.path.join(folder, "logits.safetensors")
        run([cli, "forward", "--model", folder, "--input", ids_file, "--out", logits])
        generations = []
        prompt_ids = [[rng.randrange(vocab - 1) for _ in range(n)] for n in PROMPT_IDS_LENGTHS]  # no EOS inside
        for source in (["--prompt", PROMPT], ["--prompt-ids", json.dumps(prompt_ids)]):
            out = run([cli, "generate", "--model", folder, *source, "--max-new-tokens", str(new_tokens), "--json"])
            generations += [json.loads(line) for line in out.splitlines() if line.strip()]
        cases.append((name, folder, logits, generations))
    return cases


def generate_position_ids(mask):
    """Positions counted from each row's first token, padding at 0: what transformers' generate() passes."""
    positions = mask.long().cumsum(-1) - 1
    return positions.masked_fill(mask == 0, 0)


def compare(cases, tolerance, new_tokens):
    import torch
    import transformers
    from safetensors.torch import load_file

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    print(f"transformers {transformers.__version__}, torch {torch.__version__}; tolerance {tolerance:g}")
    failed = []
    worst = 0.0
    generated = 0
    for name, folder, logits_file, generations in cases:
        ours = load_file(logits_file)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            folder, attn_implementation="eager", dtype=torch.float32
        )
        model.eval()
        diff = 0.0
        scale = 0.0
        problems = []
        count = len([k for k in ours if k.startswith("logits.")])
        with torch.no_grad():
            for i in range(count):
                ids = ours[f"input_ids.{i}"]
                mine = ours[f"logits.{i}"].float()
                if ids.dim() == 1:
                    reference = model(input_ids=ids.unsqueeze(0)).logits[0].float()
                    real = torch.ones(ids.shape, dtype=torch.bool)
                else:
                    mask = ours[f"attention_mask.{i}"]
                    reference = model(
                        input_ids=ids, attention_mask=mask, position_ids=generate_position_ids(mask)
                    ).logits.float()
                    real = mask.bool()
                if reference.shape != mine.shape:
                    problems.append(f"input {i}: shapes differ, transformers {tuple(reference.shape)}, "
                                    f"Tunebench {tuple(mine.shape)}")
                    continue
                diff = max(diff, (reference - mine).abs()[real].max().item())
                scale = max(scale, reference[real].abs().max().item())
            same = 0
            eos = model.config.eos_token_id
            for g in generations:
                prompt = torch.tensor([g["prompt_ids"]])
                out = model.generate(
                    prompt,
                    attention_mask=torch.ones_like(prompt),
                    do_sample=False,
                    num_beams=1,
                    max_new_tokens=new_tokens,
                    eos_token_id=eos,
                    pad_token_id=eos if isinstance(eos, int) else eos[0],
                )
                reference_ids = out[0, prompt.shape[1] :].tolist()
                if reference_ids == g["ids"]:
                    same += 1
                else:
                    problems.append(f"prompt {g['prompt_ids'][:8]}...: transformers continues with "
                                    f"{reference_ids}, Tunebench with {g['ids']}")
        generated += len(generations)
        if diff > tolerance:
            problems.append(f"max |logit diff| {diff:.3e} > {tolerance:g}")
        arch = model.config.architectures[0] if model.config.architectures else model.config.model_type
        status = "ok" if not problems else "FAIL"
        print(f"{name:36s} {arch:18s} max |logit diff| {diff:.3e} (max |logit| {scale:5.2f}, {count} inputs), "
              f"greedy {same}/{len(generations)} equal  {status}")
        for p in problems:
            print(f"    {p}")
        worst = max(worst, diff)
        if problems:
            failed.append(name)
    print(f"{len(cases) - len(failed)} of {len(cases)} cases agree; worst |logit diff| {worst:.3e}; "
          f"{generated} greedy continuations compared")
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cli", required=True, help="the tunebench-cli executable")
    parser.add_argument("--work", help="folder for the models (kept; default: a temporary folder, removed)")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--new-tokens", type=int, default=12, help="greedy tokens per prompt")
    parser.add_argument("--only", nargs="+", choices=list(CASES), help="run these cases only")
    args = parser.parse_args()
    if args.new_tokens < 1:
        parser.error("--new-tokens must be positive")
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        print(f"compare_transformers.py: {e} (run it with the reference environment: tests/reference/run)",
              file=sys.stderr)
        return 2

    work = args.work or tempfile.mkdtemp(prefix="tunebench-compare-")
    try:
        cases = prepare(args.cli, work, args.only or list(CASES), args.new_tokens)
        return compare(cases, args.tolerance, args.new_tokens)
    except CommandFailed as e:
        print(e, file=sys.stderr)
        return 2
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
