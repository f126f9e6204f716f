"""The benchmarks' FLOP counts (benchmarks/flops.py) on the tiny model, and (with lm-eval
installed) that the lm-eval requests of benchmarks/vs_lmeval.py get the same token ids and
log-likelihoods as iclft's cached-context scoring."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from flops import ScoringWork, Shape, linear_params, lora_params, scoring_work, training_flops_per_token  # noqa: E402

HAS_LM_EVAL = importlib.util.find_spec("lm_eval") is not None
CONTEXT = "Read these.\n\nThe fleps are larger than the wugs.\n\nDax live near blicks.\n\n"
ITEMS = [
    ("We now know that wugs are", ("smaller than fleps.", "larger than fleps.")),
    ("Dax live near ", ("blicks.", "fleps.", "wugs.")),
    ("Question:\n", ("Yes.", "No.")),
]


def test_shape_and_linear_weights_of_the_tiny_model(tiny_lm):
    shape = Shape.of(tiny_lm.module.config)
    # width 64, 2 layers, 4 heads and 2 key/value heads of 16, MLP 128
    assert shape == Shape(n_layers=2, d_model=64, d_attn=64, d_kv=32, d_ff=128, vocab=len(tiny_lm.tokenizer))
    # per layer: q, o 64×64; k, v 64×32; gate, up, down 64×128
    assert linear_params(shape) == 2 * (2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 128) == 73_728
    layers = tiny_lm.module.model.layers
    weights = sum(p.numel() for name, p in layers.named_parameters() if "norm" not in name)
    assert linear_params(shape) == weights


def test_scoring_work_counts_the_tree_by_hand():
    # context of 3 tokens; one question of 2 tokens with options of 1 and 2 tokens
    work = scoring_work(3, [(2, [1, 2])])
    assert work.tokens == 3 + 2 + 1 + 2
    assert work.head_positions == 3
    # context 3·4/2 = 6; question 2·3 + 3; option 1: 1·5 + 1; option 2: 2·5 + 3
    assert work.pairs == 6 + 9 + 6 + 13 == 34
    shape = Shape(n_layers=2, d_model=8, d_attn=8, d_kv=4, d_ff=16, vocab=10)
    linear = 2 * (2 * 8 * 8 + 2 * 8 * 4 + 3 * 8 * 16)
    assert ScoringWork(8, 3, 34).flops(shape) == 2 * linear * 8 + 2 * 8 * 10 * 3 + 2 * 4 * 8 * 34


def test_training_bounds():
    shape = Shape(n_layers=1, d_model=4, d_attn=4, d_kv=4, d_ff=4, vocab=5)
    p = 4 * 16 + 3 * 16 + 20  # linear weights + head
    assert training_flops_per_token(shape, lora_params=7) == {"full": 6 * p, "lora": 4 * p + 6 * 7}


def test_lora_params_count_the_adapters_iclft_trains(tiny_model_dir):
    from iclft.models.base import LoraSpec
    from iclft.models.hf import TransformersModel

    lm = TransformersModel(tiny_model_dir, device="cpu")  # a fresh copy: training changes it
    lm.start_training(LoraSpec(rank=2))
    trained = sum(p.numel() for p in lm.module.parameters() if p.requires_grad)
    # per layer: q, o (64 + 64), k, v (64 + 32), gate, up, down (64 + 128); rank 2, 2 layers
    assert lora_params(Shape.of(lm.module.config), 2) == 2 * 2 * (2 * 128 + 2 * 96 + 3 * 192) == trained


@pytest.mark.skipif(not HAS_LM_EVAL, reason="lm-eval is not installed (pip install 'iclft[lmeval]')")
def test_lm_eval_requests_score_as_iclft_does_with_a_context(tiny_lm):
    from lm_eval.models.huggingface import HFLM
    from vs_lmeval import harness_loglikelihoods, harness_pairs, same_tokens

    from iclft.models import ScoreRequest

    requests = [ScoreRequest(prefix, options) for prefix, options in ITEMS]
    hflm = HFLM(pretrained=tiny_lm.module, tokenizer=tiny_lm.tokenizer, batch_size=4)
    assert all(same_tokens(tiny_lm, hflm, CONTEXT, r) for r in requests)
    ours = [s.logprob for row in tiny_lm.score(requests, context=CONTEXT) for s in row]
    theirs = harness_loglikelihoods(hflm, [pair for r in requests for pair in harness_pairs(tiny_lm, CONTEXT, r)])
    assert len(theirs) == len(ours) == 7
    assert max(abs(a - b) for a, b in zip(ours, theirs)) <= 1e-4


def test_kernel_times_split_a_real_profiled_pass(tiny_lm):
    from vs_lmeval import kernel_times

    from iclft.models import ScoreRequest

    times = kernel_times(tiny_lm, [ScoreRequest(prefix, options) for prefix, options in ITEMS], CONTEXT)
    assert set(times) == {"matmuls", "attention", "rest"}
    assert all(t > 0 for t in times.values())  # the tiny model runs linear layers and attention too
