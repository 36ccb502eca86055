#!/usr/bin/env python3
"""TRL's (and transformers') losses and logged metrics for the inputs test_objective_parity wrote.

    tests/reference/run trl_objectives.py --inputs INPUTS.safetensors [--tolerance 1e-5]

INPUTS holds the tensors of two "table models" (policy and reference: the logits at position t of a sequence are
token[id_t] + position[t], so every log-probability is a function of the tokens alone) and, in its metadata under
"manifest", a JSON object:

  {"batches": {NAME: [{"prompt": [ids], "chosen": [ids], "rejected": [ids]}            (pairs)
                      | {"prompt": [ids], "completion": [ids], "desirable": bool}]},   (unpaired)
   "rows": [{"name", "objective": dpo|ipo|orpo|simpo|kto, "params": {...}, "batch": NAME,
             "tunebench": {"loss": x, "metrics": {...}}}],
   "sft": [{"name", "model": FOLDER, "input_ids", "attention_mask", "labels", "logits": TENSOR NAMES,
            "label_smoothing": eps, "tunebench": {"loss": x}}]}

Each preference row is computed by TRL 1.16's own code, called unbound on a minimal stand-in `self` (a
SimpleNamespace with the attributes the method reads: beta, loss_type, label_smoothing, the accelerator's
gather, ...) instead of a whole trainer, which would need datasets, tokenizers and an optimiser:
  dpo    DPOTrainer._compute_loss, loss_type sigmoid. TRL 1.16's sigmoid loss has no label smoothing (it moved
         to the robust, exo and aot losses), so cDPO, -(1-e) log s(bh) - e log s(-bh), is TRL's weighted sum
         2(1-e) sigmoid - (1-2e) robust: robust = (-(1-e) log s(bh) + e log s(-bh)) / (1-2e).
         With a precomputed reference: DPOTrainer.compute_ref_log_probs, then precompute_ref_logps.
  ipo    DPOTrainer._compute_loss, loss_type ipo (per-token mean log-ratios in the loss; rewards from sums).
  orpo   ORPOTrainer.get_batch_loss_metrics (trl.experimental.orpo): odds_ratio_loss with beta = lambda, and
         the NLL of the whole chosen sequence, prompt included, as TRL and the ORPO authors compute it.
  simpo  CPOTrainer.get_batch_loss_metrics (trl.experimental.cpo), loss_type simpo, cpo_alpha 0.
  kto    KTOTrainer._compute_loss, loss_type kto; the KL sequences pair each prompt with the previous example's
         completion, the rotation KTOTrainer._prepare_dataset applies to each batch.
The models run through TRL's fused LM head (trl.trainer.utils.add_fused_lm_head) where TRL's trainers use it,
and the batches through TRL's collators. SFT rows: AutoModelForCausalLM(input_ids, attention_mask,
labels).loss on the model folder, and transformers' ForCausalLMLoss on Tunebench's own logits (with label
smoothing: the Trainer's LabelSmoother on both).

Prints {"rows": [{"name", "loss", "metrics"}], "sft": [{"name", "model_loss", "loss_on_tunebench_logits"}]} on
stdout and, on stderr, the worst difference per objective against the Tunebench values in the manifest. Exit
status 0 when every difference is within the tolerance (|a - b| <= tol * max(1, |b|)), 1 when one is not, 2 on a
usage or loading error.
"""

import argparse
import collections
import json
import os
import sys
import types

# TRL's metric names -> Tunebench's.
METRIC_NAMES = {
    "rewards/chosen": "rewards_chosen",
    "rewards/rejected": "rewards_rejected",
    "rewards/accuracies": "reward_accuracy",
    "rewards/margins": "reward_margin",
    "logps/chosen": "logps_chosen",
    "logps/rejected": "logps_rejected",
    "nll_loss": "nll_loss",
    "log_odds_ratio": "log_odds_ratio",
    "log_odds_chosen": "log_odds_chosen",
    "kl": "kl",
}


