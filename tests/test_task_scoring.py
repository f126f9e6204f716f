"""Scoring of the task study (iclft.tasks.rouge, iclft.tasks.classify): ROUGE against rouge-score
and its zero-dependency twin; both classification readings, with a shared key/value cache,
against a plain forward pass per item and label on the tiny model; the first-token rule's token
ids by hand; accuracy with and without the unlabelled rows. One slow test checks the real
SmolLM2 and Gemma 3 (label tokens, and a context longer than Gemma 3's sliding window)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from iclft.errors import UserError
from iclft.tasks.classify import accuracy_metrics, classify_records, item_tokens, score_prompts
from iclft.tasks.format import TaskSet
from iclft.tasks.rouge import cut_generation, lcs_fmeasure, mean_and_stderr, rouge_item, rouge_metrics

# ---- ROUGE

PAIRS = [
    ("the cat sat on the mat", "the cat sat on the mat"),
    ("the cat sat on the mat", "on the mat the cat sat"),
    ("The Cat, sat!", "the cat sat"),
    ("a b a b a", "b a b"),
    ("the the the", "the"),
    ("U.S. troops (2024) left", "us troops left in 2024"),
    ("Ünïcode café naïve", "cafe naive unicode"),
    ("", "something"),
    ("something", ""),
    ("", ""),
    ("!!! ...", "???"),
    ("one two three four five", "five four three two one"),
]


@pytest.mark.parametrize("reference, prediction", PAIRS)
def test_lcs_fmeasure_equals_rouge_score(reference, prediction):
    assert lcs_fmeasure(reference, prediction) == pytest.approx(rouge_item(reference, prediction)["rougeL"], abs=1e-12)


def test_rouge_item_by_hand():
    # reference 3 tokens, prediction its first 2: unigrams and LCS p=1 r=2/3; bigrams p=1 r=1/2
    scores = rouge_item("the cat sat", "The cat.")
    assert scores["rouge1"] == pytest.approx(0.8)
    assert scores["rougeL"] == pytest.approx(0.8)
    assert scores["rouge2"] == pytest.approx(2 / 3)
    assert rouge_item("a b c d", "d c b a") == pytest.approx({"rouge1": 1.0, "rouge2": 0.0, "rougeL": 0.25})


def test_cut_generation_keeps_the_text_before_the_first_blank_line():
    assert cut_generation(" A title.\nmore\n\nNext: x\n\ny") == "A title.\nmore"
    assert cut_generation("\n\n  leading blank lines go first \n\nrest") == "leading blank lines go first"
    assert cut_generation("") == ""


def test_bootstrap_stderr_is_seeded_and_near_the_textbook_value():
    values = [i % 7 / 6 for i in range(400)]
    mean, stderr = mean_and_stderr(values)
    assert mean == pytest.approx(sum(values) / len(values))
    assert (mean, stderr) == mean_and_stderr(values)
    assert mean_and_stderr(values, seed=1)[1] != stderr
    textbook = torch.tensor(values).std().item() / math.sqrt(len(values))
    assert stderr == pytest.approx(textbook, rel=0.15)
    assert mean_and_stderr([0.5] * 10) == (0.5, 0.0)
    assert all(math.isnan(x) for x in mean_and_stderr([]))


def test_rouge_metrics_per_set():
    items = [rouge_item(ref, pred) for ref, pred in PAIRS]
    metrics = rouge_metrics(items)
    assert metrics["n"] == len(PAIRS)
    assert metrics["rougeL"]["mean"] == pytest.approx(sum(lcs_fmeasure(r, p) for r, p in PAIRS) / len(PAIRS))
    assert 0 < metrics["rougeL"]["stderr"] < 0.5


# ---- classification


def mood_task(template: str = "Text:\n{text}\nMood:", labels=("happy", "sad")) -> TaskSet:
    return TaskSet(
        Path("moods"), "moods", "sentiment", "classification", ("text",), "mood", tuple(labels), "-",
        (template,), "test.jsonl", "demos.jsonl", (),
    )  # fmt: skip


DEMOS = [{"idx": 0, "text": "The sun is out.", "mood": "happy"}, {"idx": 1, "text": "It rains.", "mood": "sad"}]
TESTS = [
    {"idx": 7, "text": "The cat sat on the mat.", "mood": "happy"},
    {"idx": 8, "text": "The dog ran in the park.", "mood": "sad"},
    {"idx": 9, "text": "Water is wet.", "mood": "-"},
]


def direct_scores(lm, prompt: str, label: str) -> tuple[float, float]:
    """(first-token logit, summed label log-prob) from one plain forward pass over start + prompt + label."""
    tokens = lambda text: lm.tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    prompt_ids, joined = tokens(prompt), tokens(prompt + label)
    assert joined[: len(prompt_ids)] == prompt_ids
    label_ids = joined[len(prompt_ids) :]
    ids = lm._start() + joined
    with torch.no_grad():
        logits = lm.module(input_ids=torch.tensor([ids])).logits[0].float()
    answer = len(lm._start()) + len(prompt_ids) - 1
    logprobs = logits.log_softmax(-1)
    total = sum(logprobs[answer + j, t].item() for j, t in enumerate(label_ids))
    return logits[answer, label_ids[0]].item(), total


@pytest.mark.parametrize("k", [0, 2])
def test_both_readings_equal_a_plain_forward_pass(tiny_lm, k):
    task = mood_task()
    items = classify_records(tiny_lm, task, TESTS, DEMOS, k)
    assert [item["idx"] for item in items] == [7, 8, 9]
    assert [item["gold"] for item in items] == ["happy", "sad", "-"]
    for item in items:
        assert item["prompt"].endswith("Mood:") and item["prompt"].count("Mood:") == k + 1
        assert item["prompt_tokens_merged"] == 0
        for label in task.labels:
            first, total = direct_scores(tiny_lm, item["prompt"], label)
            assert item["first_token"][label] == pytest.approx(first, abs=1e-4)
            assert item["label_logprobs"][label] == pytest.approx(total, abs=1e-4)
        assert item["first_token_pred"] == max(task.labels, key=item["first_token"].get)
        assert item["full_label_pred"] == max(task.labels, key=item["label_logprobs"].get)
    # one row per forward pass gives the same numbers as many
    prompts = [item["prompt"] for item in items]
    one_by_one = score_prompts(tiny_lm, prompts, task.labels, "moods", rows=1)
    for item, single in zip(items, one_by_one):
        assert single["label_logprobs"] == pytest.approx(item["label_logprobs"], abs=1e-4)
    assert score_prompts(tiny_lm, [], task.labels, "moods") == []


def test_first_tokens_are_the_labels_first_tokens_after_the_colon(tiny_lm):
    # the tiny tokenizer splits "Mood:happy" as M oo d : h ap py, and "Mood:sad" as ... : s ad
    tokenize = lambda text: tiny_lm.tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    tokens = item_tokens(tokenize, "Mood:", ["happy", "sad"])
    hand = tiny_lm.tokenizer.convert_tokens_to_ids
    assert tokens.prompt == hand(["M", "oo", "d", ":"])
    assert tokens.labels == [hand(["h", "ap", "py"]), hand(["s", "ad"])]
    assert tokens.first_tokens == hand(["h", "s"]) and tokens.merged == 0


def test_a_prompt_ending_in_a_space_scores_its_space_with_the_labels(tiny_lm):
    # "The link is " ends in the token "Ġ"; "The link is cat" ends in "Ġis", "Ġcat"
    tokenize = lambda text: tiny_lm.tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    tokens = item_tokens(tokenize, "The link is ", ["cat", "dog"])
    hand = tiny_lm.tokenizer.convert_tokens_to_ids
    assert tokens.merged == 1 and tokens.prompt[-1] == hand("Ġis")
    assert tokens.first_tokens == hand(["Ġcat", "Ġdog"])
    task = mood_task("{text} The link is ", labels=("cat", "dog"))
    item = classify_records(tiny_lm, task, TESTS[:1], [], 0)[0]
    assert item["prompt_tokens_merged"] == 1
    first, total = direct_scores(tiny_lm, item["prompt"][:-1], " cat")
    assert item["first_token"]["cat"] == pytest.approx(first, abs=1e-4)
    assert item["label_logprobs"]["cat"] == pytest.approx(total, abs=1e-4)


def test_labels_sharing_a_first_token_are_refused(tiny_lm):
    task = mood_task(labels=("yes", "yellow"))  # both start with the token "y" after the colon
    with pytest.raises(UserError, match="labels 'yes' and 'yellow' both start with token"):
        classify_records(tiny_lm, task, TESTS, DEMOS, 1)


def test_accuracy_counts_unlabelled_rows_wrong_and_also_drops_them():
    golds = ["a", "b", "-", "a", "-"]
    preds = ["a", "a", "a", "a", "b"]
    metrics = accuracy_metrics(golds, preds, unlabelled="-")
    assert metrics["n"] == 5 and metrics["n_unlabelled"] == 2
    assert metrics["accuracy"] == pytest.approx(2 / 5)
    assert metrics["stderr"] == pytest.approx(math.sqrt(0.4 * 0.6 / 5))
    assert metrics["accuracy_labelled"] == pytest.approx(2 / 3)
    assert metrics["stderr_labelled"] == pytest.approx(math.sqrt(2 / 3 * 1 / 3 / 3))
    assert accuracy_metrics(["a", "-"], ["a", "-"])["accuracy"] == 1.0  # no unlabelled value: "-" is a label


@pytest.mark.slow
@pytest.mark.parametrize("name", ["smollm2-135m", "gemma3-270m"])
def test_real_models_first_tokens_and_cached_readings(name):
    """The study's labels start with distinct tokens after a colon, and a space before them is
    merged; with a context longer than Gemma 3's sliding window, both readings still equal a
    plain forward pass."""
    from iclft.config import ModelConfig
    from iclft.models import load_model

    lm = load_model(ModelConfig(name=name, device="cpu"))
    tokenize = lambda text: lm.tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    labels = ["entailment", "neutral", "contradiction"]
    after_colon = item_tokens(tokenize, "Text:\nA.\nLink:", labels)
    assert after_colon.merged == 0 and len(set(after_colon.first_tokens)) == 3
    assert lm.tokenizer.decode(after_colon.labels[0][:1]) == "ent"
    after_space = item_tokens(tokenize, "One:a\nTwo:b\nThe link is ", labels)
    assert after_space.merged == 1 and lm.tokenizer.decode(after_space.labels[1]) == " neutral"

    task = mood_task("Text:\n{text}\nLink:", labels=labels)
    long = " ".join(["The river flows to the sea and the birds fly south in the winter."] * 6)
    demos = [{"idx": i, "text": f"{long} {i}", "mood": labels[i % 3]} for i in range(7)]
    items = classify_records(lm, task, [{"idx": 0, "text": "A short text.", "mood": "neutral"}], demos, 7)
    assert len(tokenize(items[0]["prompt"])) > 600  # Gemma 3 270M's sliding window is 512
    for label in labels:
        first, total = direct_scores(lm, items[0]["prompt"], label)
        assert items[0]["first_token"][label] == pytest.approx(first, abs=1e-4)
        assert items[0]["label_logprobs"][label] == pytest.approx(total, abs=1e-4)
