"""Scores token sequences with a Hugging Face sequence-classification folder (a reward model).

Usage: seqcls_scores.py < request.json
  request: {"folder": PATH, "sequences": [[id, ...], ...]}
Loads the folder with AutoModelForSequenceClassification (float32, safetensors only: pickled weights are refused),
scores all sequences in one right-padded batch (padded with config.pad_token_id, as transformers expects) and
prints one JSON object: {"scores": [...], "architecture": ..., "num_labels": ..., "pad_token_id": ...,
"missing_keys": [...], "unexpected_keys": [...]}.
Exit 0 when scored, 2 on a usage or load error.
"""

import argparse
import json
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    try:
        request = json.load(sys.stdin)
        folder = request["folder"]
        sequences = request["sequences"]
    except (ValueError, KeyError) as e:
        print(f"bad request: {e}", file=sys.stderr)
        return 2
    try:
        import torch
        from transformers import AutoModelForSequenceClassification

        model, info = AutoModelForSequenceClassification.from_pretrained(
            folder, dtype=torch.float32, use_safetensors=True, output_loading_info=True
        )
    except Exception as e:  # a folder that does not load is the answer, reported as a load error
        print(f"{folder}: does not load: {e}", file=sys.stderr)
        return 2
    model.eval()
    pad = model.config.pad_token_id
    length = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), length), pad, dtype=torch.long)
    mask = torch.zeros((len(sequences), length), dtype=torch.long)
    for i, s in enumerate(sequences):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
    print(
        json.dumps(
            {
                "scores": logits[:, 0].double().tolist(),
                "architecture": type(model).__name__,
                "num_labels": model.config.num_labels,
                "pad_token_id": pad,
                "missing_keys": sorted(info.get("missing_keys", [])),
                "unexpected_keys": sorted(info.get("unexpected_keys", [])),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
