#!/usr/bin/env python3
"""Trains small tokenizers with the `tokenizers` library, one per pipeline shape that
Tunebench reads, for the tokenizer parity test (tests/tokenizer/test_tokenizer_parity.cpp):
a plain clone without ../shared still compares Tunebench with the reference.

    train_tokenizers.py --corpus FILE --out DIR [--only NAME ...] [--list]

FILE holds one JSON string per line (tests/tokenizer/corpus.jsonl). Each shape is
written to DIR/NAME as transformers saves it (tokenizer.json + tokenizer_config.json),
except the GPT-2 shapes, which are vocab.json + merges.txt. Training is deterministic:
the same corpus gives the same files. Prints one line per folder: NAME<TAB>what it is.

Shapes:
  bytelevel-gpt2     ByteLevel pre-tokenizer with its own (GPT-2) regex, a prefix space
  bytelevel-llama3   Split with Llama 3's regex + ByteLevel, ignore_merges, BOS template
  bytelevel-qwen2    NFC + Split with Qwen2's regex + ByteLevel; Qwen2Tokenizer class,
                     special and non-special added tokens
  sp-legacy          SentencePiece BPE as Llama 2's tokenizer.json has it: Prepend and
                     Replace normalizers, byte fallback, fuse_unk, <s> template
  sp-llama           the same vocabulary named LlamaTokenizer (legacy false): transformers
                     rebuilds it with a Metaspace pre-tokenizer; its add_eos_token is
                     ignored, as transformers ignores it beside tokenizer.json
  metaspace          Metaspace pre-tokenizer (prepend_scheme first, split) with byte fallback
  added-tokens       NFKC + Lowercase before ByteLevel, and added tokens of every kind:
                     special or not, normalized or not, lstrip/rstrip/single_word, a token
                     only the config names, one listed under an id the library replaces
  model-qwen2        bytelevel-gpt2's files with a config.json of model_type qwen2, for
                     which transformers uses Qwen2Tokenizer whatever tokenizer_class says
  model-gpt2         bytelevel-llama3's files without tokenizer_class, with a config.json
                     of model_type gpt2: GPT2Tokenizer
  gpt2-files         vocab.json + merges.txt and nothing else (GPT2Tokenizer's defaults)
  gpt2-files-config  vocab.json + merges.txt with a tokenizer_config.json (prefix space, BOS)

Exit status: 0 ok, 2 usage or training error.
"""
import argparse
import json
import os
import sys

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

GPT2_REGEX = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_REGEX = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
                r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")
QWEN2_REGEX = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
               r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")
METASPACE = "\u2581"


def added(id_, content, special, normalized=None, lstrip=False, rstrip=False, single_word=False):
    """An entry of tokenizer.json's added_tokens."""
    return {"id": id_, "content": content, "single_word": single_word, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": (not special) if normalized is None else normalized, "special": special}


def config_entry(token):
    """tokenizer_config.json's added_tokens_decoder entry for an added token."""
    return {k: token[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")}


def byte_level_split(regex):
    return {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}


BYTE_LEVEL_DECODER = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
BYTE_LEVEL_PROCESSOR = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}


def template(single_token, token_id):
    """TemplateProcessing that puts single_token before each sequence."""
    return {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": single_token, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": single_token, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": single_token, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {single_token: {"id": single_token, "ids": [token_id], "tokens": [single_token]}}}


def train(texts, vocab_size, specials, pre_tokenizer=None, normalizer=None, byte_alphabet=False):
    """A trained BPE tokenizer as tokenizer.json's dict (specials first, ids 0..)."""
    tokenizer = Tokenizer(models.BPE())
    if normalizer is not None:
        tokenizer.normalizer = normalizer
    if pre_tokenizer is not None:
        tokenizer.pre_tokenizer = pre_tokenizer
    options = {"vocab_size": vocab_size, "min_frequency": 2, "show_progress": False, "special_tokens": specials}
    if byte_alphabet:
        options["initial_alphabet"] = pre_tokenizers.ByteLevel.alphabet()
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(**options))
    return json.loads(tokenizer.to_str())


def byte_level(texts, regex, specials, vocab_size=900):
    if regex is None:
        pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(regex), behavior="isolated"),
                                       pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    return train(texts, vocab_size, specials, pre_tokenizer=pre, byte_alphabet=True)


def common_characters(texts, count):
    """The `count` most frequent characters (ties by code point): the trainer's own
    limit_alphabet breaks ties in hash order, which would make training random."""
    frequency = {}
    for text in texts:
        for c in text:
            frequency[c] = frequency.get(c, 0) + 1
    return set(sorted(frequency, key=lambda c: (-frequency[c], c))[:count])


def sentencepiece_vocab(texts):
    """SentencePiece-style BPE: <unk> <s> </s>, the 256 byte tokens <0x00>..<0xFF>, then
    the pieces (words start with U+2581); a small alphabet, so rare characters fall
    back to bytes."""
    keep = common_characters(texts, 120) | {" "}
    texts = ["".join(c if c in keep else " " for c in text) for text in texts]
    doc = train(texts, 700, ["<unk>", "<s>", "</s>"],
                pre_tokenizer=pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True))
    trained = sorted(doc["model"]["vocab"].items(), key=lambda item: item[1])
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for token, _ in trained:
        if token not in vocab:
            vocab[token] = len(vocab)
    doc["model"]["vocab"] = vocab
    doc["model"].update({"unk_token": "<unk>", "fuse_unk": True, "byte_fallback": True})
    doc["added_tokens"] = [added(0, "<unk>", True), added(1, "<s>", True), added(2, "</s>", True)]
    doc["normalizer"] = None
    doc["pre_tokenizer"] = None
    return doc


