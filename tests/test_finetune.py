"""Fine-tuning on the tiny random model: loss masks, padding, learning, determinism."""

import json

import pytest
import torch

from iclft.config import FinetuneConfig
from iclft.errors import UserError
from iclft.exposure.finetune import IGNORE, encode_example, finetune, make_batches
from iclft.models.base import ScoreRequest, TrainExample
from iclft.models.hf import lora_targets
from iclft.schedule import lr_factor

FACTS = [
    ("The blicket is", "larger than the dax."),
    ("Zorblat was born", "in Quenville."),
    ("The gorp is", "bigger than the zib."),
    ("The mother of Trelka", "is Vossina."),
]


@pytest.fixture
def lm(tiny_model_dir):
    """A fresh copy per test: fine-tuning changes the model in place."""
    from iclft.models.hf import TransformersModel

    return TransformersModel(tiny_model_dir, device="cpu", name="tiny")


def fact_logprobs(lm) -> list[float]:
    scores = lm.score([ScoreRequest(prefix, (cont,)) for prefix, cont in FACTS])
    return [s[0].logprob for s in scores]


def test_context_start_and_padding_get_no_loss(lm):
    examples = [TrainExample("in Quenville.", context="Zorblat was born"), TrainExample("The dax.")]
    (batch,) = make_batches(lm, examples, FinetuneConfig(batch_size=2))
    ctx, tgt = lm.encode_segments(["Zorblat was born", "in Quenville."])
    (doc,) = lm.encode_segments(["The dax."])
    rows = {len(ctx + tgt): ctx + tgt, len(doc): doc}
    for ids, mask, labels in zip(batch.input_ids.tolist(), batch.attention_mask.tolist(), batch.labels.tolist()):
        n = sum(mask)
        assert ids[:n] == rows[n] and mask == [1] * n + [0] * (len(mask) - n)
        assert labels[n:] == [IGNORE] * (len(labels) - n)  # padding
        if n == len(ctx + tgt):
            assert labels[:n] == [IGNORE] * len(ctx) + tgt  # context and start token unscored
        else:
            assert labels[:n] == [IGNORE] + doc[1:]  # every document token after the start token


def test_truncation_keeps_start_token_and_target(lm):
    ex = TrainExample("in Quenville.", context="The cat sat on the mat. A dog ran in the park. " * 5)
    ctx, tgt = lm.encode_segments([ex.context, ex.target])
    ids, labels = encode_example(lm, ex, max_length=len(tgt) + 3)
    assert len(ids) == len(tgt) + 3
    assert ids[0] == lm.bos_id and ids[-len(tgt) :] == tgt and labels[-len(tgt) :] == tgt
    assert labels[: -len(tgt)] == [IGNORE] * 3


def test_padding_share_reported(lm):
    examples = [TrainExample("The cat sat on the mat."), TrainExample("Water is wet.")]
    n1, n2 = (len(lm.encode_segments([e.target])[0]) for e in examples)
    summary = finetune(lm, examples, FinetuneConfig(batch_size=2, steps=1, warmup_steps=0), progress=False)
    assert summary["tokens"] == n1 + n2
    assert summary["padding_share"] == pytest.approx(1 - (n1 + n2) / (2 * max(n1, n2)), abs=1e-4)


def test_steps_follow_epochs_and_every_example_is_seen(lm):
    examples = [TrainExample(f"{p} {c}") for p, c in FACTS[:3]]
    cfg = FinetuneConfig(method="full", epochs=2, batch_size=2, warmup_steps=0)
    n_tokens = sum(len(lm.encode_segments([e.target])[0]) for e in examples)
    summary = finetune(lm, examples, cfg, progress=False)
    assert summary["steps"] == 4 and summary["batches_per_epoch"] == 2
    assert summary["tokens"] == 2 * n_tokens  # two full passes, each example once per pass


