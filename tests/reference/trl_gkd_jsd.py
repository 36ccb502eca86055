#!/usr/bin/env python3
"""TRL's GKD divergence (GKDTrainer.generalized_jsd_loss) for the cases test_distill writes.

    tests/reference/run trl_gkd_jsd.py [--tolerance 1e-5] < CASES.json

CASES is a JSON list of {"name", "student": [B][T][V] logits, "teacher": [B][T][V] logits, "labels": [B][T]
(-100: no loss), "beta", "temperature", "tunebench": the divergence Tunebench computed}. The logits and labels
are already aligned (position t predicts labels[t]), as generalized_jsd_loss expects them. Each case runs TRL
1.16's static method itself, reduction "batchmean" (the mean over positions with a label).

Prints one JSON line per case, {"name", "trl", "tunebench", "difference"}, and on stderr the worst difference.
Exit status 0 when every |trl - tunebench| <= tolerance * max(1, |trl|), 1 when one is not, 2 on a usage or
loading error.
"""

import argparse
import json
import os
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args()
    try:
        cases = json.load(sys.stdin)
        os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
        import torch
        from trl.experimental.gkd.gkd_trainer import GKDTrainer
    except Exception as error:  # noqa: BLE001 - any load failure is a usage error here
        print(f"trl_gkd_jsd.py: {error}", file=sys.stderr)
        return 2
    worst = (0.0, None)
    failed = False
    for case in cases:
        student = torch.tensor(case["student"], dtype=torch.float64)
        teacher = torch.tensor(case["teacher"], dtype=torch.float64)
        labels = torch.tensor(case["labels"], dtype=torch.long)
        value = GKDTrainer.generalized_jsd_loss(
            student, teacher, labels=labels, beta=case["beta"], temperature=case["temperature"]
        ).item()
        difference = abs(value - case["tunebench"])
        if difference > args.tolerance * max(1.0, abs(value)):
            failed = True
        if difference >= worst[0]:
            worst = (difference, case["name"])
        print(json.dumps({"name": case["name"], "trl": value, "tunebench": case["tunebench"], "difference": difference}))
    print(f"worst difference {worst[0]:.3g} ({worst[1]}) over {len(cases)} cases", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
