#!/usr/bin/env python3
"""Training throughput and peak memory: Tunebench against transformers + PEFT on the same model and batch.

Part of scripts/gpu-check (run on a GPU machine with a CUDA PyTorch, transformers, peft and tokenizers).
It makes a random Llama-shaped model (~0.5B parameters: hidden 1024, 28 layers, 16 heads with 8 key/value
heads, SwiGLU MLP 4096, vocabulary 32000, untied head) with a BPE tokenizer trained here by `tokenizers`, and
a data set of generated text longer than the cutoff, so every example is exactly SEQ tokens. Then, for LoRA
(r 16, alpha 32, all linear layers) and full fine-tuning, with bfloat16 autocast over float32 weights,
AdamW, clipping at norm 1 and a constant learning rate:

- Tunebench: `tunebench-cli train` in its own process; tokens/s is the median of the step events after the
  warm-up steps, peak memory the allocator's peak it reports (device_peak_memory_mb);
- transformers + PEFT: the same steps in PyTorch eager (AdamW fused, as Tunebench uses it on CUDA), timed
  with a device synchronisation per step; peak memory from torch.cuda.max_memory_allocated.

Prints one JSON line per (method, side) and a table with the ratio Tunebench / PyTorch. Figures only: it
asserts nothing but that every run finished (exit 1 otherwise).

  bench_gpu_train.py --cli build-gpu/bin/tunebench-cli [--device cuda] [--size 0.5b|tiny] [--steps N]
                     [--batch B] [--seq T] [--methods lora,full] [--work DIR]

--size tiny --device cpu rehearses the whole path on a machine without a GPU in seconds.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

SIZES = {
    # hidden, layers, heads, kv heads, MLP, vocabulary
    "0.5b": (1024, 28, 16, 8, 4096, 32000),
    "tiny": (64, 2, 4, 2, 160, 600),
}


def words(rng, count):
    letters = "abcdefghijklmnopqrstuvwxyz"
    return " ".join("".join(rng.choice(letters) for _ in range(rng.randint(1, 9))) for _ in range(count))


def make_model(folder, size, seed):
    """A random Llama folder (safetensors) with a byte-level BPE tokenizer of the model's vocabulary."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM

    hidden, layers, heads, kv_heads, mlp, vocab = SIZES[size]
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(seed)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator((words(rng, 200) for _ in range(4000 if size != "tiny" else 200)), trainer)
    tokenizer.save(os.path.join(folder, "tokenizer.json"))
    eos = tokenizer.token_to_id("<|endoftext|>")
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"eos_token": "<|endoftext|>", "model_max_length": 4096}, f)
    config = LlamaConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                         num_key_value_heads=kv_heads, intermediate_size=mlp, max_position_embeddings=4096,
                         tie_word_embeddings=False, bos_token_id=eos, eos_token_id=eos)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder, safe_serialization=True)
    return sum(p.numel() for p in model.parameters())


def make_data(path, count, seed):
    rng = random.Random(seed + 1)
    with open(path, "w") as f:
        for _ in range(count):
            f.write(json.dumps({"text": words(rng, 1200)}) + "\n")


ADAPTERS = {
    "lora": "adapter:\n  type: lora\n  r: 16\n  lora_alpha: 32\n  target_modules: all-linear\n",
    "full": "adapter:\n  type: full\n",
}


