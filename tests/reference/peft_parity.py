#!/usr/bin/env python3
"""Adapter parity between Tunebench and Hugging Face PEFT, on a tiny random Llama, in one process.

    tests/reference/run peft_parity.py --cli build/app/tunebench-cli [--work DIR] [--group NAME ...]

Everything is made here: a byte-level BPE tokenizer, a random Llama (`tunebench-cli make-model`: hidden 32,
4 heads with 2 key/value heads, 2 layers), a few text records and a workspace. Four groups of cases:

  export    Tunebench trains each adapter a few steps (lora, rslora, dora, pissa, chain_of_lora, ia3, prompt and
            prefix tuning), exports it with `export --format peft`; PeftModel.from_pretrained loads the folder and
            computes the logits `tunebench-cli forward --adapter RUN_ADAPTER` writes (tolerance 1e-4).
  import    PEFT makes and trains adapters (LoRA, rsLoRA, DoRA, IA3, prompt and prefix tuning) and saves them as
            safetensors; `import-adapter` records each as a run, whose logits must be PEFT's (1e-4).
  merged    `export --format merged` of the LoRA-family and IA3 runs of both groups above against PEFT's
            merge_and_unload() of the same PEFT folder: every weight, and the logits of the folder loaded with
            transformers (1e-4).
  training  PEFT initialises an adapter (moved off its identity start); Tunebench trains from it (init_adapter)
            and PEFT trains with torch.optim on the same batch, 3 steps with a constant learning rate, no warm-up,
            no clipping and the same weight decay. Each step's loss and gradient norm and the final weights must
            agree within 1e-5.

Models run in float32 with eager attention on the CPU. For prompt tuning PEFT returns logits for the virtual
tokens too; they are dropped, as Tunebench returns the caller's tokens only. One line per case with its worst
differences, then one summary line per group. Exit status 0 when every case is within its tolerance, 1 when one
is not, 2 on a usage error or when something fails to run or load.
"""

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile

LOGIT_TOLERANCE = 1e-4
TRAIN_TOLERANCE = 1e-5

# The tiny Llama every case uses; GQA so that prefix tuning's token_dim differs from the hidden size.
MODEL = ["--arch", "llama", "--hidden-size", "32", "--num-layers", "2", "--num-heads", "4", "--num-kv-heads", "2",
         "--intermediate-size", "64", "--seed", "5"]
TEXTS = ["the cat sat on the mat", "a dog ran in the park and then it sat down",
         "the sun rose over the hill", "on the mat the cat sat and sat"]
SEQUENCE_LENGTHS = [1, 6, 13]

# Tunebench's adapter sections for the export group (trained 3 steps at 1e-2, batch 4).
EXPORT_ADAPTERS = {
    "lora": "type: lora\n  r: 4\n  lora_alpha: 8\n  lora_dropout: 0.1\n  target_modules: [q_proj, v_proj]",
    "rslora": "type: rslora\n  r: 4\n  lora_alpha: 8\n  target_modules: all-linear",
    "dora": "type: dora\n  r: 4\n  lora_alpha: 8\n  target_modules: [q_proj, v_proj, down_proj]",
    "pissa": "type: pissa\n  r: 4\n  lora_alpha: 4\n  target_modules: [q_proj, k_proj, v_proj]",
    # Links of one step: after 3 steps the chain holds finished links and one in training.
    "chain_of_lora": "type: chain_of_lora\n  r: 4\n  lora_alpha: 8\n  chain_links: 3\n  chain_link_steps: 1\n"
                     "  target_modules: [q_proj, o_proj, up_proj]",
    "ia3": "type: ia3",
    "prompt_tuning": "type: prompt_tuning\n  num_virtual_tokens: 4\n  prompt_tuning_init: text\n"
                     "  prompt_tuning_init_text: the cat",
    "prefix_tuning": "type: prefix_tuning\n  num_virtual_tokens: 4\n  prefix_projection: true\n"
                     "  encoder_hidden_size: 16",
}
MERGEABLE = ["lora", "rslora", "dora", "pissa", "chain_of_lora", "ia3"]


class Failure(Exception):
    """Something did not run or load: exit status 2."""


# --- Setup -------------------------------------------------------------------------------------------------------