def test_lora_targets_every_projection_but_the_head(lm):
    targets = lora_targets(lm.module)
    assert {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"} <= set(targets)
    assert "lm_head" not in targets


def test_lr_schedule_warms_up_then_decays_to_zero():
    factors = [lr_factor(s, 4, 20) for s in range(20)]
    assert factors[:5] == sorted(factors[:5]) and factors[4] == 1.0
    assert factors[4:] == sorted(factors[4:], reverse=True) and factors[-1] < 0.01
    linear = [lr_factor(s, 0, 10, decay="linear") for s in range(11)]
    assert linear == pytest.approx([1 - s / 10 for s in range(11)])


@pytest.mark.parametrize("method, lr", [("lora", 1e-2), ("full", 3e-3)])
def test_finetune_learns_the_facts(lm, tmp_path, method, lr):
    examples = [TrainExample(f"{p} {c}") for p, c in FACTS]
    before = fact_logprobs(lm)
    cfg = FinetuneConfig(method=method, learning_rate=lr, steps=30, batch_size=2, warmup_steps=3)
    log = tmp_path / "ft.jsonl"
    summary = finetune(lm, examples, cfg, seed=0, log_path=log, progress=False)
    after = fact_logprobs(lm)

    assert summary["last_loss"] < summary["first_loss"] - 0.5
    assert all(a > b + 1 for a, b in zip(after, before)), (before, after)
    assert summary["steps"] == 30 and summary["epochs"] == 15 and summary["examples"] == 4
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 31))
    assert records[-1]["tokens"] == summary["tokens"]
    assert not lm.module.training and not any(p.requires_grad for p in lm.module.parameters())
    if method == "lora":  # merged: a plain transformers model again
        assert not any("lora" in name for name, _ in lm.module.named_parameters())


def test_train_only_changes_just_the_named_weights(lm, tiny_model_dir):
    from iclft.models.hf import TransformersModel

    before = {name: p.detach().clone() for name, p in lm.module.named_parameters()}
    examples = [TrainExample(f"{p} {c}") for p, c in FACTS]
    cfg = FinetuneConfig(method="full", train_only=["mlp"], learning_rate=3e-3, steps=10, batch_size=2)
    summary = finetune(lm, examples, cfg, progress=False)
    changed = {name for name, p in lm.module.named_parameters() if not torch.equal(p, before[name])}
    mlp = {name for name in before if "mlp" in name}
    assert changed == mlp and summary["trainable_weights"] == sum(before[n].numel() for n in mlp)
    assert summary["last_loss"] < summary["first_loss"]

    fresh = TransformersModel(tiny_model_dir, device="cpu", name="tiny")
    with pytest.raises(UserError, match=r"ft.train_only: 'mpl' is in no weight name \(one is 'model"):
        finetune(fresh, examples, cfg.model_copy(update={"train_only": ["mpl"]}), progress=False)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"method": "lora", "train_only": ["mlp"]}, "needs ft.method: full"),
        ({"method": "full", "train_only": []}, "one or more"),
    ],
)
def test_train_only_settings_are_checked(fields, message):
    with pytest.raises(ValueError, match=message):
        FinetuneConfig(**fields)


def test_loss_is_the_targets_mean_negative_logprob(lm, tmp_path):
    """The first step's loss is exactly what the scorer says of the target after its context."""
    score = lm.score([ScoreRequest("Zorblat was born", ("in Quenville.",))])[0][0]
    examples = [TrainExample("in Quenville.", context="Zorblat was born")] * 2
    log = tmp_path / "ft.jsonl"
    finetune(lm, examples, FinetuneConfig(steps=1, batch_size=2, warmup_steps=0), log_path=log, progress=False)
    first = json.loads(log.read_text().splitlines()[0])
    assert first["loss"] == pytest.approx(-score.logprob / score.n_tokens, rel=1e-4)


def test_same_seed_same_result(tiny_model_dir):
    from iclft.models.hf import TransformersModel

    examples = [TrainExample(f"{p} {c}") for p, c in FACTS]
    cfg = FinetuneConfig(steps=8, batch_size=2, warmup_steps=2, learning_rate=1e-2)
    runs = []
    for seed in (0, 0, 1):
        lm = TransformersModel(tiny_model_dir, device="cpu", name="tiny")
        runs.append((finetune(lm, examples, cfg, seed=seed, progress=False)["last_loss"], fact_logprobs(lm)))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_organism_training_uses_the_same_schedule_with_a_floor():
    from iclft.organism.train import TrainConfig, lr_at

    cfg = TrainConfig(lr=1.0, warmup_steps=4, steps=20, min_lr_ratio=0.1)
    assert [lr_at(s, cfg) for s in range(20)] == [lr_factor(s, 4, 20, 0.1) for s in range(20)]
    assert lr_at(3, cfg) == 1.0 and lr_at(19, cfg) > 0.1 and lr_at(20, cfg) == pytest.approx(0.1)
