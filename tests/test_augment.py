"""Augmenters: oracle per benchmark, audit, templates, parsing, the generation cache, prompts."""

import json

import pytest

from iclft.benchmarks import make_benchmark
from iclft.benchmarks.schema import Benchmark, Document
from iclft.config import AugmentConfig, ModelConfig
from iclft.errors import UserError
from iclft.exposure.augment import augment_targets, build_augmentations
from iclft.exposure.augment.audit import audit_statements
from iclft.exposure.augment.cache import GenerationCache, generate_cached
from iclft.exposure.augment.oracle import oracle_augmentations
from iclft.exposure.augment.parse import Deduplicator, parse_statements
from iclft.exposure.augment.prompts import global_prompts, local_prompts
from iclft.exposure.augment.templates import load_template
from iclft.models.base import GenerationSettings


def statements(augmentations):
    return [s for a in augmentations for s in a.statements]


def test_reversal_oracle_writes_true_reversals_in_several_lead_ins():
    bench = make_benchmark("reversal", n_facts=10, docs_per_fact=2)
    augs = oracle_augmentations(bench, samples=3, seed=0)
    assert len(augs) == 30 and all(a.method == "oracle" for a in augs)
    summary, verdicts = audit_statements(bench, statements(augs))
    assert summary["true"] == 30 and summary["true_share"] == 1.0
    item = bench.items_in("reversal")[0]
    answer = item.options[item.answers[0]]
    assert any(s.endswith(answer[:-1] + ".") or s.endswith(answer[:-1] + "?") for s in statements(augs))
    assert oracle_augmentations(bench, samples=3, seed=0) == augs


def test_syllogism_oracle_writes_exactly_the_valid_conclusions():
    bench = make_benchmark("syllogism", n_train=12)
    augs = oracle_augmentations(bench)
    summary, _ = audit_statements(bench, statements(augs))
    assert summary["true_share"] == 1.0
    for item in bench.items:
        valid = {item.options[i] for i in item.answers}
        assert valid <= set(statements(augs))


def test_semantic_oracle_covers_every_deduction_item():
    bench = make_benchmark("semantic", n_documents=300)
    written = set(statements(oracle_augmentations(bench)))
    for split in ("syllogism",):
        for item in bench.items_in(split):
            assert f"{item.prefix} {item.options[item.answers[0]]}" in written, item.id


def test_celebrity_oracle_writes_descriptions_to_names():
    bench = make_benchmark("celebrities")
    written = statements(oracle_augmentations(bench))
    person = next(r for r in bench.facts if r.get("type") == "person" and r["group"] == "p2d")
    assert any(s.endswith(f"is {person['name']}.") and person["description"][1:] in s for s in written)


def test_oracle_refuses_user_data():
    bench = make_benchmark("reversal", n_facts=2, docs_per_fact=1)
    bench.name = "user"
    with pytest.raises(UserError, match="oracle"):
        oracle_augmentations(bench)


def test_reversal_audit_verdicts():
    bench = make_benchmark("reversal", n_facts=3, docs_per_fact=1)
    f = bench.facts[0]
    cases = {
        f"It is known that {f['b']} are {f['converse']} than {f['a']}.": "true",
        f"{f['a']} are {f['comparative']} than {f['b']}.": "true",
        f"{f['b']} are {f['comparative']} than {f['a']}.": "false",
        f"{f['a']} are {f['comparative']} than {bench.facts[1]['b']}.": "false",
        "Wugs are heavier than daxes.": "unparseable",
        f"{f['a']} weigh a lot.": "unparseable",
    }
    summary, verdicts = audit_statements(bench, list(cases))
    assert verdicts == list(cases.values())
    assert (summary["true"], summary["false"], summary["unparseable"]) == (2, 2, 2)


def test_syllogism_audit_verdicts():
    bench = make_benchmark("syllogism", n_train=3)
    fact = bench.facts[0]
    premise = fact["premises"][0]
    restated = f"{premise[0].capitalize()} {premise[1]} are {premise[2]}."
    other = bench.facts[1]["terms"]["S"]
    _, verdicts = audit_statements(
        bench, [restated, fact["valid"][0], f"All {fact['terms']['S']} are {other}.", "All wugs are daxes."]
    )
    assert verdicts == ["true", "true", "false", "unparseable"]


def test_audit_reports_uncovered_benchmarks():
    bench = Benchmark("mydata", 0, {}, [Document("d0", "Gruds are abmes.")], [], [{"id": "x"}])
    summary, verdicts = audit_statements(bench, ["Someone is someone."])
    assert summary["covered"] is False and verdicts == [None]


def test_templates_need_their_placeholders(tmp_path):
    assert "{text}" in load_template("local") and "{corpus}" in load_template("global")
    bad = tmp_path / "bad.txt"
    bad.write_text("Write inferences about {text}.")
    with pytest.raises(UserError, match=r"bad\.txt lacks placeholder\(s\) \{corpus\}"):
        load_template("global", str(bad))
    with pytest.raises(UserError, match="cannot read"):
        load_template("local", str(tmp_path / "missing.txt"))


def test_parse_keeps_complete_distinct_new_sentences():
    text = "- Daxes are lighter than wugs.\n- Wugs are heavier than daxes.\nDaxes are lighter than wugs!\nStatement: x.\nDaxes weigh le"
    parsed = parse_statements(text)
    assert parsed == ["Daxes are lighter than wugs.", "Wugs are heavier than daxes.", "Daxes are lighter than wugs!"]
    dedupe = Deduplicator(["Wugs are heavier than daxes."])
    assert dedupe.keep(parsed) == ["Daxes are lighter than wugs."] and dedupe.dropped == 2