def byte_alphabet():
    """GPT-2's byte-level alphabet: printable bytes stand for themselves, the others for code points from 256."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    mapping, extra = {}, 0
    for b in range(256):
        if b in printable:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return [mapping[b] for b in range(256)]


def write_tokenizer(folder):
    """A byte-level BPE tokenizer: 256 byte tokens, merges for a few common pieces, <|endoftext|> as BOS and EOS."""
    os.makedirs(folder, exist_ok=True)
    vocab = {symbol: i for i, symbol in enumerate(byte_alphabet())}
    space = "\u0120"
    merges = [(space, "t"), ("h", "e"), (space + "t", "he"), ("a", "t"), (space, "s"), ("o", "n"), (space, "c"),
              (space + "c", "at"), (space, "m"), (space + "m", "at")]
    for left, right in merges:
        vocab[left + right] = len(vocab)
    eos = len(vocab)
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    document = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": eos, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None, "pre_tokenizer": byte_level, "post_processor": byte_level, "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                  "merges": [f"{a} {b}" for a, b in merges]},
    }
    with open(os.path.join(folder, "tokenizer.json"), "w") as f:
        json.dump(document, f)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "tokenizer_class": "GPT2Tokenizer",
                   "model_max_length": 1024}, f)
    return eos


class Context:
    def __init__(self, cli, work):
        self.cli = cli
        self.work = work
        self.base = os.path.join(work, "base")
        self.ws = os.path.join(work, "ws")
        self.data = os.path.join(work, "texts.jsonl")
        self.ids_file = os.path.join(work, "ids.jsonl")
        self.sequences = []
        self.eos = None
        self.runs = {}  # export group: adapter -> run id
        self.imported = {}  # import group: name -> (run id, PEFT folder)
        self.exported = {}  # export group: adapter -> PEFT folder

    def run(self, *args):
        result = subprocess.run([self.cli, *args], capture_output=True, text=True)
        if result.returncode != 0:
            raise Failure(f"tunebench-cli {' '.join(args)} failed ({result.returncode}):\n{result.stderr.strip()}")
        return result.stdout

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def run_adapter(self, run_id):
        return os.path.join(self.ws, "runs", str(run_id), "adapter")


def setup(ctx):
    tokenizer = ctx.path("tokenizer")
    ctx.eos = write_tokenizer(tokenizer)
    ctx.run("make-model", *MODEL, "--tokenizer", tokenizer, "--out", ctx.base)
    with open(ctx.data, "w") as f:
        for text in TEXTS:
            f.write(json.dumps({"text": text}) + "\n")
    with open(os.path.join(ctx.base, "config.json")) as f:
        vocab = json.load(f)["vocab_size"]
    rng = random.Random(11)
    ctx.sequences = [[rng.randrange(vocab) for _ in range(n)] for n in SEQUENCE_LENGTHS]
    with open(ctx.ids_file, "w") as f:
        for ids in ctx.sequences:
            f.write(json.dumps(ids) + "\n")
    ctx.run("workspace", "init", ctx.ws)


def train_config(ctx, name, adapter_section, training, extra=""):
    """Writes a run configuration; returns its path."""
    path = ctx.path(f"{name}.yaml")
    lines = [f"name: {name}", f"model: {ctx.base}", f"dataset: {ctx.data}", "objective: sft"]
    if extra:
        lines.append(extra)
    lines.append("adapter:\n  " + adapter_section)
    lines.append("training:")
    lines += [f"  {k}: {v}" for k, v in training.items()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def train(ctx, config):
    """Runs tunebench-cli train; returns (run id, step events)."""
    out = ctx.run("train", config, "--workspace", ctx.ws)
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    start = next((e for e in events if e.get("event") == "start"), None)
    if start is None or start.get("run_id") is None:
        raise Failure(f"tunebench-cli train {config}: no start event with a run id in its output")
    return start["run_id"], [e for e in events if e.get("event") == "step"]


def tunebench_logits(ctx, model, adapter=None, name="logits"):
    import torch
    from safetensors.torch import load_file

    out = ctx.path(f"{name}.safetensors")
    args = ["forward", "--model", model, "--input", ctx.ids_file, "--out", out]
    if adapter:
        args += ["--adapter", adapter]
    ctx.run(*args)
    tensors = load_file(out)
    return [tensors[f"logits.{i}"].to(torch.float32) for i in range(len(ctx.sequences))]


# --- PEFT side ---------------------------------------------------------------------------------------------------


def load_model(folder):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    return model


def virtual_tokens(model):
    from peft import PeftType

    config = model.active_peft_config
    return config.num_virtual_tokens if config.peft_type == PeftType.PROMPT_TUNING else 0


def reference_logits(model, sequences):
    import torch

    skip = virtual_tokens(model) if hasattr(model, "active_peft_config") else 0
    out = []
    with torch.no_grad():
        for ids in sequences:
            logits = model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long))
            out.append(logits.logits[0, skip:].float())
    return out


def max_diff(a, b):
    worst = 0.0
    for x, y in zip(a, b):
        if x.shape != y.shape:
            raise Failure(f"shapes differ: {tuple(x.shape)} against {tuple(y.shape)}")
        worst = max(worst, (x - y).abs().max().item())
    return worst


def text_batch(ctx):
    """The records as Tunebench encodes {"text"} records without a chat template: the text's tokens (the tokenizer
    adds no special tokens here), EOS appended, right-padded; every real token is a label."""
    import torch
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(os.path.join(ctx.base, "tokenizer.json"))
    rows = [tokenizer.encode(text).ids + [ctx.eos] for text in TEXTS]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), ctx.eos, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
        labels[i, : len(row)] = torch.tensor(row)
    return ids, mask, labels


# --- Groups ------------------------------------------------------------------------------------------------------


def group_export(ctx, report):
    from peft import PeftModel

    base_logits = reference_logits(load_model(ctx.base), ctx.sequences)
    training = {"learning_rate": "1.0e-2", "max_steps": 3, "per_device_train_batch_size": 4, "seed": 42,
                "cutoff_len": 64, "threads": 1}
    for adapter, section in EXPORT_ADAPTERS.items():
        run_id, _ = train(ctx, train_config(ctx, f"export-{adapter}", section, training))
        ctx.runs[adapter] = run_id
        folder = ctx.path(f"peft-{adapter}")
        ctx.run("export", "--workspace", ctx.ws, "--run", str(run_id), "--format", "peft", "--out", folder)
        ctx.exported[adapter] = folder
        ours = tunebench_logits(ctx, ctx.base, ctx.run_adapter(run_id))
        model = PeftModel.from_pretrained(load_model(ctx.base), folder)
        model.eval()
        theirs = reference_logits(model, ctx.sequences)
        report.case("export", adapter, {"logits": (max_diff(ours, theirs), LOGIT_TOLERANCE)},
                    changed=max_diff(theirs, base_logits))


def peft_configs():
    from peft import IA3Config, LoraConfig, PrefixTuningConfig, PromptTuningConfig

    return {
        "lora": LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]),
        "rslora": LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, use_rslora=True, target_modules="all-linear"),
        "dora": LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, use_dora=True,
                           target_modules=["q_proj", "v_proj", "down_proj"]),
        "ia3": IA3Config(task_type="CAUSAL_LM", target_modules=["k_proj", "v_proj", "down_proj"],
                         feedforward_modules=["down_proj"]),
        "prompt_tuning": PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4),
        "prefix_tuning": PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4),
    }


def group_import(ctx, report):
    import torch
    from peft import get_peft_model

    base_logits = reference_logits(load_model(ctx.base), ctx.sequences)
    vocab = load_model(ctx.base).config.vocab_size
    for name, config in peft_configs().items():
        torch.manual_seed(3)
        model = get_peft_model(load_model(ctx.base), config)
        # A few optimiser steps on random tokens so that no adapter is at its identity start.
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.05)
        model.train()
        for _ in range(3):
            ids = torch.randint(0, vocab, (2, 12))
            loss = model(input_ids=ids, labels=ids).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        folder = ctx.path(f"peft-made-{name}")
        model.save_pretrained(folder, safe_serialization=True)
        theirs = reference_logits(model, ctx.sequences)
        out = ctx.run("import-adapter", "--workspace", ctx.ws, "--model", ctx.base, "--adapter", folder,
                      "--name", f"imported {name}")
        run_id = json.loads(out.strip().splitlines()[-1])["run"]
        ctx.imported[name] = (run_id, folder)
        ours = tunebench_logits(ctx, ctx.base, ctx.run_adapter(run_id))
        report.case("import", name, {"logits": (max_diff(ours, theirs), LOGIT_TOLERANCE)},
                    changed=max_diff(theirs, base_logits))


def group_merged(ctx, report):
    from peft import PeftModel
    from safetensors.torch import load_file

    cases = [(f"{a} (Tunebench run)", ctx.runs[a], ctx.exported[a]) for a in MERGEABLE if a in ctx.runs]
    cases += [(f"{n} (PEFT-made)", r, f) for n, (r, f) in ctx.imported.items() if n in MERGEABLE]
    if not cases:
        raise Failure("merged: needs the export or import group's runs")
    base_state = load_model(ctx.base).state_dict()
    for label, run_id, peft_folder in cases:
        folder = ctx.path(f"merged-{run_id}")
        ctx.run("export", "--workspace", ctx.ws, "--run", str(run_id), "--format", "merged", "--out", folder)
        merged = PeftModel.from_pretrained(load_model(ctx.base), peft_folder).merge_and_unload()
        merged.eval()
        theirs = merged.state_dict()
        ours = load_file(os.path.join(folder, "model.safetensors"))
        # A tied lm_head is saved once; transformers lists it under both names.
        if "lm_head.weight" not in ours and "lm_head.weight" in theirs:
            ours["lm_head.weight"] = ours["model.embed_tokens.weight"]
        if set(ours) != set(theirs):
            raise Failure(f"merged {label}: tensor names differ: only Tunebench {sorted(set(ours) - set(theirs))}, "
                          f"only PEFT {sorted(set(theirs) - set(ours))}")
        weights = max((ours[k].float() - theirs[k].float()).abs().max().item() for k in ours)
        changed = max((theirs[k].float() - base_state[k].float()).abs().max().item() for k in theirs)
        # The folder as transformers loads it (config.json included) computes the merged model's logits.
        logits = max_diff(reference_logits(load_model(folder), ctx.sequences), reference_logits(merged, ctx.sequences))
        report.case("merged", label, {"weights": (weights, LOGIT_TOLERANCE), "logits": (logits, LOGIT_TOLERANCE)},
                    changed=changed)


def training_cases():
    """name -> (Tunebench adapter section, PEFT config factory, how the start is handed over, decay rule, optimiser).

    handover 'peft': Tunebench's init_adapter reads the PEFT folder; 'run': a Tunebench run adapter folder holds what
    a PEFT folder cannot (PiSSA's initial factors, prefix tuning's projection MLP). decay: see decays()."""
    from peft import IA3Config, LoraConfig, PrefixTuningConfig, PromptTuningConfig

    lora = "r: 4\n  lora_alpha: 8\n  lora_dropout: 0.0\n  target_modules: [q_proj, v_proj]"
    return {
        "lora": ("type: lora\n  " + lora,
                 lambda: LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]),
                 "peft", "all", "adamw"),
        "lora-sgd": ("type: lora\n  " + lora,
                     lambda: LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]),
                     "peft", "all", "sgd"),
        "rslora": ("type: rslora\n  r: 4\n  lora_alpha: 8\n  target_modules: all-linear",
                   lambda: LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, use_rslora=True,
                                      target_modules="all-linear"),
                   "peft", "all", "adamw"),
        "dora": ("type: dora\n  r: 4\n  lora_alpha: 8\n  target_modules: [q_proj, v_proj, down_proj]",
                 lambda: LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, use_dora=True,
                                    target_modules=["q_proj", "v_proj", "down_proj"]),
                 "peft", "all", "adamw"),
        "pissa": ("type: pissa\n  r: 4\n  lora_alpha: 4\n  target_modules: [q_proj, k_proj, v_proj]",
                  lambda: LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=4, init_lora_weights="pissa",
                                     target_modules=["q_proj", "k_proj", "v_proj"]),
                  "run", "all", "adamw"),
        "ia3": ("type: ia3\n  target_modules: [k_proj, v_proj, down_proj]\n  feedforward_modules: [down_proj]",
                lambda: IA3Config(task_type="CAUSAL_LM", target_modules=["k_proj", "v_proj", "down_proj"],
                                  feedforward_modules=["down_proj"]),
                "peft", "none", "adamw"),
        "prompt_tuning": ("type: prompt_tuning\n  num_virtual_tokens: 4",
                          lambda: PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4),
                          "peft", "matrices", "adamw"),
        "prefix_tuning": ("type: prefix_tuning\n  num_virtual_tokens: 4",
                          lambda: PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4),
                          "peft", "matrices", "adamw"),
        "prefix_tuning-projection": (
            "type: prefix_tuning\n  num_virtual_tokens: 4\n  prefix_projection: true\n  encoder_hidden_size: 16",
            lambda: PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4, prefix_projection=True,
                                       encoder_hidden_size=16),
            "run", "matrices", "adamw"),
    }


def trainable(model, projected):
    """The trainable tensors of a PEFT model under the names Tunebench's adapter state gives them: PEFT's saved
    names (the adapter name dropped; DoRA's magnitude without .weight); prompt tuning's and an unprojected prefix's
    embedding is prompt_embeddings, a projected prefix keeps its encoder's names."""
    out = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        key = name.replace(".default.", ".").removesuffix(".default")
        if key.endswith(".lora_magnitude_vector.weight"):
            key = key.removesuffix(".weight")
        if key == "prompt_encoder.embedding.weight" and not projected:
            key = "prompt_embeddings"
        out[key] = p
    return out


def write_run_adapter(folder, adapter, state, model_dir):
    """A Tunebench run adapter folder (adapter_config.json + adapter.safetensors) holding `state`."""
    from safetensors.torch import save_file

    os.makedirs(folder, exist_ok=True)
    # Cloned: PiSSA's initial factors share their storage with the trained ones, which safetensors refuses.
    tensors = {k: v.detach().clone().contiguous() for k, v in state.items()}
    save_file(tensors, os.path.join(folder, "adapter.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(folder, "adapter_config.json"), "w") as f:
        json.dump({"adapter": adapter, "params": {}, "model": model_dir, "seed": 0}, f)


def group_training(ctx, report):
    import torch
    from peft import get_peft_model
    from safetensors.torch import load_file

    ids, mask, labels = text_batch(ctx)
    # Adam's step g / (sqrt(v) + eps) is ill-conditioned for gradient elements near eps: two float32 sums of the
    # same gradient differ by ~1e-8 (in absolute terms, from the rounding of larger terms that cancel), which
    # changes such an element's step by up to lr * 1e-8 / (4 eps). With the usual 1e-8 that is lr / 4 (prefix
    # tuning's projection has gradient elements of ~1e-9); with 1e-3 it is below 1e-7.
    lr, weight_decay, momentum, epsilon, steps = 1e-2, 0.1, 0.9, 1e-3, 3
    for name, (section, make_config, handover, decay, optim) in training_cases().items():
        adapter = section.split("\n")[0].split(": ")[1]
        torch.manual_seed(7)
        model = get_peft_model(load_model(ctx.base), make_config())
        projected = "projection" in name
        params = trainable(model, projected)
        with torch.no_grad():
            # Off the identity start: LoRA's B = 0 and IA3's ones would give A no gradient at step one.
            for key, p in params.items():
                if key.endswith("lora_B.weight") and adapter != "pissa":
                    p.add_(torch.randn_like(p) * 0.05)
                elif key.endswith("ia3_l"):
                    p.add_(torch.randn_like(p) * 0.1)
        initial = {k: p.detach().clone() for k, p in params.items()}
        start = ctx.path(f"train-start-{name}")
        if handover == "peft":
            model.save_pretrained(start, safe_serialization=True)
        else:
            state = {k: p for k, p in params.items()}
            if adapter == "pissa":  # the initial factors: the frozen B0 A0 that Tunebench subtracts
                state.update({k.replace(".lora_", ".pissa_init.lora_"): p for k, p in params.items()})
            write_run_adapter(start, adapter, state, ctx.base)

        training = {"learning_rate": lr, "max_steps": steps, "per_device_train_batch_size": len(TEXTS),
                    "lr_scheduler_type": "constant", "warmup_steps": 0,
                    "weight_decay": 0.0 if decay == "none" else weight_decay, "max_grad_norm": 0.0,
                    "optim": "sgd" if optim == "sgd" else "adamw_torch", "adam_beta1": 0.9, "adam_beta2": 0.999,
                    "adam_epsilon": epsilon, "seed": 42, "cutoff_len": 64, "threads": 1}
        if optim == "sgd":
            training["sgd_momentum"] = momentum
        run_id, events = train(ctx, train_config(ctx, f"train-{name}", section, training,
                                                 extra=f"init_adapter: {start}"))
        if [e["step"] for e in events] != list(range(1, steps + 1)):
            raise Failure(f"training {name}: expected step events 1..{steps}, got {[e['step'] for e in events]}")

        # PEFT: the same batch each step (Tunebench's batch of all four records, in any order: the mean is the same).
        groups = [{"params": [p for k, p in params.items() if decays(decay, k, p)], "weight_decay": weight_decay},
                  {"params": [p for k, p in params.items() if not decays(decay, k, p)], "weight_decay": 0.0}]
        groups = [g for g in groups if g["params"]]
        if optim == "sgd":
            optimizer = torch.optim.SGD(groups, lr=lr, momentum=momentum)
        else:
            optimizer = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=epsilon)
        model.train()
        losses, norms = [], []
        for _ in range(steps):
            optimizer.zero_grad()
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            norms.append(math.sqrt(sum(p.grad.double().pow(2).sum().item() for p in params.values()
                                       if p.grad is not None)))
            losses.append(loss.item())
            optimizer.step()

        ours = load_file(os.path.join(ctx.run_adapter(run_id), "adapter.safetensors"))
        missing = [k for k in params if k not in ours]
        if missing:
            raise Failure(f"training {name}: Tunebench's state lacks {missing[:3]} (has {sorted(ours)[:5]} ...)")
        weights = max((ours[k] - p.detach()).abs().max().item() for k, p in params.items())
        moved = max((p.detach() - initial[k]).abs().max().item() for k, p in params.items())
        report.case("training", name, {
            "loss": (max(abs(a - e["loss"]) for a, e in zip(losses, events)), TRAIN_TOLERANCE),
            "grad_norm": (max(abs(a - e["grad_norm"]) for a, e in zip(norms, events)), TRAIN_TOLERANCE),
            "weights": (weights, TRAIN_TOLERANCE)},
            changed=moved, note=f"losses {', '.join(f'{x:.6f}' for x in losses)}")


def decays(rule, key, tensor):
    """Whether Tunebench's parameter groups decay a trained tensor: 'all' (the LoRA family, as transformers'
    Trainer does), 'none' (IA3: decay would pull its scales to 0, not to 1) or 'matrices' (the usual convention:
    not biases or vectors)."""
    if rule == "all":
        return True
    if rule == "none":
        return False
    return tensor.dim() > 1 and not key.endswith("bias")


# --- Report ------------------------------------------------------------------------------------------------------


class Report:
    def __init__(self):
        self.groups = {}
        self.failed = []

    def case(self, group, name, measures, changed, note=""):
        """measures: {what: (difference, tolerance)}; changed: how far the adapter moves the model (or its weights)
        from where it started, which must not be ~0, else the comparison would prove nothing."""
        ok = all(d <= t for d, t in measures.values()) and changed > 1e-3
        parts = [f"{what} {d:.2e}" for what, (d, _) in measures.items()]
        print(f"{group:9s} {name:28s} {'ok  ' if ok else 'FAIL'} max |diff|: {', '.join(parts)}; "
              f"change from the start {changed:.2e}{'; ' + note if note else ''}", flush=True)
        entry = self.groups.setdefault(group, {"cases": 0, "worst": {}})
        entry["cases"] += 1
        for what, (d, _) in measures.items():
            entry["worst"][what] = max(entry["worst"].get(what, 0.0), d)
        if not ok:
            self.failed.append(f"{group}/{name}")

    def summary(self):
        for group, entry in self.groups.items():
            print(json.dumps({"group": group, "cases": entry["cases"],
                              "worst": {k: float(f"{v:.3e}") for k, v in entry["worst"].items()}}))
        print(json.dumps({"failed": self.failed, "ok": not self.failed}))
        return 1 if self.failed else 0


GROUPS = {"export": group_export, "import": group_import, "merged": group_merged, "training": group_training}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cli", required=True, help="the tunebench-cli executable")
    parser.add_argument("--work", help="folder for models, runs and adapters (default: a temporary one, removed)")
    parser.add_argument("--group", action="append", choices=list(GROUPS),
                        help="run only this group (repeatable; merged needs export or import)")
    args = parser.parse_args()
    if not os.access(args.cli, os.X_OK):
        parser.error(f"--cli {args.cli}: not an executable")
    try:
        import peft
        import torch
        import transformers

        torch.set_num_threads(1)
        transformers.logging.disable_progress_bar()
        print(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}",
              flush=True)
    except ImportError as e:
        print(f"peft_parity.py: {e}; needs the reference environment (tests/reference/requirements.txt)",
              file=sys.stderr)
        return 2

    work = args.work or tempfile.mkdtemp(prefix="tunebench-peft-")
    os.makedirs(work, exist_ok=True)
    ctx = Context(os.path.abspath(args.cli), os.path.abspath(work))
    report = Report()
    try:
        setup(ctx)
        for group in args.group or list(GROUPS):
            GROUPS[group](ctx, report)
    except Failure as e:
        print(f"peft_parity.py: {e}", file=sys.stderr)
        return 2
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return report.summary()


if __name__ == "__main__":
    sys.exit(main())
