#!/usr/bin/env python3
"""TRL's GRPO loss and logged metrics for the per-token log-probabilities test_grpo_reference wrote.

    tests/reference/run trl_grpo.py [--tolerance 1e-6] < CASES.json

CASES is a JSON object {"cases": [{"name", "loss_type": grpo|dr_grpo|dapo, "epsilon", "epsilon_high", "beta",
"max_completion_length", "logps", "old_logps" (or null: one update per generation), "ref_logps" (or null),
"entropies", "advantages", "mask", "tunebench": {"loss", "kl", "clip_ratio", "entropy"}}]}, tensors as nested
lists ([N, C], advantages [N]).

Each case runs TRL 1.16's GRPOTrainer._compute_loss, called unbound on a minimal stand-in `self` (a
SimpleNamespace holding the attributes the method reads, a one-process accelerator, and a
_get_per_token_logps_and_entropies that returns the case's log-probabilities and entropies instead of running a
model), in training mode with one accumulation step and one step per generation, so DAPO's normaliser is the
case's completion tokens. Prints {"cases": [{"name", "loss", "metrics"}]} on stdout and the worst difference
per quantity on stderr. Exit status 0 when every difference is within the tolerance (|a - b| <= tol * max(1,
|b|)), 1 when one is not, 2 on a usage or loading error.
"""

import argparse
import collections
import json
import sys
import types


def stand_in(torch, case):
    logps = torch.tensor(case["logps"], dtype=torch.float64, requires_grad=True)
    entropies = torch.tensor(case["entropies"], dtype=torch.float64)

    def per_token(model, input_ids, attention_mask, logits_to_keep, **kwargs):
        return logps, entropies, None

    accelerator = types.SimpleNamespace(
        num_processes=1,
        gather=lambda t: t,
        gather_for_metrics=lambda t: t,
        reduce=lambda t, reduction="sum": t,
    )
    args = types.SimpleNamespace(use_bias_correction_kl=False, delta=None, steps_per_generation=1)
    epsilon_high = case["epsilon_high"]
    self = types.SimpleNamespace(
        _get_per_token_logps_and_entropies=per_token,
        aux_loss_enabled=False,
        top_entropy_quantile=1.0,
        off_policy_mask_threshold=None,
        importance_sampling_level="token",
        beta=case["beta"],
        loss_type=case["loss_type"],
        epsilon_low=case["epsilon"],
        epsilon_high=epsilon_high if epsilon_high >= 0 else case["epsilon"],
        use_vllm=False,
        vllm_importance_sampling_correction=False,
        model=types.SimpleNamespace(training=True),
        current_gradient_accumulation_steps=1,
        max_completion_length=case["max_completion_length"],
        accelerator=accelerator,
        args=args,
        _entropy_bonus_enabled=False,
        _metrics={"train": collections.defaultdict(list), "eval": collections.defaultdict(list)},
    )
    return self, logps


def run_case(torch, grpo_trainer, case):
    self, logps = stand_in(torch, case)
    mask = torch.tensor(case["mask"], dtype=torch.float64)
    n, c = mask.shape
    inputs = {
        "prompt_ids": torch.zeros((n, 1), dtype=torch.long),
        "prompt_mask": torch.ones((n, 1), dtype=torch.long),
        "completion_ids": torch.zeros((n, c), dtype=torch.long),
        "completion_mask": mask,
        "advantages": torch.tensor(case["advantages"], dtype=torch.float64),
        "num_items_in_batch": mask.sum(),
    }
    if case.get("old_logps") is not None:
        inputs["old_per_token_logps"] = torch.tensor(case["old_logps"], dtype=torch.float64)
    if case.get("ref_logps") is not None:
        inputs["ref_per_token_logps"] = torch.tensor(case["ref_logps"], dtype=torch.float64)
    loss = grpo_trainer.GRPOTrainer._compute_loss(self, None, inputs)
    metrics = self._metrics["train"]
    out = {"loss": loss.item(), "metrics": {"clip_ratio": metrics["clip_ratio/region_mean"][-1],
                                            "entropy": metrics["entropy"][-1]}}
    if "kl" in metrics:
        out["metrics"]["kl"] = metrics["kl"][-1]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tolerance", type=float, default=1e-6)
    args = parser.parse_args()
    try:
        cases = json.load(sys.stdin)["cases"]
        import torch
        from trl.trainer import grpo_trainer
    except Exception as e:  # noqa: BLE001 - any load failure is a usage error
        print(f"trl_grpo.py: cannot load: {e}", file=sys.stderr)
        return 2
    results = []
    worst = collections.defaultdict(lambda: (0.0, ""))
    ok = True
    for case in cases:
        r = run_case(torch, grpo_trainer, case)
        results.append({"name": case["name"], **r})
        ours = case.get("tunebench", {})
        pairs = [("loss", ours.get("loss"), r["loss"])] + [
            (k, ours.get(k), v) for k, v in r["metrics"].items()]
        for key, a, b in pairs:
            if a is None:
                continue
            diff = abs(a - b)
            if diff > worst[key][0]:
                worst[key] = (diff, case["name"])
            if diff > args.tolerance * max(1.0, abs(b)):
                ok = False
                print(f"{case['name']}: {key}: Tunebench {a!r}, TRL {b!r}", file=sys.stderr)
    for key, (diff, name) in sorted(worst.items()):
        print(f"worst {key}: {diff:.3g} ({name})", file=sys.stderr)
    print(json.dumps({"cases": results}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