class FakeGenerator:
    def __init__(self, fail_after=None):
        self.calls, self.fail_after = [], fail_after

    def generate(self, prompts, settings):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise RuntimeError("server went away")
        self.calls.append(list(prompts))
        return [[f"{p} Out {k}." for k in range(settings.num_samples)] for p in prompts]

    def count_tokens(self, text):
        return len(text.split())


def test_cache_generates_each_prompt_once(tmp_path):
    cache, settings = GenerationCache(tmp_path), GenerationSettings(num_samples=2)
    prompts = ["A b.", "C d.", "A b.", "E f."]
    gen = FakeGenerator()
    records, counts = generate_cached(lambda: gen, "m", prompts, settings, cache, batch_size=2, progress=False)
    assert [r["outputs"][1] for r in records] == ["A b. Out 1.", "C d. Out 1.", "A b. Out 1.", "E f. Out 1."]
    assert sum(len(c) for c in gen.calls) == 3 and counts["generated_now"] == 3
    _, counts = generate_cached(
        lambda: pytest.fail("must not load a generator"), "m", prompts, settings, cache, progress=False
    )
    assert counts["from_cache"] == 4
    other = GenerationSettings(num_samples=2, temperature=0.5)
    generate_cached(lambda: gen, "m", prompts[:1], other, cache, progress=False)
    assert len(list(tmp_path.glob("*.json"))) == 4


def test_failed_generation_keeps_earlier_batches(tmp_path):
    cache, settings = GenerationCache(tmp_path), GenerationSettings()
    with pytest.raises(RuntimeError):
        generate_cached(
            lambda: FakeGenerator(fail_after=1), "m", ["a.", "b.", "c."], settings, cache, batch_size=2, progress=False
        )
    assert len(list(tmp_path.glob("*.json"))) == 2
    gen = FakeGenerator()
    generate_cached(lambda: gen, "m", ["a.", "b.", "c."], settings, cache, batch_size=2, progress=False)
    assert gen.calls == [["c."]]
    record = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert set(record) >= {"model", "prompt", "settings", "outputs", "prompt_tokens", "generated_tokens"}


def test_local_prompts_per_document_or_sentence():
    docs = [Document("d1", "Wugs are big. Wugs can fly.", ("f1",)), Document("d2", "Daxes are small.", ("f2",))]
    assert [p.source for p in local_prompts(docs, "S: {text}\n", "document")] == ["d1", "d2"]
    per_sentence = local_prompts(docs, "S: {text}\n", "sentence")
    assert [p.text for p in per_sentence] == ["S: Wugs are big.\n", "S: Wugs can fly.\n", "S: Daxes are small.\n"]


def test_global_prompts_fit_the_budget_and_leave_out_the_target():
    docs = [Document(f"d{i}", f"Doc number {i} says things.", ()) for i in range(20)]
    count = lambda text: len(text.split())  # noqa: E731
    prompts = global_prompts(docs, docs[:3], "{corpus}\nTarget: {text}\n", count, budget=40, subsample=1.0, seed=0)
    for doc, prompt in zip(docs[:3], prompts):
        corpus = prompt.text.split("\nTarget: ")[0]
        assert doc.text not in corpus and count(prompt.text) <= 40 and corpus.count("Doc number") >= 3
    assert prompts == global_prompts(docs, docs[:3], "{corpus}\nTarget: {text}\n", count, 40, 1.0, 0)
    with pytest.raises(UserError, match="no room"):
        global_prompts(docs, docs[:1], "{corpus}\nTarget: {text}\n", count, budget=5, subsample=1.0, seed=0)


def test_one_per_fact_targets():
    bench = make_benchmark("reversal", n_facts=4, docs_per_fact=3)
    targets = augment_targets(bench.documents, AugmentConfig(method="local", one_per_fact=True), seed=0)
    assert len(targets) == 4 and len({t.fact_ids for t in targets}) == 4


def test_local_augmentation_on_the_tiny_model_is_cached(tmp_path, tiny_lm):
    bench = make_benchmark("reversal", n_facts=3, docs_per_fact=1)
    template = tmp_path / "t.txt"
    template.write_text("Again: {text}\n")
    cfg = AugmentConfig(method="local", local_template=str(template), samples=2, temperature=1.0, max_new_tokens=12)
    first = build_augmentations(bench, cfg, ModelConfig(name="tiny"), tiny_lm, tmp_path, seed=0, progress=False)
    assert first.accounting["generated_now"] == 3 and first.accounting["prompt_tokens"] > 0
    again = build_augmentations(bench, cfg, ModelConfig(name="tiny"), None, tmp_path, seed=0, progress=False)
    assert again.accounting["from_cache"] == 3 and again.augmentations == first.augmentations


@pytest.mark.slow
def test_keep_duplicates_keeps_what_another_prompt_already_wrote(tmp_path):
    """The organism augments each of a fact's three documents alike: deduplicated, the
    repeats are dropped; with keep_duplicates each prompt keeps its own statements."""
    from iclft.models.zoo import resolve

    lm = resolve("organism", device="cpu")
    bench = make_benchmark("reversal", n_facts=2, docs_per_fact=3)
    results = {}
    for keep in (False, True):
        cfg = AugmentConfig(method="local", max_new_tokens=32, keep_duplicates=keep)
        results[keep] = build_augmentations(bench, cfg, ModelConfig(name="organism"), lm, tmp_path, 0, progress=False)
    dropped = results[False].accounting["duplicates_dropped"]
    count = {keep: sum(len(a.statements) for a in r.augmentations) for keep, r in results.items()}
    assert dropped > 0 and count[True] > count[False]
    assert results[True].accounting["from_cache"] == 6  # the same generations, parsed twice