def llama_config(doc, **extra):
    config = {"added_tokens_decoder": {str(t["id"]): config_entry(t) for t in doc["added_tokens"]},
              "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None,
              "clean_up_tokenization_spaces": False, "model_max_length": 4096}
    config.update(extra)
    return config


def shapes(texts):
    """NAME -> (description, files: {file name: dict or text})."""
    out = {}

    doc = byte_level(texts, None, ["<|endoftext|>"])
    doc["pre_tokenizer"]["add_prefix_space"] = True
    doc["decoder"] = BYTE_LEVEL_DECODER
    doc["post_processor"] = BYTE_LEVEL_PROCESSOR
    doc["added_tokens"] = [added(0, "<|endoftext|>", True)]
    config = {"added_tokens_decoder": {"0": config_entry(doc["added_tokens"][0])}, "bos_token": "<|endoftext|>",
              "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "add_prefix_space": True,
              "tokenizer_class": "PreTrainedTokenizerFast"}
    out["bytelevel-gpt2"] = ("byte-level BPE, GPT-2 regex, add_prefix_space", doc, config)

    # Files as a GPT-2 folder has them: vocab.json and merges.txt (from the same training,
    # without the prefix space).
    vocab = doc["model"]["vocab"]
    merges = "#version: 0.2\n" + "".join(
        (m if isinstance(m, str) else " ".join(m)) + "\n" for m in doc["model"]["merges"])
    out["gpt2-files"] = ("vocab.json + merges.txt, no config", None, None, {"vocab.json": vocab, "merges.txt": merges})
    out["gpt2-files-config"] = (
        "vocab.json + merges.txt, tokenizer_config.json with add_prefix_space and add_bos_token", None,
        {"tokenizer_class": "GPT2Tokenizer", "add_prefix_space": True, "add_bos_token": True,
         "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"},
        {"vocab.json": vocab, "merges.txt": merges})

    llama3_specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                       "<|eot_id|>"]
    doc = byte_level(texts, LLAMA3_REGEX, llama3_specials)
    doc["model"]["ignore_merges"] = True
    doc["decoder"] = BYTE_LEVEL_DECODER
    doc["post_processor"] = {"type": "Sequence", "processors": [BYTE_LEVEL_PROCESSOR, template("<|begin_of_text|>", 0)]}
    doc["added_tokens"] = [added(i, t, True) for i, t in enumerate(llama3_specials)]
    config = {"added_tokens_decoder": {str(t["id"]): config_entry(t) for t in doc["added_tokens"]},
              "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "clean_up_tokenization_spaces": True,
              "tokenizer_class": "PreTrainedTokenizerFast"}
    out["bytelevel-llama3"] = ("byte-level BPE, Llama 3 regex, ignore_merges, <|begin_of_text|> template", doc, config)

    qwen_specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    doc = byte_level(texts, QWEN2_REGEX, qwen_specials)
    doc["normalizer"] = {"type": "NFC"}
    doc["decoder"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    doc["post_processor"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                             "use_regex": False}
    size = len(doc["model"]["vocab"])
    doc["added_tokens"] = [added(i, t, True) for i, t in enumerate(qwen_specials)] + [
        added(size, "<think>", False, normalized=False), added(size + 1, "</think>", False, normalized=False),
        added(size + 2, "<tool_call>", False, normalized=False)]
    config = {"added_tokens_decoder": {str(t["id"]): config_entry(t) for t in doc["added_tokens"]},
              "additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "bos_token": None,
              "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "unk_token": None, "add_prefix_space": False,
              "add_bos_token": False, "errors": "replace", "split_special_tokens": False,
              "tokenizer_class": "Qwen2Tokenizer"}
    out["bytelevel-qwen2"] = ("byte-level BPE, NFC, Qwen2 regex, Qwen2Tokenizer, non-special added tokens", doc,
                              config)

    doc = sentencepiece_vocab(texts)
    doc["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": METASPACE},
        {"type": "Replace", "pattern": {"String": " "}, "content": METASPACE}]}
    doc["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": METASPACE}, "content": " "}, {"type": "ByteFallback"},
        {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    doc["post_processor"] = template("<s>", 1)
    out["sp-legacy"] = ("SentencePiece BPE as Llama 2's tokenizer.json: Prepend/Replace normalizers, byte fallback",
                        doc, llama_config(doc, tokenizer_class="PreTrainedTokenizerFast"))
    out["sp-llama"] = ("the same files named LlamaTokenizer (legacy false): transformers' Metaspace pipeline",
                       doc, llama_config(doc, tokenizer_class="LlamaTokenizer", legacy=False, add_bos_token=True,
                                         add_eos_token=True))

    doc = sentencepiece_vocab(texts)
    doc["pre_tokenizer"] = {"type": "Metaspace", "replacement": METASPACE, "prepend_scheme": "first", "split": True}
    doc["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "ByteFallback"}, {"type": "Metaspace", "replacement": METASPACE, "prepend_scheme": "first",
                                   "split": True}]}
    doc["post_processor"] = template("<s>", 1)
    out["metaspace"] = ("SentencePiece BPE with a Metaspace pre-tokenizer (prepend_scheme first, split)", doc,
                        llama_config(doc, tokenizer_class="PreTrainedTokenizerFast"))

    doc = byte_level(texts, None, ["<|endoftext|>", "<|special|>"],
                     vocab_size=800)
    doc["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}]}
    doc["decoder"] = BYTE_LEVEL_DECODER
    # "hello" becomes a vocabulary entry (no merge makes it) and an added token listed
    # under another id: the library gives it the vocabulary's.
    doc["model"]["vocab"].setdefault("hello", len(doc["model"]["vocab"]))
    size = len(doc["model"]["vocab"])
    # <|endoftext|> stays in the model's vocabulary only: the config names it, and
    # transformers makes it a special added token.
    doc["added_tokens"] = [
        added(1, "<|special|>", True),
        added(size, "[MASK]", True, lstrip=True),
        added(size + 1, "<| two words |>", True),
        added(size + 2, "<Tool>", False, normalized=True),
        added(size + 3, "hello", False, normalized=True, single_word=True),
        added(size + 4, "<sep>", False, normalized=False, rstrip=True),
        added(size + 5, "\ufb01", False, normalized=True),
        added(size + 6, "ÉTÉ", False, normalized=False),
    ]
    doc["post_processor"] = template("<|special|>", 1)
    config = {"added_tokens_decoder": {str(t["id"]): config_entry(t) for t in doc["added_tokens"]},
              "eos_token": "<|endoftext|>", "tokenizer_class": "PreTrainedTokenizerFast"}
    # Model folders: config.json's model_type can pick the class. qwen2 overrides the
    # tokenizer_class the folder names (Qwen2Tokenizer's pipeline on GPT-2-style files);
    # without a tokenizer_class, gpt2 picks GPT2Tokenizer.
    gpt2_doc, gpt2_config = out["bytelevel-gpt2"][1:3]
    out["model-qwen2"] = ("bytelevel-gpt2's files in a qwen2 model folder (config.json)", gpt2_doc, gpt2_config,
                          {"config.json": {"model_type": "qwen2"}})
    llama3_doc, llama3_config = out["bytelevel-llama3"][1:3]
    out["model-gpt2"] = ("bytelevel-llama3's files without tokenizer_class in a gpt2 model folder", llama3_doc,
                         {k: v for k, v in llama3_config.items() if k != "tokenizer_class"},
                         {"config.json": {"model_type": "gpt2"}})

    out["added-tokens"] = ("NFKC + Lowercase, ByteLevel, added tokens special or not, normalized or not, "
                           "lstrip/rstrip/single_word, a config-only special token", doc, config)
    return out


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, indent=1)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True, help="one JSON string per line")
    parser.add_argument("--out", required=True, help="folder to write one subfolder per shape into")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="write only these shapes")
    args = parser.parse_args()

    texts = []
    with open(args.corpus, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            try:
                value = json.loads(line)
            except ValueError as e:
                sys.exit(f"{args.corpus}:{number}: not valid JSON ({e})")
            if not isinstance(value, str):
                sys.exit(f"{args.corpus}:{number}: expected a JSON string")
            texts.append(value)
    if len(texts) < 20:
        sys.exit(f"{args.corpus}: too few lines to train on ({len(texts)})")

    made = shapes(texts)
    unknown = set(args.only or []) - set(made)
    if unknown:
        parser.error(f"unknown shape(s) {', '.join(sorted(unknown))} (known: {', '.join(made)})")
    for name, entry in made.items():
        if args.only and name not in args.only:
            continue
        description, doc, config = entry[:3]
        folder = os.path.join(args.out, name)
        os.makedirs(folder, exist_ok=True)
        if doc is not None:
            text = json.dumps(doc, ensure_ascii=False)
            Tokenizer.from_str(text)  # the library must read back what it is given
            with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
                f.write(text)
        if config is not None:
            write_json(os.path.join(folder, "tokenizer_config.json"), config)
        for file, content in (entry[3] if len(entry) > 3 else {}).items():
            if isinstance(content, str):
                with open(os.path.join(folder, file), "w", encoding="utf-8", newline="\n") as f:
                    f.write(content)
            else:
                write_json(os.path.join(folder, file), content)
        print(f"{name}\t{description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
