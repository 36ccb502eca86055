#!/usr/bin/env python3
"""Writes a byte-level BPE tokenizer folder (tokenizer.json, tokenizer_config.json) for tests that need a
tokenizer and nothing else: the 256 bytes under GPT-2's byte-to-character map, no merges, and <|endoftext|>
(id 256) as the end-of-sequence token. Standard library only, so any python3 runs it.

  write_byte_tokenizer.py DIR
"""
import json
import os
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: write_byte_tokenizer.py DIR")
    folder = sys.argv[1]
    os.makedirs(folder, exist_ok=True)
    printable = set(range(33, 127)) | set(range(161, 173)) | set(range(174, 256))
    vocab, extra = {}, 0
    for b in range(256):
        if b in printable:
            vocab[chr(b)] = b
        else:
            vocab[chr(256 + extra)] = b
            extra += 1
    vocab["<|endoftext|>"] = 256
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": 256, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None, "pre_tokenizer": byte_level, "post_processor": None, "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": []},
    }
    with open(os.path.join(folder, "tokenizer.json"), "w") as f:
        json.dump(tokenizer, f)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"eos_token": "<|endoftext|>"}, f)


if __name__ == "__main__":
    main()
