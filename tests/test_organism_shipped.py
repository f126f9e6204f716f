"""The shipped organism (zoo model `organism`): loads like any model, reads facts in context.

Scored on a freshly generated benchmark from the TEST word pool (seed 4321: no benchmark
the organism was evaluated on while it was trained), 4 facts per context, as the quickstart
scores it. Thresholds are the issue's goals; docs/organism.md has the measured numbers.
"""

import json

import pytest

from iclft.models.zoo import ORGANISM_FOLDER, resolve
from iclft.organism.evaluate import evaluate_model
from iclft.organism.train import MANIFEST

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def result():
    lm = resolve("organism", device="cpu")
    return evaluate_model(lm, seed=4321, n_facts=64, facts_per_context=4, n_syllogisms=30)


def test_shipped_organism_is_small_and_records_how_it_was_made():
    weights = ORGANISM_FOLDER / "model.safetensors"
    assert weights.stat().st_size <= 25 * 2**20
    manifest = json.loads((ORGANISM_FOLDER / MANIFEST).read_text())
    assert manifest["command"].startswith("iclft organism train")
    assert manifest["parent"]["command"].startswith("iclft organism train")


def test_without_context_the_organism_is_near_chance(result):
    assert 0.3 <= result["base_forward"] <= 0.7
    assert 0.3 <= result["base_reversal"] <= 0.7
    assert abs(result["base_syllogism"] - result["syllogism_chance"]) <= 0.2
    for split in ("rephrased", "reversal", "syllogism", "holdout"):  # 4 options, 40 items each
        assert abs(result[f"base_semantic_{split}"] - result["semantic_chance"]) <= 0.2


def test_in_context_the_organism_restates_facts_it_was_given(result):
    assert result["icl_forward"] >= 0.95
    assert result["heldout_template_forward"] >= 0.90  # lead-ins it never saw in training


def test_in_context_the_organism_reverses_facts_it_was_given(result):
    assert result["icl_reversal"] >= 0.90
    assert result["heldout_template_reversal"] >= 0.90
    assert result["heldout_dim_reversal"] > 0.5  # dimensions it never saw (8 items)


def test_in_context_the_organism_draws_valid_syllogistic_conclusions(result):
    assert result["icl_syllogism"] >= 0.80
    assert result["icl_syllogism"] >= result["base_syllogism"] + 0.3  # it reads the premises


def test_semantic_splits_are_reported_against_their_chance(result):
    assert result["semantic_chance"] == 0.25
    assert result["semantic_rephrased"] >= result["semantic_chance"] + 0.1  # measured 0.48 (40 items)
    assert result["semantic_reversal"] <= result["semantic_chance"]  # measured 0.08: below chance
