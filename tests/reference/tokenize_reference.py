#!/usr/bin/env python3
"""Token ids and decoded text from the Hugging Face libraries: the reference for
Tunebench's tokenizer (core/tokenizer) and `tunebench-cli tokenize`.

    tokenize_reference.py --tokenizer DIR --input FILE [--add-special-tokens] [--output OUT]
    tokenize_reference.py --tokenizer DIR --input IDS --decode [--skip-special-tokens]
    tokenize_reference.py --tokenizer DIR --input FILE --all [--random-ids N [--seed S]]
    tokenize_reference.py --tokenizer DIR --input FILE --bench N
    tokenize_reference.py --batch JOBS

DIR is a tokenizer or model folder: tokenizer.json (+ tokenizer_config.json), or
GPT-2's vocab.json + merges.txt. FILE holds one JSON string per line.
  default     one JSON array of ids per line, as `tunebench-cli tokenize` prints;
              --add-special-tokens applies the post-processor (BOS/EOS).
  --decode    IDS holds one JSON array of ids per line; one JSON string per line,
              as `tunebench-cli tokenize --decode [--skip-special-tokens]` prints.
  --all       one object per line: for a string line {"ids", "ids_special",
              "decoded", "decoded_skip"} (the decodings are of ids_special, with and
              without skip_special_tokens); for an array line {"input", "decoded",
              "decoded_skip"}. Every comparison of one tokenizer in one process.
              --random-ids N then adds N random id sequences (seeded; a few ids past
              the vocabulary), as lines {"input": ids, "decoded", "decoded_skip"}.
  --bench N   encodes the file N times with the `tokenizers` library (one thread)
              and prints {"bytes": B, "seconds": S}: UTF-8 bytes encoded and the
              wall time of encoding alone.
  --batch     JOBS holds one JSON array of arguments per line (each with --output),
              run in order in this one process: importing transformers (and torch
              with it) costs seconds, loading a tokenizer does not.

--library picks the reference: "transformers" (default) loads the folder with
AutoTokenizer.from_pretrained, as users do; "tokenizers" uses the Rust library
alone (Tokenizer.from_file, or for vocab.json + merges.txt the byte-level BPE that
GPT2Tokenizer builds). The two can disagree, and transformers is the one followed:
  - transformers adds the tokens that tokenizer_config.json names (bos, eos, unk,
    pad, additional/extra special tokens) as special added tokens;
  - add_bos_token and add_eos_token in tokenizer_config.json count only without
    tokenizer.json (GPT-2's vocab.json + merges.txt): then the post-processor is
    "[BOS] $A [EOS]" as those flags say; with tokenizer.json, its post-processor rules;
  - a model class with its own pipeline (LlamaTokenizer: Metaspace pre-tokenizer,
    prepend_scheme "always" where legacy is true, no normalizer; Qwen2Tokenizer;
    GPT2Tokenizer) takes only the vocabulary, merges, added tokens and
    post-processor from tokenizer.json; a model folder's config.json model_type can
    pick the class (qwen2 overrides the folder's tokenizer_class);
  - added tokens get the ids the library assigns on loading (a content the
    vocabulary has keeps its id), and a normalized added token decodes to its
    normalized form: both are the library's own doing, so both libraries agree.
With --library transformers the script also runs the `tokenizers` library and
reports on stderr how many lines the two disagree on, with the first few.

Tunebench exposes no offsets, so this script prints none. Decoding follows
transformers too: it skips clean_up_tokenization_spaces for BPE models, which are
all Tunebench reads, so the text is the backend's decode.

Exit status: 0 ok, 2 usage or load error (a bad input line names FILE:LINE).
"""
import argparse
import json
import os
import random
import sys
import time


def fail(message):
    sys.stderr.write(f"tokenize_reference.py: {message}\n")
    sys.exit(2)


def read_config(folder):
    path = os.path.join(folder, "tokenizer_config.json")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    if not isinstance(config, dict):
        fail(f"{path}: expected a JSON object")
    return config


def token_content(value):
    if isinstance(value, dict):
        return value.get("content")
    return value


