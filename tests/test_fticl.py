"""FTICL: demonstrations before every training input, seeded, never the example's own document, no loss on them."""

import pytest

from iclft.benchmarks import make_benchmark
from iclft.config import FinetuneConfig, FticlConfig, config_from_dict
from iclft.errors import UserError
from iclft.exposure.data import training_examples
from iclft.exposure.finetune import IGNORE, encode_example
from iclft.exposure.fticl import DemonstrationPicker


def bench():
    return make_benchmark("reversal", n_facts=6, docs_per_fact=2)


def config(split="none", **fticl):
    return config_from_dict(
        {"benchmark": {"name": "reversal"}, "condition": "fticl", "fticl": fticl, "ft": {"split": split}}
    )


def test_demonstrations_are_other_documents_and_seeded():
    docs = bench().documents
    picker = DemonstrationPicker(docs, FticlConfig(k=3), seed=1)
    again = DemonstrationPicker(docs, FticlConfig(k=3), seed=1)
    for i, doc in enumerate(docs):
        demos = picker.pick(i)
        assert len(demos) == 3 and doc not in demos and len(set(d.id for d in demos)) == 3
        assert demos == again.pick(i)


def test_fixed_source_uses_one_pool():
    docs = bench().documents
    picker = DemonstrationPicker(docs, FticlConfig(k=2, source="fixed"), seed=0)
    pools = [tuple(d.id for d in picker.pick(i)) for i in range(len(docs))]
    assert len({p for i, p in enumerate(pools) if docs[i].id not in picker.pool_ids}) == 1
    assert all(docs[i].id not in pool for i, pool in enumerate(pools))


def test_too_few_documents():
    with pytest.raises(UserError, match="fticl.k=20"):
        DemonstrationPicker(bench().documents, FticlConfig(k=20), seed=0)


def test_every_example_gets_demonstrations_in_its_context():
    b = bench()
    examples = training_examples(b, config(k=2))
    assert [e.target for e in examples] == [d.text for d in b.documents]
    for example in examples:
        demos = example.context.strip().split("\n\n")
        assert len(demos) == 2 and example.target not in demos


def test_fticl_puts_no_loss_on_the_demonstrations(tiny_lm):
    for example in training_examples(bench(), config(k=2, source="fixed"))[:4]:
        ids, labels = encode_example(tiny_lm, example, FinetuneConfig().max_length)
        trained = [t for t, label in zip(ids, labels) if label != IGNORE]
        assert tiny_lm.tokenizer.decode(trained).strip() == example.target
        n_context = len(tiny_lm.encode_segments([example.context, example.target])[0])
        assert all(label == IGNORE for label in labels[:n_context]) and n_context > 10


def test_fticl_with_cumulative_splitting_keeps_earlier_sentences_after_the_demonstrations():
    b = make_benchmark("syllogism", n_train=4)
    examples = training_examples(b, config(split="cumulative", k=1))
    assert len(examples) == 8
    second = examples[1]
    assert second.context.endswith(b.documents[0].text[: b.documents[0].text.index(second.target)].rstrip())
