"""Sentence splitting on every benchmark's document styles, and the loss mask of cumulative splitting."""

import pytest

from iclft.benchmarks import make_benchmark
from iclft.config import FinetuneConfig
from iclft.exposure.finetune import IGNORE, encode_example
from iclft.exposure.splitting import split_document, split_sentences


def test_reversal_documents_are_one_sentence_each():
    bench = make_benchmark("reversal", n_facts=5, docs_per_fact=3)
    for doc in bench.documents:
        assert split_sentences(doc.text) == [doc.text]


def test_syllogism_lead_goes_with_every_premise():
    doc = make_benchmark("syllogism", n_train=3).documents[0]
    lead, premises = doc.text.split(": ", 1)
    sentences = split_sentences(doc.text)
    assert len(sentences) == 2
    assert all(s.startswith(lead + ": ") for s in sentences)
    assert [s.split(": ", 1)[1] for s in sentences] == [p + "." for p in premises.rstrip(".").split(". ")]
    cumulative = split_document(doc.text, "cumulative")
    assert cumulative[0].context == lead + ":" and cumulative[0].target == premises.split(". ")[0] + "."


@pytest.fixture(scope="module")
def semantic_documents():
    return make_benchmark("semantic", n_documents=300).documents


def test_semantic_lists_lose_headings_and_markers(semantic_documents):
    doc = next(d for d in semantic_documents if "\n- " in d.text)
    heading, *lines = doc.text.split("\n")
    assert split_sentences(doc.text) == [line[2:] for line in lines]
    assert all(heading not in s for s in split_sentences(doc.text))


def test_semantic_questions_stay_with_their_answers(semantic_documents):
    doc = next(d for d in semantic_documents if d.text.startswith("Q: "))
    pairs = doc.text.split("\n\n")
    assert split_sentences(doc.text) == pairs
    assert all(s.startswith("Q: ") and "\nA: " in s for s in split_sentences(doc.text))


def test_semantic_prose_gives_every_sentence(semantic_documents):
    for doc in semantic_documents:
        body = doc.text.split("\n\n", 1)[1] if "\n\n" in doc.text and not doc.text.startswith("Q:") else doc.text
        n_marks = sum(body.count(m) for m in ".?!")
        n_questions = body.count("?")
        assert len(split_sentences(doc.text)) == n_marks - n_questions, doc.text


def test_celebrity_documents_keep_questions_with_answers():
    bench = make_benchmark("celebrities")
    assert all(len(split_sentences(d.text)) == 1 for d in bench.documents)
    text = "Question: who is the author of the novel 'Far Away'? Answer: Ada Lind."
    assert split_sentences(text) == [text]


def test_abbreviations_and_generated_text():
    assert split_sentences("Dr. Smith met Mr. Jones. They talked.") == ["Dr. Smith met Mr. Jones.", "They talked."]
    assert split_sentences("1. Wugs are big.\n2. Daxes are small.\nAnd then") == ["Wugs are big.", "Daxes are small."]


def test_modes():
    text = "Facts about wugs\n- Wugs are big.\n- Wugs can fly."
    assert [e.target for e in split_document(text, "none")] == [text]
    assert [(e.context, e.target) for e in split_document(text, "independent")] == [
        ("", "Wugs are big."),
        ("", "Wugs can fly."),
    ]
    cumulative = split_document(text, "cumulative")
    assert [e.target for e in cumulative] == ["Wugs are big.", "Wugs can fly."]
    assert cumulative[1].context == "Facts about wugs\n- Wugs are big.\n-"
    with pytest.raises(ValueError):
        split_document(text, "sideways")


def test_cumulative_context_is_the_document_before_the_sentence(semantic_documents):
    for doc in semantic_documents[:50]:
        for example in split_document(doc.text, "cumulative"):
            assert doc.text.startswith(example.context)
            rest = doc.text[len(example.context) :].lstrip(" -")
            assert rest.startswith(example.target)


def test_cumulative_splitting_puts_no_loss_on_context_sentences(tiny_lm):
    text = "Wugs are big. Daxes are small. Feps can fly."
    cfg = FinetuneConfig()
    for example in split_document(text, "cumulative"):
        ids, labels = encode_example(tiny_lm, example, cfg.max_length)
        trained = [t for t, label in zip(ids, labels) if label != IGNORE]
        assert tiny_lm.tokenizer.decode(trained).strip() == example.target
        n_context = len(tiny_lm.encode_segments([example.context, example.target])[0]) if example.context else 1
        assert all(label == IGNORE for label in labels[:n_context])