def load_rust(folder):
    """The `tokenizers` library's Tokenizer for the folder."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    tokenizer_json = os.path.join(folder, "tokenizer.json")
    if os.path.exists(tokenizer_json):
        return Tokenizer.from_file(tokenizer_json)
    vocab = os.path.join(folder, "vocab.json")
    merges = os.path.join(folder, "merges.txt")
    if not (os.path.exists(vocab) and os.path.exists(merges)):
        fail(f"{folder}: no tokenizer.json, nor vocab.json with merges.txt")
    # What GPT2Tokenizer builds from the two files: plain byte-level BPE, the
    # prefix space as tokenizer_config.json says (off by default), and its default
    # special token <|endoftext|> (bos, eos and unk) unless the config names others.
    config = read_config(folder)
    tokenizer = Tokenizer(models.BPE.from_file(vocab, merges, continuing_subword_prefix="",
                                                end_of_word_suffix="", fuse_unk=False, dropout=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=bool(config.get("add_prefix_space", False)))
    tokenizer.decoder = decoders.ByteLevel()
    specials = []
    for key, default in (("unk_token", "<|endoftext|>"), ("bos_token", "<|endoftext|>"),
                         ("eos_token", "<|endoftext|>"), ("pad_token", None)):
        content = token_content(config.get(key, default))
        if content is not None and content not in specials:
            specials.append(content)
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    bos = token_content(config.get("bos_token", "<|endoftext|>"))
    eos = token_content(config.get("eos_token", "<|endoftext|>"))
    single = " ".join(([f"{bos}:0"] if config.get("add_bos_token") else []) + ["$A:0"]
                      + ([f"{eos}:0"] if config.get("add_eos_token") else []))
    used = {t for t, flag in ((bos, "add_bos_token"), (eos, "add_eos_token")) if config.get(flag)}
    tokenizer.post_processor = processors.TemplateProcessing(
        single=single, pair=f"{single} $B:1", special_tokens=[(t, tokenizer.token_to_id(t)) for t in used])
    return tokenizer


def load_transformers(folder):
    """transformers' tokenizer for the folder, as users load it."""
    import transformers
    from transformers import AutoTokenizer, GPT2Tokenizer

    # Its warning that clean_up_tokenization_spaces is ignored for BPE is no finding.
    transformers.logging.set_verbosity_error()

    has_json = os.path.exists(os.path.join(folder, "tokenizer.json"))
    knows_class = "tokenizer_class" in read_config(folder) or os.path.exists(os.path.join(folder, "config.json"))
    if has_json or knows_class:
        return AutoTokenizer.from_pretrained(folder)
    # A bare GPT-2 folder (vocab.json + merges.txt) names no class: it is GPT-2's.
    return GPT2Tokenizer.from_pretrained(folder)


class Reference:
    def __init__(self, folder, library):
        self.library = library
        if library == "transformers":
            self.tok = load_transformers(folder)
        else:
            self.tok = load_rust(folder)

    def encode(self, text, add_special):
        if self.library == "transformers":
            return self.tok.encode(text, add_special_tokens=add_special)
        return self.tok.encode(text, add_special_tokens=add_special).ids

    def decode(self, ids, skip_special):
        return self.tok.decode(ids, skip_special_tokens=skip_special)


def read_lines(path, want):
    """The JSON values of FILE's lines; want is "string", "ids" or "either"."""
    values = []
    with open(path, encoding="utf-8", newline="\n") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n").rstrip("\r")
            try:
                value = json.loads(line)
            except ValueError as e:
                fail(f"{path}:{number}: not valid JSON ({e})")
            is_ids = isinstance(value, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in value)
            if isinstance(value, str) and want in ("string", "either"):
                values.append(value)
            elif is_ids and want in ("ids", "either"):
                values.append(value)
            else:
                expected = {"string": "a JSON string", "ids": "a JSON array of token ids",
                            "either": "a JSON string or an array of token ids"}[want]
                fail(f"{path}:{number}: expected {expected}, got {line[:60]}")
    return values


def dump(value):
    return json.dumps(value, ensure_ascii=False)


def random_ids(ref, count, seed):
    """count id sequences of 1 to 12 ids below the vocabulary size; every tenth may go
    5 past it (ids nobody knows decode to nothing)."""
    size = len(ref.tok) if ref.library == "transformers" else ref.tok.get_vocab_size(with_added_tokens=True)
    rng = random.Random(seed)
    return [[rng.randrange(size + (5 if i % 10 == 9 else 0)) for _ in range(rng.randint(1, 12))]
            for i in range(count)]


