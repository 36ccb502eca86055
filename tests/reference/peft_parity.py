#!/usr/bin/env python3
"""Checks that an adapter exported by Tunebench loads in Hugging Face PEFT and computes Tunebench's logits.

Needs torch, transformers, peft and safetensors (not installed on the Tunebench build machine; the CUDA machine
has them). Steps:

  tunebench-cli export --workspace WS --run ID --format peft --out ADAPTER
  tunebench-cli forward --model BASE --adapter ADAPTER --input ids.jsonl --out tunebench_logits.safetensors
  python3 tests/reference/peft_parity.py --base BASE --adapter ADAPTER --logits tunebench_logits.safetensors

`forward` writes logits.i [T, V] and input_ids.i [T] for every line of ids.jsonl (one JSON array of token ids a
line). This script loads BASE with transformers (float32, eager attention, CPU unless --device), attaches ADAPTER
with PeftModel.from_pretrained, runs each sequence and prints one JSON line per sequence and a summary:
{"max_abs_diff": D, "tolerance": T, "peft_type": ..., "ok": true|false}. Exit status 0 when every difference is
within the tolerance (default 1e-4: float32 sums in a different order over a few layers), 1 above it, 2 on a
usage or loading error.

For prompt tuning PEFT returns logits for the virtual tokens too (they are prepended to the input embeddings);
they are dropped before comparing, as Tunebench returns logits for the caller's tokens only. Prefix tuning passes
the prefix as past key values, so its logits already cover the input only.
"""

import argparse
import json
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the base model folder (Hugging Face format)")
    parser.add_argument("--adapter", required=True, help="the PEFT folder tunebench-cli export --format peft wrote")
    parser.add_argument("--logits", required=True, help="the safetensors file tunebench-cli forward --adapter wrote")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest |difference| accepted")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    args = parser.parse_args()

    try:
        import torch
        from peft import PeftConfig, PeftModel
        from safetensors.torch import load_file
        from transformers import AutoModelForCausalLM
    except ImportError as e:
        print(f"peft_parity.py: {e}; needs torch, transformers, peft and safetensors", file=sys.stderr)
        return 2

    try:
        config = PeftConfig.from_pretrained(args.adapter)
        base = AutoModelForCausalLM.from_pretrained(
            args.base, torch_dtype=torch.float32, attn_implementation="eager"
        )
        model = PeftModel.from_pretrained(base, args.adapter, is_trainable=False)
        model.to(args.device)
        model.eval()
        expected = load_file(args.logits)
    except Exception as e:  # noqa: BLE001 - any loading failure is a failed parity check
        print(f"peft_parity.py: loading failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 2

    peft_type = str(getattr(config.peft_type, "value", config.peft_type))
    virtual = config.num_virtual_tokens if peft_type == "PROMPT_TUNING" else 0
    count = len([k for k in expected if k.startswith("logits.")])
    if count == 0:
        print(f"peft_parity.py: {args.logits}: no logits.i tensors (write them with tunebench-cli forward)",
              file=sys.stderr)
        return 2

    worst = 0.0
    with torch.no_grad():
        for i in range(count):
            ids = expected[f"input_ids.{i}"].to(torch.long).unsqueeze(0).to(args.device)
            mask = torch.ones_like(ids)
            logits = model(input_ids=ids, attention_mask=mask).logits[0].float().cpu()
            if virtual:
                logits = logits[virtual:]
            ours = expected[f"logits.{i}"].float()
            if logits.shape != ours.shape:
                print(f"peft_parity.py: sequence {i}: PEFT logits {tuple(logits.shape)}, "
                      f"Tunebench {tuple(ours.shape)}", file=sys.stderr)
                return 1
            diff = (logits - ours).abs().max().item()
            worst = max(worst, diff)
            print(json.dumps({"sequence": i, "tokens": ids.shape[1], "max_abs_diff": diff}))

    ok = worst <= args.tolerance
    print(json.dumps({"max_abs_diff": worst, "tolerance": args.tolerance, "peft_type": peft_type, "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