def fail(message, status=2):
    print(f"trl_objectives.py: {message}", file=sys.stderr)
    sys.exit(status)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", required=True, help="the safetensors file test_objective_parity wrote")
    parser.add_argument("--tolerance", type=float, default=1e-5, help="largest relative |difference| accepted")
    args = parser.parse_args()

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # CPO and ORPO live in trl.experimental in 1.16
    try:
        import torch
        from safetensors import safe_open
        from transformers import AutoModelForCausalLM, PreTrainedConfig, PreTrainedModel
        from transformers.loss.loss_utils import ForCausalLMLoss
        from transformers.modeling_outputs import BaseModelOutput, CausalLMOutput
        from transformers.trainer_pt_utils import LabelSmoother
        from trl.experimental.cpo import CPOTrainer
        from trl.experimental.orpo import ORPOTrainer
        from trl.trainer.dpo_trainer import DataCollatorForPreference, DPOTrainer
        from trl.trainer.kto_trainer import DataCollatorForUnpairedPreference, KTOTrainer
        from trl.trainer.utils import add_fused_lm_head
    except ImportError as e:
        fail(f"{e}; needs the reference environment (tests/reference/requirements.txt)")
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # keeps the report on stderr readable
    transformers_logging.set_verbosity_error()

    try:
        with safe_open(args.inputs, framework="pt") as f:
            manifest = json.loads(f.metadata()["manifest"])
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except Exception as e:  # noqa: BLE001 - any loading failure is a usage error
        fail(f"{args.inputs}: {type(e).__name__}: {e}")

    class TableConfig(PreTrainedConfig):
        model_type = "tunebench_table"

    class TableBackbone(torch.nn.Module):
        def __init__(self, token, position):
            super().__init__()
            self.token = torch.nn.Parameter(token.float(), requires_grad=False)
            self.position = torch.nn.Parameter(position.float(), requires_grad=False)

        def forward(self, input_ids, attention_mask=None, **kwargs):
            positions = torch.arange(input_ids.shape[1])
            return BaseModelOutput(last_hidden_state=self.token[input_ids] + self.position[positions])

    class TableLM(PreTrainedModel):
        """The table model as a transformers model: backbone states of vocabulary width, an identity LM head
        (exact in float32), so TRL's fused head scores the same logits Tunebench's test model returns."""

        config_class = TableConfig
        base_model_prefix = "model"

        def __init__(self, token, position):
            vocab = token.shape[0]
            super().__init__(TableConfig(vocab_size=vocab, hidden_size=vocab))
            self.model = TableBackbone(token, position)
            self.lm_head = torch.nn.Linear(vocab, vocab, bias=False)
            with torch.no_grad():
                self.lm_head.weight.copy_(torch.eye(vocab))

        def get_output_embeddings(self):
            return self.lm_head

        def forward(self, input_ids, attention_mask=None, **kwargs):
            return CausalLMOutput(logits=self.lm_head(self.model(input_ids).last_hidden_state))

    def table_model(name):
        model = TableLM(tensors[f"{name}.token"], tensors[f"{name}.position"])
        model.train()  # TRL's trainers log under "train" while training; a table model has no dropout
        add_fused_lm_head(model, outputs=("log_probs", "entropy", "mean_logits", "is_top1"))
        return model

    policy = table_model("policy")
    reference = table_model("reference")

    class SingleProcess:
        """The accelerator TRL's methods reach for: one process, so gathers return their input."""

        device = torch.device("cpu")

        def gather(self, x):
            return x

        gather_for_metrics = gather

        def unwrap_model(self, model):
            return model

        def autocast(self):
            import contextlib

            return contextlib.nullcontext()

    def stand_in(cls, methods=(), **attrs):
        """A minimal `self` for cls's methods: attrs, plus `methods` of cls bound to it (static ones as they are)."""
        import inspect

        me = types.SimpleNamespace(accelerator=SingleProcess(), aux_loss_enabled=False, **attrs)
        for name in methods:
            raw = inspect.getattr_static(cls, name)
            function = getattr(cls, name)
            setattr(me, name, function if isinstance(raw, staticmethod) else types.MethodType(function, me))
        return me

    def new_metrics():
        return {"train": collections.defaultdict(list), "eval": collections.defaultdict(list)}

    def logged(metrics):
        return {METRIC_NAMES[k]: v[-1] for k, v in metrics["train"].items() if k in METRIC_NAMES}

    def padded(rows, value):
        width = max(len(r) for r in rows)
        return torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)

    def side(examples, key):
        """Right-padded prompt + response ids, mask and labels (-100 on the prompt), as TRL's tokenize_row has them."""
        ids = [e["prompt"] + e[key] for e in examples]
        labels = [[-100] * len(e["prompt"]) + e[key] for e in examples]
        return {
            f"{key}_input_ids": padded(ids, 0),
            f"{key}_attention_mask": padded([[1] * len(r) for r in ids], 0),
            f"{key}_labels": padded(labels, -100),
        }

    def dpo(row, examples):
        p = row["params"]
        beta, eps = p.get("beta", 0.1), p.get("label_smoothing", 0.0)
        if row["objective"] == "ipo":
            loss_types, weights = ["ipo"], [1.0]
        elif eps > 0:
            loss_types, weights = ["sigmoid", "robust"], [2 * (1 - eps), -(1 - 2 * eps)]
        else:
            loss_types, weights = ["sigmoid"], [1.0]
        inputs = DataCollatorForPreference(pad_token_id=0)(
            [{"prompt_ids": e["prompt"], "chosen_ids": e["chosen"], "rejected_ids": e["rejected"]} for e in examples]
        )
        cached = bool(p.get("precompute_ref_log_probs", False))
        me = stand_in(
            DPOTrainer,
            model=policy,
            ref_model=reference,
            args=types.SimpleNamespace(gradient_checkpointing_kwargs=None),
            beta=beta,
            label_smoothing=eps,
            loss_types=loss_types,
            loss_weights=weights,
            ld_alpha=None,
            f_divergence_type="reverse_kl",
            use_weighting=False,
            precompute_ref_logps=cached,
            _metrics=new_metrics(),
            _total_train_tokens=0,
            _tp_size=1,
        )
        if cached:
            ref_chosen, ref_rejected = DPOTrainer.compute_ref_log_probs(me, reference, inputs)
            inputs["ref_chosen_logps"], inputs["ref_rejected_logps"] = ref_chosen, ref_rejected
        loss = DPOTrainer._compute_loss(me, policy, inputs, False)
        return loss.item(), logged(me._metrics)

    def orpo(row, examples):
        batch = {**side(examples, "chosen"), **side(examples, "rejected")}
        me = stand_in(
            ORPOTrainer,
            ("concatenated_forward", "concatenated_inputs", "get_batch_logps", "odds_ratio_loss"),
            beta=row["params"].get("lambda", 0.1),
            is_encoder_decoder=False,
            padding_value=0,
        )
        loss, metrics = ORPOTrainer.get_batch_loss_metrics(me, policy, batch, "train")
        return loss.item(), {METRIC_NAMES[k]: v for k, v in metrics.items() if k in METRIC_NAMES}

    def simpo(row, examples):
        batch = {**side(examples, "chosen"), **side(examples, "rejected")}
        p = row["params"]
        me = stand_in(
            CPOTrainer,
            ("concatenated_forward", "concatenated_inputs", "get_batch_logps", "cpo_loss"),
            beta=p.get("beta", 2.0),
            simpo_gamma=p.get("gamma", 1.0),
            loss_type="simpo",
            cpo_alpha=0.0,
            label_smoothing=0.0,
            alpha=0.0,
            is_encoder_decoder=False,
            pad_token_id=0,
        )
        loss, metrics = CPOTrainer.get_batch_loss_metrics(me, policy, batch, "train")
        # nll_loss is CPO's behaviour-cloning term, 0 with cpo_alpha 0: not part of SimPO.
        return loss.item(), {METRIC_NAMES[k]: v for k, v in metrics.items() if k in METRIC_NAMES and k != "nll_loss"}

    def kto(row, examples):
        p = row["params"]
        completions = [e["completion"] for e in examples]
        kl_completions = completions[-1:] + completions[:-1]
        inputs = DataCollatorForUnpairedPreference(pad_token_id=0)(
            [
                {"prompt_ids": e["prompt"], "completion_ids": e["completion"], "KL_completion_ids": k,
                 "label": e["desirable"]}
                for e, k in zip(examples, kl_completions)
            ]
        )
        me = stand_in(
            KTOTrainer,
            ("_compute_kl_logps",),
            model=policy,
            ref_model=reference,
            args=types.SimpleNamespace(gradient_checkpointing_kwargs=None),
            beta=p.get("beta", 0.1),
            desirable_weight=p.get("desirable_weight", 1.0),
            undesirable_weight=p.get("undesirable_weight", 1.0),
            loss_type="kto",
            calculate_KL=True,
            precompute_ref_logps=False,
            _metrics=new_metrics(),
            _total_train_tokens=0,
            _tp_size=1,
        )
        loss = KTOTrainer._compute_loss(me, policy, inputs, False)
        return loss.item(), logged(me._metrics)

    objectives = {"dpo": dpo, "ipo": dpo, "orpo": orpo, "simpo": simpo, "kto": kto}

    def close(ours, theirs):
        return abs(ours - theirs) <= args.tolerance * max(1.0, abs(theirs))

    out = {"rows": [], "sft": []}
    worst = collections.defaultdict(lambda: [0, 0.0, 0.0, ""])  # rows, loss diff, metric diff, where
    ok = True
    try:
        for row in manifest["rows"]:
            examples = manifest["batches"][row["batch"]]
            with torch.no_grad():
                loss, metrics = objectives[row["objective"]](row, examples)
            out["rows"].append({"name": row["name"], "loss": loss, "metrics": metrics})
            ours = row.get("tunebench")
            if ours is None:
                continue
            w = worst[row["objective"]]
            w[0] += 1
            d = abs(ours["loss"] - loss)
            w[1] = max(w[1], d)
            ok &= close(ours["loss"], loss)
            names = set(ours["metrics"]) | set(metrics)
            for name in sorted(names):
                if name not in ours["metrics"] or name not in metrics:
                    print(f"{row['name']}: {name} logged by {'TRL' if name in metrics else 'Tunebench'} only",
                          file=sys.stderr)
                    ok = False
                    continue
                d = abs(ours["metrics"][name] - metrics[name])
                if d > w[2]:
                    w[2], w[3] = d, f"{row['name']}: {name}"
                ok &= close(ours["metrics"][name], metrics[name])

        for row in manifest["sft"]:
            ids = tensors[row["input_ids"]].long()
            mask = tensors[row["attention_mask"]].long()
            labels = tensors[row["labels"]].long()
            ours_logits = tensors[row["logits"]].float()
            eps = row.get("label_smoothing", 0.0)
            model = AutoModelForCausalLM.from_pretrained(row["model"], dtype=torch.float32, attn_implementation="eager")
            model.eval()
            with torch.no_grad():
                output = model(input_ids=ids, attention_mask=mask, labels=labels)
                if eps > 0:
                    smoother = LabelSmoother(epsilon=eps)
                    model_loss = smoother(output, labels, shift_labels=True).item()
                    on_ours = smoother({"logits": ours_logits}, labels, shift_labels=True).item()
                else:
                    model_loss = output.loss.item()
                    on_ours = ForCausalLMLoss(ours_logits, labels, ours_logits.shape[-1]).item()
            out["sft"].append({"name": row["name"], "model_loss": model_loss, "loss_on_tunebench_logits": on_ours})
            ours = row.get("tunebench")
            if ours is None:
                continue
            w = worst["sft"]
            w[0] += 1
            w[1] = max(w[1], abs(ours["loss"] - model_loss))
            if abs(ours["loss"] - on_ours) > w[2]:
                w[2], w[3] = abs(ours["loss"] - on_ours), f"{row['name']}: loss on Tunebench's logits"
            ok &= close(ours["loss"], model_loss) and close(ours["loss"], on_ours)
    except Exception as e:  # noqa: BLE001 - a malformed manifest or a TRL API change is a usage error
        import traceback

        traceback.print_exc()
        fail(f"{type(e).__name__}: {e}")

    for objective, (rows, loss_diff, metric_diff, where) in worst.items():
        metric_text = "loss on its logits" if objective == "sft" else "metric"
        print(f"{objective}: {rows} rows, worst loss difference {loss_diff:.3g}, worst {metric_text} difference "
              f"{metric_diff:.3g}{' (' + where + ')' if where else ''}", file=sys.stderr)
    json.dump(out, sys.stdout)
    print()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
