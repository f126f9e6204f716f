"""Greedy generation of the task study (iclft.tasks.generate): with the shared prefix's key/value
cache and batches of left-padded prompts, every prompt's text equals plain greedy decoding of
that prompt alone (full forward passes, no cache; and transformers' `generate`), on a tiny model
with weights large enough to generate varied text and end tokens. The stop cut, the end token,
the token limit, the per-item records and the errors. One slow test checks the real SmolLM2 and
Gemma 3 (a context longer than Gemma 3's sliding window)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from iclft.errors import UserError
from iclft.tasks.format import TaskSet
from iclft.tasks.generate import cut_at_stop, end_tokens, generate_records, greedy_generate
from iclft.tasks.rouge import cut_generation, rouge_item


@pytest.fixture(scope="module")
def lively_lm(tiny_model_dir, tmp_path_factory):
    """The tiny model's tokenizer with a random Llama whose larger weights (std 0.2, where the
    tiny model's 0.02 repeats its last token) give varied continuations and end tokens."""
    from transformers import AutoTokenizer

    from iclft.models.hf import TransformersModel
    from iclft.models.tiny import small_llama

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    folder = tmp_path_factory.mktemp("lively-model")
    model = small_llama(
        tokenizer, width=64, layers=2, heads=4, kv_heads=2, mlp=128, max_length=512, seed=1, init_std=0.2
    )
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return TransformersModel(folder, device="cpu", name="lively")


def plain_greedy(lm, prompt: str, max_new_tokens: int, ends: set[int]) -> list[int]:
    """Greedy new tokens of one prompt: a full forward pass over start + prompt + new tokens per step."""
    ids = lm._start() + lm.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    new: list[int] = []
    while len(new) < max_new_tokens and not (new and new[-1] in ends):
        with torch.no_grad():
            new.append(int(lm.module(input_ids=torch.tensor([ids + new])).logits[0, -1].argmax()))
    return new


def plain_text(lm, prompt: str, max_new_tokens: int, stop: str) -> str:
    new = plain_greedy(lm, prompt, max_new_tokens, end_tokens(lm))
    return cut_at_stop(lm.tokenizer.decode(new, skip_special_tokens=True), stop)


DEMOS = "The cat sat on the mat. A dog ran in the park. " * 8
RESTS = [
    "Birds fly",
    "Is the sun bigger than the moon?",
    "One",
    "The river flows to the sea and the",
    "Zorblat was born in",
]
PROMPTS = [DEMOS + rest for rest in RESTS]


@pytest.mark.parametrize("rows", [1, 3])
def test_cached_batches_equal_plain_greedy_decoding(lively_lm, rows):
    got = greedy_generate(lively_lm, PROMPTS, max_new_tokens=20, stop="", rows=rows)
    want = [plain_text(lively_lm, p, 20, "") for p in PROMPTS]
    assert got == want
    ended = [plain_greedy(lively_lm, p, 20, end_tokens(lively_lm))[-1] in end_tokens(lively_lm) for p in PROMPTS]
    assert any(ended) and not all(ended)  # rows leave a batch while others go on
    assert len(set(got)) == len(got) and all(len(text) > 10 for text, end in zip(got, ended) if not end)


def test_equals_transformers_generate_one_prompt_at_a_time(lively_lm):
    ids = lambda p: torch.tensor([lively_lm._start() + lively_lm.tokenizer(p, add_special_tokens=False)["input_ids"]])  # noqa: E731
    for prompt, text in zip(PROMPTS, greedy_generate(lively_lm, PROMPTS, max_new_tokens=12, rows=4)):
        x = ids(prompt)
        out = lively_lm.module.generate(input_ids=x, do_sample=False, max_new_tokens=12, pad_token_id=lively_lm.pad_id)
        assert text == cut_at_stop(lively_lm.tokenizer.decode(out[0, x.shape[1] :], skip_special_tokens=True), "\n\n")


def test_cut_at_stop_keeps_leading_whitespace_and_agrees_with_the_study_cut():
    assert cut_at_stop("A title.\nmore\n\nNext\n\nx", "\n\n") == "A title.\nmore"
    assert cut_at_stop("\n\n\nLeading blank lines\n\nrest", "\n\n") == "\n\n\nLeading blank lines"
    assert cut_at_stop("no stop", "\n\n") == "no stop" and cut_at_stop("a\n\nb", "") == "a\n\nb"
    for text in ["A title.\nmore\n\nNext", "\n\n\nLeading\n\nrest", " x \n\n\n\ny", "\n\n", ""]:
        assert cut_generation(cut_at_stop(text, "\n\n")) == cut_generation(text)


def test_generation_stops_at_the_stop_string(lively_lm):
    full = plain_text(lively_lm, PROMPTS[1], 20, "")
    stop = full[8:10]  # a string the model produces mid-way
    assert stop.strip() and full.index(stop) <= 8
    got = greedy_generate(lively_lm, PROMPTS, max_new_tokens=20, stop=stop, rows=3)
    assert got[1] == full[: full.index(stop)]
    assert got == [plain_text(lively_lm, p, 20, stop) for p in PROMPTS]


def test_generation_stops_at_the_end_token(lively_lm, monkeypatch):
    new = plain_greedy(lively_lm, PROMPTS[0], 20, set())
    at = next(i for i in range(2, len(new)) if new[i] not in new[:i])
    monkeypatch.setattr(lively_lm.module.generation_config, "eos_token_id", new[at])
    assert end_tokens(lively_lm) == {new[at]}
    got = greedy_generate(lively_lm, PROMPTS[:2], max_new_tokens=20, stop="", rows=2)
    assert got[0] == lively_lm.tokenizer.decode(new[: at + 1]) != lively_lm.tokenizer.decode(new)
    assert got[1] == plain_text(lively_lm, PROMPTS[1], 20, "")