def outputs(ref, values, args):
    """One output value per input value, as the mode asks."""
    out = []
    for v in values:
        if args.decode:
            out.append(ref.decode(v, args.skip_special_tokens))
        elif args.all and isinstance(v, list):
            out.append({"input": v, "decoded": ref.decode(v, False), "decoded_skip": ref.decode(v, True)})
        elif args.all:
            special = ref.encode(v, True)
            out.append({"ids": ref.encode(v, False), "ids_special": special,
                        "decoded": ref.decode(special, False), "decoded_skip": ref.decode(special, True)})
        else:
            out.append(ref.encode(v, args.add_special_tokens))
    return out


def bench(folder, texts, repeat):
    tokenizer = load_rust(folder)
    total = sum(len(t.encode("utf-8")) for t in texts) * repeat
    start = time.perf_counter()
    for _ in range(repeat):
        for t in texts:
            tokenizer.encode(t, add_special_tokens=False)
    print(dump({"bytes": total, "seconds": time.perf_counter() - start}))


def make_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokenizer", metavar="DIR", help="tokenizer or model folder")
    parser.add_argument("--input", metavar="FILE", help="one JSON string (or id array) per line")
    parser.add_argument("--output", metavar="OUT", help="write there instead of to stdout")
    parser.add_argument("--library", choices=["transformers", "tokenizers"], default="transformers")
    parser.add_argument("--add-special-tokens", action="store_true", help="apply the post-processor (BOS/EOS)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--decode", action="store_true", help="decode arrays of ids")
    mode.add_argument("--all", action="store_true", help="ids with and without special tokens, and decodings")
    mode.add_argument("--bench", type=int, metavar="N", help="time N passes of encoding (tokenizers library)")
    mode.add_argument("--batch", metavar="JOBS", help="run the argument lists of JOBS, one per line")
    parser.add_argument("--skip-special-tokens", action="store_true", help="with --decode: drop special tokens")
    parser.add_argument("--random-ids", type=int, default=0, metavar="N", help="with --all: N random id sequences")
    parser.add_argument("--seed", type=int, default=17, help="seed of --random-ids")
    return parser


def run(parser, args):
    if args.batch is None and (args.tokenizer is None or args.input is None):
        parser.error("--tokenizer and --input are required")
    if args.skip_special_tokens and not args.decode:
        parser.error("--skip-special-tokens goes with --decode")
    if args.random_ids and not args.all:
        parser.error("--random-ids goes with --all")
    if args.batch is not None:
        with open(args.batch, encoding="utf-8") as f:
            jobs = [json.loads(line) for line in f if line.strip()]
        for number, job in enumerate(jobs, 1):
            if not isinstance(job, list) or "--batch" in job or "--output" not in job:
                fail(f"{args.batch}:{number}: expected a JSON array of arguments with --output and without --batch")
            run(parser, parser.parse_args([str(a) for a in job]))
        return 0
    if not os.path.isdir(args.tokenizer):
        fail(f"{args.tokenizer}: not a folder")

    values = read_lines(args.input, "ids" if args.decode else "either" if args.all else "string")
    if args.bench is not None:
        if args.bench < 1:
            parser.error("--bench needs N >= 1")
        bench(args.tokenizer, values, args.bench)
        return 0
    try:
        ref = Reference(args.tokenizer, args.library)
    except Exception as e:  # noqa: BLE001 - any load failure is a load error
        fail(f"{args.tokenizer}: cannot load with {args.library}: {type(e).__name__}: {e}")
    if args.random_ids:
        values += random_ids(ref, args.random_ids, args.seed)
    results = outputs(ref, values, args)
    text = "".join(dump(r) + "\n" for r in results)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    else:
        sys.stdout.write(text)

    if args.library == "transformers":
        rust = Reference(args.tokenizer, "tokenizers")
        differing = [(i, r, o) for i, (r, o) in enumerate(zip(outputs(rust, values, args), results), 1) if r != o]
        if differing:
            sys.stderr.write(f"{args.tokenizer}: note: the tokenizers library alone differs from transformers on "
                             f"{len(differing)}/{len(values)} lines (transformers is followed), e.g.\n")
            for i, r, o in differing[:3]:
                sys.stderr.write(f"  line {i}: transformers {dump(o)[:300]}\n    tokenizers   {dump(r)[:300]}\n")
    return 0


def main():
    parser = make_parser()
    return run(parser, parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
