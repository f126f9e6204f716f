from iclft.benchmarks.schema import Document
from iclft.config import IclConfig
from iclft.exposure.icl import icl_context, select_documents

DOCS = [Document(f"d{i}", f"Fact {i // 3} said way {i % 3}.", (f"f{i // 3}",)) for i in range(30)]


def test_all_documents_by_default_in_order():
    context = icl_context(DOCS, IclConfig(), seed=0)
    assert context.startswith(IclConfig().instruction)
    assert context.endswith("\n\n")
    positions = [context.index(d.text) for d in DOCS]
    assert positions == sorted(positions)


def test_one_per_fact_keeps_each_fact_once_and_depends_on_seed():
    picks = [select_documents(DOCS, IclConfig(one_per_fact=True), seed) for seed in range(5)]
    for chosen in picks:
        assert sorted(d.fact_ids[0] for d in chosen) == sorted({d.fact_ids[0] for d in DOCS})
    assert len({tuple(d.id for d in chosen) for chosen in picks}) > 1
    assert picks[0] == select_documents(DOCS, IclConfig(one_per_fact=True), 0)


def test_subsample_share():
    chosen = select_documents(DOCS, IclConfig(subsample=0.5), seed=1)
    assert len(chosen) == 15
    assert [d.id for d in chosen] == sorted((d.id for d in chosen), key=lambda i: int(i[1:]))


def test_fact_groups_give_each_item_a_context_with_its_own_facts():
    from iclft.benchmarks.reversal import make_reversal
    from iclft.exposure.icl import fact_groups

    bench = make_reversal(seed=0, n_facts=10, docs_per_fact=2)
    assert fact_groups(bench.documents, bench.items, None) == [(bench.documents, bench.items)]
    groups = fact_groups(bench.documents, bench.items, 4)
    assert [len({f for d in docs for f in d.fact_ids}) for docs, _ in groups] == [4, 4, 2]
    assert sorted(it.id for _, items in groups for it in items) == sorted(it.id for it in bench.items)
    for docs, items in groups:
        stated = {f for d in docs for f in d.fact_ids}
        assert all(set(it.fact_ids) <= stated for it in items)