def test_at_most_max_new_tokens(lively_lm):
    short = greedy_generate(lively_lm, PROMPTS, max_new_tokens=5, stop="", rows=3)
    assert short == [plain_text(lively_lm, p, 5, "") for p in PROMPTS]
    long = greedy_generate(lively_lm, PROMPTS, max_new_tokens=20, stop="", rows=3)
    assert all(b.startswith(a) for a, b in zip(short, long)) and short != long
    assert greedy_generate(lively_lm, PROMPTS, max_new_tokens=0) == [""] * len(PROMPTS)
    assert greedy_generate(lively_lm, []) == []


def question_task(kind: str = "generation") -> TaskSet:
    return TaskSet(
        Path("questions"), "questions", "question", kind, ("text",), "question", (), None,
        ("Text:\n{text}\nQuestion:",), "test.jsonl", "demos.jsonl", (),
    )  # fmt: skip


POOL = [
    {"idx": 0, "text": "The sun is out.", "question": "Is it sunny?"},
    {"idx": 1, "text": "It rains.", "question": "Is it wet?"},
]
TESTS = [
    {"idx": 7, "text": "The cat sat on the mat.", "question": "Where did the cat sit?"},
    {"idx": 8, "text": "The dog ran in the park.", "question": "Where did the dog run?"},
    {"idx": 9, "text": "Water is wet.", "question": "What is wet?"},
]


@pytest.mark.parametrize("k", [0, 2])
def test_generate_records_fields(lively_lm, k):
    items = generate_records(lively_lm, question_task(), TESTS, POOL, k, max_new_tokens=8)
    assert [item["idx"] for item in items] == [7, 8, 9]
    assert [item["gold"] for item in items] == [r["question"] for r in TESTS]
    texts = greedy_generate(lively_lm, [item["prompt"] for item in items], max_new_tokens=8)
    for item, text in zip(items, texts):
        assert item["prompt"].endswith("Question:") and item["prompt"].count("Question:") == k + 1
        assert item["generation"] == cut_generation(text)
        assert {key: item[key] for key in ("rouge1", "rouge2", "rougeL")} == rouge_item(
            item["gold"], item["generation"]
        )
    assert set(items[0]) == {"idx", "prompt", "gold", "generation", "rougeL", "rouge1", "rouge2"}


def test_errors(lively_lm):
    with pytest.raises(UserError, match="questions/task.yaml: task 'questions' is not a generation task"):
        generate_records(lively_lm, question_task("classification"), TESTS, POOL, 1)
    with pytest.raises(UserError, match="3 demonstrations asked for, the pool has 2"):
        generate_records(lively_lm, question_task(), TESTS, POOL, 3)
    long = "The cat sat on the mat. " * 80  # about 480 tokens; the tiny model accepts 512
    with pytest.raises(
        UserError, match=r"^questions/task.yaml: a prompt and 60 new tokens are \d+ tokens; model lively accepts 512$"
    ):
        generate_records(lively_lm, question_task(), [{"idx": 0, "text": long, "question": "?"}], POOL, 0)


@pytest.mark.slow
@pytest.mark.parametrize("name, repeats, max_new_tokens", [("smollm2-135m", 1, 60), ("gemma3-270m", 9, 20)])
def test_real_models_equal_transformers_generate(name, repeats, max_new_tokens):
    """Generations of a few items with 4 demonstrations equal transformers' `generate` of each
    prompt alone; for Gemma 3 the context is longer than its sliding window (512 tokens)."""
    from iclft.config import ModelConfig
    from iclft.models import load_model
    from iclft.tasks.prompts import test_prompt

    lm = load_model(ModelConfig(name=name, device="cpu"))
    story = " ".join(["The river flows to the sea and the birds fly south in the winter."] * repeats)
    pool = [
        {"idx": 0, "text": f"{story} Kai lent Sam a bike.", "question": "What will Sam want to do next?"},
        {"idx": 1, "text": f"{story} Lee missed the bus.", "question": "How would Lee feel afterwards?"},
        {"idx": 2, "text": f"{story} Ash baked bread.", "question": "Why did Ash do this?"},
        {"idx": 3, "text": f"{story} Quinn won the race.", "question": "What does Quinn need to do before this?"},
    ]
    tests = [
        {"idx": 10, "text": "Jesse took a plane to France.", "question": "What will Jesse want to do next?"},
        {"idx": 11, "text": "Sasha cooked dinner for friends.", "question": "Why did Sasha do this?"},
        {"idx": 12, "text": "Robin forgot the keys at home.", "question": "How would Robin feel afterwards?"},
    ]
    task = question_task()
    items = generate_records(lm, task, tests, pool, 4, max_new_tokens=max_new_tokens, rows=2)
    tokenize = lambda text: lm.tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    if name.startswith("gemma"):
        assert len(tokenize(items[0]["prompt"])) > 600
    for record, item in zip(tests, items):
        assert item["prompt"] == test_prompt(task, record, pool, 4)
        ids = torch.tensor([lm._start() + tokenize(item["prompt"])])
        out = lm.module.generate(
            input_ids=ids,
            do_sample=False,
            max_new_tokens=max_new_tokens,
            pad_token_id=lm.pad_id,
            top_p=None,
            top_k=None,
        )
        assert item["generation"] == cut_generation(
            lm.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
        )
        assert item["generation"]


def test_batches_hold_items_of_similar_length_longest_first():
    from iclft.tasks.classify import length_batches

    assert length_batches([3, 9, 1, 9, 5], 2) == [[1, 3], [4, 0], [2]]  # ties keep their order
    assert sorted(i for batch in length_batches([4, 2, 8], 0) for i in batch) == [0, 1, 2]  # rows < 1: one each