def tunebench(cli, model, data, work, method, args):
    ws = os.path.join(work, f"ws-{method}")
    config = os.path.join(work, f"{method}.yaml")
    with open(config, "w") as f:
        f.write(f"name: gpu-bench-{method}\nmodel: {model}\ndataset: {data}\nobjective: sft\n{ADAPTERS[method]}"
                f"training:\n  learning_rate: 1.0e-5\n  lr_scheduler_type: constant\n  max_steps: {args.steps}\n"
                f"  per_device_train_batch_size: {args.batch}\n  cutoff_len: {args.seq}\n  max_grad_norm: 1.0\n"
                f"  device: {args.device}\n  mixed_precision: bf16\n  logging_steps: 1\n  save_total_limit: 1\n")
    subprocess.run([cli, "workspace", "init", ws], check=True, capture_output=True)
    started = time.time()
    proc = subprocess.run([cli, "train", config, "--workspace", ws], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"tunebench-cli train ({method}) failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    steps = []
    for line in proc.stdout.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if event.get("event") == "step":
            steps.append(event)
    timed = [s["tokens_per_s"] for s in steps[args.warmup:]]
    return {"side": "tunebench", "method": method, "tokens_per_s": statistics.median(timed),
            "peak_memory_mb": steps[-1].get("device_peak_memory_mb"), "final_loss": steps[-1]["loss"],
            "wall_s": time.time() - started}


def pytorch(model_dir, data, method, args):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = torch.device(args.device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32,
                                                 attn_implementation="sdpa").to(device)
    if method == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear",
                                                 lora_dropout=0.0))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5, weight_decay=0.0, fused=device.type == "cuda")
    with open(data) as f:
        texts = [json.loads(line)["text"] for line in f]
    encoded = tokenizer(texts, truncation=True, max_length=args.seq, return_tensors="pt")["input_ids"]
    times, loss = [], None
    for step in range(args.steps):
        rows = [(step * args.batch + i) % encoded.shape[0] for i in range(args.batch)]
        ids = encoded[rows].to(device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        value = loss.item()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - started)
    tokens = args.batch * encoded.shape[1]
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    result = {"side": "pytorch", "method": method, "tokens_per_s": statistics.median(tokens / t for t in times[args.warmup:]),
              "peak_memory_mb": peak, "final_loss": value}
    del model, optimizer
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cli", required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", choices=sorted(SIZES), default="0.5b")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--methods", default="lora,full")
    parser.add_argument("--work", help="folder for the model and workspaces (default: a temporary folder)")
    args = parser.parse_args()
    if args.steps <= args.warmup:
        parser.error("--steps must exceed --warmup")

    import torch
    import transformers

    work = args.work or tempfile.mkdtemp(prefix="tunebench-gpu-bench-")
    model_dir = os.path.join(work, f"llama-{args.size}")
    data = os.path.join(work, "data.jsonl")
    started = time.time()
    count = make_model(model_dir, args.size, seed=1)
    make_data(data, max(64, args.batch * args.steps), seed=1)
    device_name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "CPU"
    print(f"# {device_name}; torch {torch.__version__}, transformers {transformers.__version__}; "
          f"model {count / 1e6:.0f}M parameters ({args.size}); batch {args.batch} x {args.seq} tokens; "
          f"bf16 autocast, AdamW; {args.steps} steps, median after {args.warmup}; set-up {time.time() - started:.0f} s",
          flush=True)
    results = []
    failed = False
    for method in args.methods.split(","):
        for side in ("tunebench", "pytorch"):
            try:
                r = tunebench(args.cli, model_dir, data, work, method, args) if side == "tunebench" \
                    else pytorch(model_dir, data, method, args)
            except Exception as e:  # noqa: BLE001 - report and go on with the other runs
                print(f"# {side} {method}: {type(e).__name__}: {e}", flush=True)
                failed = True
                continue
            results.append(r)
            print(json.dumps(r), flush=True)
    print(f"{'method':6s} {'tunebench tok/s':>16s} {'pytorch tok/s':>14s} {'ratio':>6s} "
          f"{'tunebench peak MiB':>19s} {'pytorch peak MiB':>17s}")
    for method in args.methods.split(","):
        t = next((r for r in results if r["method"] == method and r["side"] == "tunebench"), None)
        p = next((r for r in results if r["method"] == method and r["side"] == "pytorch"), None)
        if not t or not p:
            continue
        mem = lambda r: f"{r['peak_memory_mb']:.0f}" if r["peak_memory_mb"] is not None else "-"  # noqa: E731
        print(f"{method:6s} {t['tokens_per_s']:16.0f} {p['tokens_per_s']:14.0f} "
              f"{t['tokens_per_s'] / p['tokens_per_s']:6.2f} {mem(t):>19s} {mem(p):>17s}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
