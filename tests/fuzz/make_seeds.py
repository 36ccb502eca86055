#!/usr/bin/env python3
"""Writes seed inputs for one fuzz target from real files, small enough for libFuzzer (scripts/fuzz calls it).

  make_seeds.py TARGET OUTDIR [--root REPO] [--shared SHARED]

Sources: the test suite's templates (tests/template: features/*.jinja, snippets.jsonl), ../shared/fixtures/tokenizers (real Llama-2/3, Qwen3 and GPT-2 tokenizers, shrunk to a few hundred
tokens with their pipelines intact) where present, tests/support/write_byte_tokenizer.py (the tokenizer the
test suite writes), resources/presets and resources/demo (run configurations, also as JSON), and GGUF files
written here byte by byte. Targets without such sources get nothing (their committed corpus seeds them).
Multi-file inputs join the files with the separator lines the targets split on (tests/fuzz/folder_input.h).
Standard library only. Exit 0 ok, 2 usage error.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

CONFIG_SEPARATOR = "\n#--- tokenizer_config.json\n"
MERGES_SEPARATOR = "\n#--- merges.txt\n"


def write(outdir, name, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(outdir, name), mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as f:
        f.write(data)


def shrink_tokenizer(tok, keep_ids=600, keep_added=12):
    """The same tokenizer.json with the vocabulary cut to ids below keep_ids and the merges among them."""
    model = tok.get("model") or {}
    vocab = model.get("vocab")
    if isinstance(vocab, dict):
        kept = {t: i for t, i in vocab.items() if i < keep_ids}
        model["vocab"] = kept
        merges = []
        for m in model.get("merges", []):
            a, b = m.split(" ", 1) if isinstance(m, str) else m
            if a in kept and b in kept and a + b in kept:
                merges.append(m)
        model["merges"] = merges
    tok["added_tokens"] = (tok.get("added_tokens") or [])[:keep_added]
    return tok


def shrink_config(config):
    config = dict(config)
    decoder = config.get("added_tokens_decoder")
    if isinstance(decoder, dict):
        config["added_tokens_decoder"] = dict(list(decoder.items())[:12])
    return config


def tokenizer_folders(shared):
    base = os.path.join(shared, "fixtures", "tokenizers")
    if not os.path.isdir(base):
        return []
    return [os.path.join(base, d) for d in sorted(os.listdir(base))]


def byte_tokenizer(root):
    """The byte-level tokenizer the test suite writes (tokenizer.json, tokenizer_config.json)."""
    script = os.path.join(root, "tests", "support", "write_byte_tokenizer.py")
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, script, d], check=True)
        with open(os.path.join(d, "tokenizer.json"), encoding="utf-8") as f:
            tok = f.read()
        with open(os.path.join(d, "tokenizer_config.json"), encoding="utf-8") as f:
            config = f.read()
    return tok, config


def seeds_tokenizer_json(outdir, root, shared):
    tok, config = byte_tokenizer(root)
    write(outdir, "byte_level.json", tok)
    write(outdir, "byte_level_config.json", tok + CONFIG_SEPARATOR + config)
    for folder in tokenizer_folders(shared):
        path = os.path.join(folder, "tokenizer.json")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            small = json.dumps(shrink_tokenizer(json.load(f)), ensure_ascii=False)
        name = os.path.basename(folder)
        write(outdir, name + ".json", small)
        config_path = os.path.join(folder, "tokenizer_config.json")
        if os.path.exists(config_path):
            with open(config_path, encoding="utf-8") as f:
                config = shrink_config(json.load(f))
            config.pop("chat_template", None)
            write(outdir, name + "_config.json", small + CONFIG_SEPARATOR + json.dumps(config, ensure_ascii=False))


def seeds_vocab_merges(outdir, root, shared):
    for folder in tokenizer_folders(shared):
        vocab_path = os.path.join(folder, "vocab.json")
        merges_path = os.path.join(folder, "merges.txt")
        if not (os.path.exists(vocab_path) and os.path.exists(merges_path)):
            continue
        with open(vocab_path, encoding="utf-8") as f:
            vocab = {t: i for t, i in json.load(f).items() if i < 700}
        merges = []
        with open(merges_path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for line in lines:
            if line.startswith("#version"):
                merges.insert(0, line)
                continue
            parts = line.split(" ")
            if len(parts) == 2 and parts[0] in vocab and parts[1] in vocab and parts[0] + parts[1] in vocab:
                merges.append(line)
        body = json.dumps(vocab, ensure_ascii=False) + MERGES_SEPARATOR + "\n".join(merges) + "\n"
        name = os.path.basename(folder)
        write(outdir, name + ".txt", body)
        write(outdir, name + "_bos.txt", body + CONFIG_SEPARATOR
              + json.dumps({"tokenizer_class": "GPT2Tokenizer", "add_bos_token": True, "bos_token": "!",
                            "eos_token": {"content": "\"", "special": True}}))


def seeds_chat_template(outdir, root, shared):
    features = os.path.join(root, "tests", "template", "features")
    if os.path.isdir(features):
        for name in sorted(os.listdir(features)):
            with open(os.path.join(features, name), encoding="utf-8") as f:
                write(outdir, "feature_" + name, f.read())
    snippets = os.path.join(root, "tests", "template", "snippets.jsonl")
    if os.path.exists(snippets):
        with open(snippets, encoding="utf-8") as f:
            for i, line in enumerate(f):
                if line.strip():
                    write(outdir, "snippet_%03d.jinja" % i, json.loads(line))
    for folder in tokenizer_folders(shared):
        path = os.path.join(folder, "tokenizer_config.json")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            template = json.load(f).get("chat_template")
        if isinstance(template, str):
            template = [{"name": "default", "template": template}]
        for entry in template or []:
            write(outdir, "%s_%s.jinja" % (os.path.basename(folder), entry.get("name")), entry.get("template", ""))


def parse_flat_yaml(text):
    """The presets are flat `key: value` mappings (with lists as `- item` lines); enough to write them as JSON."""
    out, key = {}, None
    for raw in text.split("\n"):
        line = raw.split(" #")[0].rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.lstrip().startswith("- ") and key is not None:
            if not isinstance(out.get(key), list):
                out[key] = []
            out[key].append(scalar(line.lstrip()[2:].strip()))
            continue
        if raw[:1].isspace() or ":" not in line:
            return None  # nested: leave it to the YAML seed
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        out[key] = scalar(value) if value else None
    return out


def scalar(value):
    if value[:1] in "\"'" and value[-1:] == value[:1]:
        return value[1:-1]
    if value in ("true", "false"):
        return value == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def seeds_run_config(outdir, root, shared):
    for sub in ("presets", "demo"):
        folder = os.path.join(root, "resources", sub)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith((".yaml", ".yml")):
                continue
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                text = f.read()
            write(outdir, sub + "_" + name, text)
            flat = parse_flat_yaml(text)
            if flat:
                write(outdir, sub + "_" + name.rsplit(".", 1)[0] + ".json", json.dumps(flat, indent=2))


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_file(metadata, tensors, alignment=32):
    """metadata: (key, type, payload bytes); tensors: (name, ggml dims, ggml type, data bytes)."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata))
    for key, vtype, payload in metadata:
        out += gguf_string(key) + struct.pack("<I", vtype) + payload
    offset = 0
    for name, dims, ttype, data in tensors:
        out += gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", ttype, offset)
        offset += (len(data) + alignment - 1) // alignment * alignment
    out += b"\0" * ((-len(out)) % alignment)
    for _, _, _, data in tensors:
        out += data + b"\0" * ((-len(data)) % alignment)
    return out


