#!/usr/bin/env python3
"""bitsandbytes' NF4 (with double-quantised scales) and int8 row-wise quantisation of
some tensors: the reference for Tunebench's core/quant (test_quant_reference).

    bnb_quant.py IN.safetensors OUT.safetensors

IN holds float32 tensors. For each tensor NAME, OUT holds what bitsandbytes makes of it:
  NAME.nf4.packed        uint8, quantize_4bit(blocksize=64, nf4, compress_statistics=True),
                         two codes per byte, flattened
  NAME.nf4.absmax_codes  uint8, the per-block absmax after the second quantisation
  NAME.nf4.absmax_scale  float32, the absmax of each block of 256 of those
  NAME.nf4.offset        float32 [1], the mean subtracted before the second quantisation
  NAME.nf4.dequantized   float32, dequantize_4bit of the above
  NAME.int8.codes        int8, int8_vectorwise_quant (one absmax per row, threshold 0)
  NAME.int8.absmax       float32, the rows' absmax
and once: code.nf4 (float32 [16]) and code.dynamic (float32 [256]), the code books used.

Exit status: 0 on success, 2 on bad input or when bitsandbytes cannot be imported or run.
Run it with the reference environment's Python (tests/reference/requirements.txt).
"""
import argparse
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("output")
    args = parser.parse_args()
    try:
        import torch
        import bitsandbytes.functional as F
        from safetensors.torch import load_file, save_file
    except ImportError as e:
        print(f"bnb_quant.py: cannot import: {e}", file=sys.stderr)
        return 2
    try:
        tensors = load_file(args.input)
    except Exception as e:  # a missing or malformed file
        print(f"bnb_quant.py: {args.input}: {e}", file=sys.stderr)
        return 2
    out = {}
    try:
        for name, w in tensors.items():
            w = w.float().contiguous()
            packed, state = F.quantize_4bit(w, blocksize=64, quant_type="nf4", compress_statistics=True)
            out[name + ".nf4.packed"] = packed.reshape(-1).contiguous()
            out[name + ".nf4.absmax_codes"] = state.absmax.reshape(-1).contiguous()
            out[name + ".nf4.absmax_scale"] = state.state2.absmax.float().reshape(-1).contiguous()
            out[name + ".nf4.offset"] = state.offset.float().reshape(1)
            out[name + ".nf4.dequantized"] = F.dequantize_4bit(packed, state).float().contiguous()
            out.setdefault("code.nf4", state.code.float().contiguous())
            out.setdefault("code.dynamic", state.state2.code.float().contiguous())
            rows = w.reshape(w.shape[0], -1) if w.dim() > 0 else w.reshape(1, 1)
            codes, absmax, _ = F.int8_vectorwise_quant(rows.contiguous(), threshold=0.0)
            out[name + ".int8.codes"] = codes.contiguous()
            out[name + ".int8.absmax"] = absmax.float().contiguous()
    except Exception as e:  # bitsandbytes without a CPU path for this build
        print(f"bnb_quant.py: bitsandbytes failed: {e}", file=sys.stderr)
        return 2
    save_file(out, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
