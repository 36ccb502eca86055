#!/usr/bin/env python3
"""The training step bench_train measures, in PyTorch eager, for the ratio Tunebench / PyTorch.

The same Llama shapes as bench_train (hidden 256, 4 layers, 8 heads with 4 key/value heads,
SwiGLU MLP 688, vocabulary 32000, untied head), the same batch (4 x 128 tokens), the same step
(causal-LM cross-entropy, backward, clip to norm 1.0, AdamW with decoupled weight decay) for the
methods that are a few lines here: full, freeze (top layer), bitfit (Llama has no biases: norm
gains) and lora (r 8 on q_proj and v_proj). Prints one JSON object per method.

Debian's python3-torch is the same LibTorch version (1.13) as the C++ build.
Usage: train_step_pytorch.py [--threads N] [--steps N] [--methods full,lora,...]
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HIDDEN, LAYERS, HEADS, KV_HEADS, MLP, VOCAB = 256, 4, 8, 4, 688, 32000
BATCH, SEQ = 4, 128
HEAD_DIM = HIDDEN // HEADS


class RmsNorm(nn.Module):
    def __init__(self, size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class LoraLinear(nn.Module):
    """h = W0 x + (alpha / r) B A x, with A Kaiming-uniform and B zero."""

    def __init__(self, base, r=8, alpha=16):
        super().__init__()
        self.base = base
        self.lora_a = nn.Parameter(torch.empty(r, base.in_features))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, r))
        self.scale = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.lora_a.t() @ self.lora_b.t()) * self.scale


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.input_layernorm = RmsNorm(HIDDEN)
        self.q_proj = nn.Linear(HIDDEN, HEADS * HEAD_DIM, bias=False)
        self.k_proj = nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
        self.v_proj = nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
        self.o_proj = nn.Linear(HEADS * HEAD_DIM, HIDDEN, bias=False)
        self.post_attention_layernorm = RmsNorm(HIDDEN)
        self.gate_proj = nn.Linear(HIDDEN, MLP, bias=False)
        self.up_proj = nn.Linear(HIDDEN, MLP, bias=False)
        self.down_proj = nn.Linear(MLP, HIDDEN, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(b, t, HEADS, HEAD_DIM).transpose(1, 2)
        k = self.k_proj(h).view(b, t, KV_HEADS, HEAD_DIM).transpose(1, 2)
        v = self.v_proj(h).view(b, t, KV_HEADS, HEAD_DIM).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(HEADS // KV_HEADS, dim=1)
        v = v.repeat_interleave(HEADS // KV_HEADS, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(HEAD_DIM) + mask
        attn = torch.softmax(scores, dim=-1) @ v
        x = x + self.o_proj(attn.transpose(1, 2).reshape(b, t, HIDDEN))
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Llama(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(VOCAB, HIDDEN)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
        self.norm = RmsNorm(HIDDEN)
        self.lm_head = nn.Linear(HIDDEN, VOCAB, bias=False)
        inv = 1.0 / (10000.0 ** (torch.arange(0, HEAD_DIM, 2).float() / HEAD_DIM))
        angles = torch.outer(torch.arange(SEQ).float(), inv)
        angles = torch.cat((angles, angles), dim=-1)
        self.register_buffer("cos", angles.cos())
        self.register_buffer("sin", angles.sin())
        self.register_buffer("mask", torch.full((SEQ, SEQ), float("-inf")).triu(1))

    def forward(self, ids):
        x = self.embed_tokens(ids)
        t = ids.shape[1]
        for layer in self.layers:
            x = layer(x, self.cos[:t], self.sin[:t], self.mask[:t, :t])
        return self.lm_head(self.norm(x))


def prepare(model, method):
    for p in model.parameters():
        p.requires_grad_(method == "full")
    if method == "freeze":
        for p in model.layers[-1].parameters():
            p.requires_grad_(True)
    elif method == "bitfit":
        for name, p in model.named_parameters():
            if "norm" in name:
                p.requires_grad_(True)
    elif method == "lora":
        for layer in model.layers:
            layer.q_proj = LoraLinear(layer.q_proj)
            layer.v_proj = LoraLinear(layer.v_proj)
    return [p for p in model.parameters() if p.requires_grad]


def bench(method, steps):
    torch.manual_seed(1)
    model = Llama()
    params = prepare(model, method)
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-4)
    ids = torch.randint(0, 264, (BATCH, SEQ))
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        logits = model(ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, VOCAB), ids[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        times.append(time.perf_counter() - start)
    step = statistics.median(times[2:]) if len(times) > 3 else min(times)
    return {"method": method, "tokens_per_s": BATCH * SEQ / step, "step_ms": step * 1e3,
            "trainable": sum(p.numel() for p in params)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--methods", default="full,freeze,bitfit,lora")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    else:
        import os
        torch.set_num_threads(os.cpu_count() or 1)
    for method in args.methods.split(","):
        print(json.dumps(bench(method, args.steps)), flush=True)


if __name__ == "__main__":
    main()