def seeds_gguf(outdir, root, shared):
    meta = [
        ("general.architecture", 8, gguf_string("llama")),
        ("general.name", 8, gguf_string("tiny")),
        ("llama.block_count", 4, struct.pack("<I", 2)),
        ("llama.rope.freq_base", 6, struct.pack("<f", 10000.0)),
        ("general.alignment", 4, struct.pack("<I", 32)),
        ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 3) + gguf_string("a") + gguf_string("b")
         + gguf_string("ab")),
        ("tokenizer.ggml.token_type", 9, struct.pack("<IQ", 5, 3) + struct.pack("<iii", 1, 1, 1)),
        ("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 2) + struct.pack("<ff", 0.5, -1.0)),
        ("tokenizer.ggml.add_bos_token", 7, b"\x01"),
        ("x.u8", 0, b"\x07"), ("x.i8", 1, b"\xff"), ("x.u16", 2, b"\x01\x02"), ("x.i16", 3, b"\xfe\xff"),
        ("x.u64", 10, struct.pack("<Q", 1 << 40)), ("x.i64", 11, struct.pack("<q", -5)),
        ("x.f64", 12, struct.pack("<d", 0.25)),
    ]
    f32 = struct.pack("<4f", 1, 2, 3, 4)
    f16 = struct.pack("<4H", 0x3C00, 0x4000, 0x4200, 0x4400)
    bf16 = struct.pack("<4H", 0x3F80, 0x4000, 0x4040, 0x4080)
    q8 = struct.pack("<H", 0x3C00) + bytes(range(32))
    tensors = [("token_embd.weight", [2, 2], 0, f32), ("blk.0.attn_q.weight", [4], 1, f16),
               ("blk.0.ffn_up.weight", [2, 2], 30, bf16), ("output.weight", [32], 8, q8)]
    write(outdir, "tiny.gguf", gguf_file(meta, tensors))
    write(outdir, "metadata_only.gguf", gguf_file(meta[:3], []))
    write(outdir, "empty.gguf", gguf_file([], []))
    write(outdir, "align64.gguf", gguf_file([("general.alignment", 4, struct.pack("<I", 64))],
                                            [("t", [4], 0, f32)], alignment=64))


SEEDERS = {
    "tokenizer_json": seeds_tokenizer_json,
    "vocab_merges": seeds_vocab_merges,
    "chat_template": seeds_chat_template,
    "run_config": seeds_run_config,
    "gguf": seeds_gguf,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target")
    parser.add_argument("outdir")
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--root", default=os.path.normpath(os.path.join(here, "..", "..")))
    parser.add_argument("--shared", default=None, help="the shared folder (default: ROOT/../shared)")
    args = parser.parse_args()
    shared = args.shared or os.path.join(args.root, "..", "shared")
    os.makedirs(args.outdir, exist_ok=True)
    seeder = SEEDERS.get(args.target)
    if seeder:
        seeder(args.outdir, args.root, shared)
    print("%s: %d seeds in %s" % (args.target, len(os.listdir(args.outdir)), args.outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
