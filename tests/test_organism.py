"""The model organism: curriculum determinism, word pools, a tiny training run that loads."""

import json
import random
import re

import pytest

from iclft.benchmarks.lexicon import nonsense_words, pool_of
from iclft.organism.curriculum import Curriculum, CurriculumParams, curriculum_hash, render
from iclft.organism.evaluate import evaluate_model
from iclft.organism.train import MANIFEST, TrainConfig, train


def test_curriculum_is_deterministic():
    a = Curriculum(CurriculumParams(seed=3, n_words=300)).docs(0, 50)
    b = Curriculum(CurriculumParams(seed=3, n_words=300)).docs(0, 50)
    assert [render(d) for d in a] == [render(d) for d in b]
    other = Curriculum(CurriculumParams(seed=4, n_words=300)).docs(0, 50)
    assert [render(d) for d in a] != [render(d) for d in other]
    assert curriculum_hash(CurriculumParams(seed=3, n_words=300), 20) == curriculum_hash(
        CurriculumParams(seed=3, n_words=300), 20
    )


def test_every_family_is_written():
    cur = Curriculum(CurriculumParams(n_words=300))
    for family in cur.families:
        text = render(cur.doc(0, family))
        assert text.startswith("Read the following documents")


def test_curriculum_words_are_never_test_words():
    cur = Curriculum(CurriculumParams(seed=0, n_words=2000))
    assert all(pool_of(w[:-1]) == "pretrain" for w in cur.words)
    test_words = {w + "s" for w in nonsense_words(2000, seed=0, pool="test")}
    assert not test_words & set(cur.words)


def test_held_out_dimensions_are_not_written():
    params = CurriculumParams(n_words=300)
    text = " ".join(render(d) for d in Curriculum(params).docs(0, 300))
    for word in ("wetter", "drier", "sharper", "duller", "more fragile"):
        assert f" {word} than " not in text


def test_lexicon_states_every_antonym_pair_and_invented_pairs_enter_comparisons():
    params = CurriculumParams(n_words=300, invented_dimensions=50, invented_share=0.4)
    cur = Curriculum(params)
    invented = {w for _, more, less in cur.invented for w in (more, less)}
    assert len(invented) == 100 and not invented & {w[:-1] for w in cur.words}  # no noun is also a comparative
    assert all(pool_of(w) == "pretrain" for w in invented)
    lexicon = " ".join(render(cur.doc(i, "lexicon")) for i in range(300))
    for more, less in (("sharper", "duller"), ("wetter", "drier"), ("heavier", "lighter")):
        assert f"The opposite of {more} is {less}." in lexicon or f"The opposite of {less} is {more}." in lexicon
    comparatives = [f["cmp"] for i in range(300) for f in cur._comparisons(random.Random(i))]
    share = sum(c in invented for c in comparatives) / len(comparatives)
    assert 0.25 < share < 0.55
    text = " ".join(render(d) for d in cur.docs(0, 300))
    assert all(f" {word} than " not in text for word in ("sharper", "duller", "wetter", "drier"))
    other_seed = Curriculum(CurriculumParams(seed=7, n_words=300, invented_dimensions=50))
    assert other_seed.invented == cur.invented  # one lexicon for every phase
    assert not invented & {w[:-1] + "er" for w in other_seed.words}
    assert Curriculum(CurriculumParams(n_words=300, invented_dimensions=20)).invented == cur.invented[:20]
    with pytest.raises(ValueError, match="invented_share"):
        CurriculumParams(invented_share=0.2)
    # invented_compared: the first 10 pairs are compared, the other 40 only stated in the lexicon
    some = Curriculum(CurriculumParams(n_words=300, invented_dimensions=50, invented_share=0.4, invented_compared=10))
    compared = {f["cmp"] for i in range(300) for f in some._comparisons(random.Random(i))} & invented
    assert compared == {w for _, more, less in cur.invented[:10] for w in (more, less)}
    stated = " ".join(render(some.doc(i, "lexicon")) for i in range(300))
    assert sum(f" {more} " in stated or f" {less} " in stated for _, more, less in cur.invented[10:]) >= 35
    with pytest.raises(ValueError, match="invented_compared"):
        CurriculumParams(invented_dimensions=5, invented_compared=6)


def test_antonyms_stated_share_states_each_compared_pair_once_among_the_facts():
    params = dict(n_words=300, invented_dimensions=50, invented_share=0.5)
    plain, stated = (
        Curriculum(CurriculumParams(**params)),
        Curriculum(CurriculumParams(**params, antonyms_stated_share=0.5)),
    )
    converse = {a: b for pair in stated.antonyms for a, b in (pair, pair[::-1])}
    with_statements = 0
    for i in range(200):
        facts = stated.doc(i, "compare")[0].text
        lines = facts.split("\n\n")[1:-1]  # the instruction, then one fact or statement per paragraph
        said = [line for line in lines if line.startswith("The opposite of ")]
        if not said:
            continue
        with_statements += 1
        pairs = {frozenset(line[len("The opposite of ") : -1].split(" is ")) for line in said}
        assert len(pairs) == len(said)  # each pair once, whichever direction
        for line in said:
            word, opposite = line[len("The opposite of ") : -1].split(" is ")
            assert converse[word] == opposite
        used = {w for line in lines for w in converse if f" are {w} than " in line}
        assert {w for pair in pairs for w in pair} == used | {converse[w] for w in used}
    assert 70 < with_statements < 130
    assert "The opposite" not in " ".join(render(plain.doc(i, "compare")) for i in range(200))
    with pytest.raises(ValueError, match="antonyms_stated_share"):
        CurriculumParams(antonyms_stated_share=1.5)


def test_lexicon_rule_share_writes_that_share_of_lexicon_sentences_as_the_converse_rule():
    cur = Curriculum(CurriculumParams(n_words=300, invented_dimensions=50, lexicon_rule_share=0.5))
    converse = {a: b for pair in cur.antonyms for a, b in (pair, pair[::-1])}
    rules = opposites = 0
    for i in range(100):
        pieces = cur.doc(i, "lexicon")
        sentences = [*pieces[0].text.split("\n\n")[:-1]]
        sentences += [q.text + a.text.rstrip("\n") for q, a in zip(pieces[1::2], pieces[2::2])]
        for sentence in sentences:
            rule = re.fullmatch(r"When things are (.+) than others, the others are (.+) than them\.", sentence)
            opposite = re.fullmatch(r"The opposite of (.+) is (.+)\.", sentence)
            assert rule or opposite, sentence
            word, answer = (rule or opposite).groups()
            assert converse[word] == answer
            rules, opposites = rules + bool(rule), opposites + bool(opposite)
    assert 0.4 < rules / (rules + opposites) < 0.6
    with pytest.raises(ValueError, match="lexicon_rule_share"):
        CurriculumParams(lexicon_rule_share=-0.1)


def test_tiny_training_run_gives_a_loadable_scored_model(tmp_path):
    from iclft.benchmarks.reversal import make_reversal
    from iclft.evaluation.scoring import score_items
    from iclft.models.hf import TransformersModel

    cfg = TrainConfig(steps=20, layers=1, width=32, heads=2, seq_len=384, batch_size=2, log_every=10)
    folder = train(cfg, CurriculumParams(n_words=300), tmp_path / "organism", progress=False)
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["curve"][-1]["step"] == 20
    lm = TransformersModel(folder, device="cpu")
    result = evaluate_model(
        lm, n_facts=8, facts_per_context=4, n_syllogisms=12, syllogisms_per_context=2, semantic_per_split=3
    )
    base = score_items(lm, make_reversal(seed=1000, n_facts=8, docs_per_fact=1).items, "", progress=False)
    for split in ("forward", "reversal"):  # the base accuracies are those of the 8 items of each split
        records = [r for r in base if r["split"] == split]
        assert (
            len(records) == 8 and result[f"base_{split}"] == sum(r["pred"]["sum"] in r["answers"] for r in records) / 8
        )
    assert {f"semantic_{s}" for s in ("rephrased", "reversal", "syllogism", "holdout")} <= set(result)
    assert result["semantic_chance"] == 0.25
    # 12 syllogisms are two rounds of the 6 valid forms: 4 items (EA-1, AE-2) whose every valid
    # conclusion is "No ...", 8 where a "Some ..." conclusion is valid
    assert result["syllogism_some_heuristic"] == 8 / 12
    no, other = result["icl_syllogism_no_forms"], result["icl_syllogism_other_forms"]
    assert abs((4 * no + 8 * other) / 12 - result["icl_syllogism"]) < 1e-9
    assert abs(result["icl_syllogism_binding"] - (no + other - 1)) < 1e-9


def test_semantic_contexts_hold_the_needed_facts_and_name_every_wrong_option():
    from iclft.benchmarks.semantic import make_semantic
    from iclft.organism.evaluate import semantic_items

    bench = make_semantic(seed=3, n_documents=200)
    text = {f["id"]: f["text"] for f in bench.facts if "text" in f}
    groups = semantic_items(bench, 6, seed=3)
    assert sorted(items[0].split for _, items in groups) == sorted(
        ["rephrased", "reversal", "syllogism", "holdout"] * 6
    )
    named = 0
    for context, (item,) in groups:
        assert all(text[f] in context for f in item.fact_ids)
        words = set(context.lower().replace(".", " ").split())
        named += sum(option.strip(" .") in words for option in item.options)
    assert named >= 0.9 * 4 * len(groups)  # nearly every option is in the context: copying cannot pick the answer


def test_augment_lead_ins_keep_nouns_mid_sentence():
    plain = Curriculum(CurriculumParams(n_words=300))
    led = Curriculum(CurriculumParams(n_words=300, augment_lead_ins=True))
    for i in range(20):
        answer = led.doc(i, "augment")[-1].text.split("\n\n")[0].splitlines()
        assert len(answer) == 2 and all(not line.split(" are ")[0].split()[-1][0].isupper() for line in answer)
        assert all(" " in line.split(" are ")[0] for line in answer)  # a lead-in comes before the noun
        assert plain.doc(i, "augment")[-1].text[0].isupper() and render(plain.doc(i, "compare")) == render(
            led.doc(i, "compare")
        )


def test_facts_without_a_lead_in_start_with_their_subject_capitalized():
    bare = Curriculum(CurriculumParams(n_words=300, lead_in_share=0.0))
    half = Curriculum(CurriculumParams(n_words=300, lead_in_share=0.5))
    starts = []
    for i in range(20):
        pieces = bare.doc(i, "compare")
        statements = pieces[0].text.strip().split("\n\n")[1:]
        assert all(s[0].isupper() and s.split()[1] == "are" for s in statements)  # "Blamus are ... than oguls."
        assert all(p.text[0].isupper() and p.text.count(" ") == 1 for p in pieces[1::2])  # "Klorns are"
        starts += [s.split()[1] == "are" for s in half.doc(i, "compare")[0].text.strip().split("\n\n")[1:]]
    assert 0.3 < sum(starts) / len(starts) < 0.7


def test_stages_set_the_family_mix_then_the_curriculum_takes_over():
    from iclft.organism.train import stage_mix

    cfg = TrainConfig(stages=[[3, {"copy": 1.0}], [2, {"recall": 1.0}]])
    assert [stage_mix(cfg, s) for s in range(6)] == [{"copy": 1.0}] * 3 + [{"recall": 1.0}] * 2 + [None]
    cur = Curriculum(CurriculumParams(n_words=300))
    assert render(cur.doc(7, mix={"copy": 1.0})).count("Words:") == 2
    assert "Words:" not in render(cur.doc(7, mix={"recall": 1.0}))


def test_questions_are_never_repeated_within_a_document():
    cur = Curriculum(CurriculumParams(n_words=300))
    for i in range(100):
        prompts = [(p.text, a.text) for p, a in zip(cur.doc(i, "compare")[1::2], cur.doc(i, "compare")[2::2])]
        assert len(prompts) == len(set(prompts))


def test_category_chains_put_unrelated_chains_in_one_document_and_ask_each_question_once():
    one = Curriculum(CurriculumParams(n_words=300))
    assert curriculum_hash(CurriculumParams(n_words=300, category_chains=(1, 1)), 50) == curriculum_hash(
        CurriculumParams(n_words=300), 50
    )
    many = Curriculum(CurriculumParams(n_words=300, category_chains=(2, 3)))
    for i in range(30):
        assert (
            len(one.doc(i, "category")[0].text.strip().split("\n\n")[1:]) <= 5
        )  # <= 3 categories: 3 properties, 2 links
        pieces = many.doc(i, "category")
        statements = pieces[0].text.strip().split("\n\n")[1:]
        assert len(statements) >= 2 * 3  # >= 2 chains of >= 2 categories: 2 properties and a link each
        prompts = [p.text for p in pieces[1::2]]
        assert len(prompts) == len(set(prompts)) >= 1


def test_recorded_recipes_still_write_the_documents_they_were_trained_on():
    """New curriculum parameters keep their defaults' documents: the shipped organism's three
    phases hash to what their manifests recorded."""
    from pathlib import Path

    import iclft.organism

    manifest = json.loads((Path(iclft.organism.__file__).parent / "model" / MANIFEST).read_text())
    while manifest:
        params = CurriculumParams(**manifest["curriculum"])
        assert curriculum_hash(params) == manifest["curriculum_hash"]
        manifest = manifest.get("parent")


def test_world_questions_ask_the_previous_blocks_facts_which_no_later_document_restates():
    cur = Curriculum(CurriculumParams(seed=2, n_words=400, mix={"world": 1.0}, world_facts=12, world_docs=40))
    stated, asked = {0: "", 1: "", 2: ""}, {1: [], 2: []}
    for i in range(120):
        block, pieces = i // 40, cur.doc(i)
        if pieces[0].role == "fact":
            stated[block] += pieces[0].text
            continue
        assert block > 0 and {p.role for p in pieces} == {"prompt", "answer"}  # no context at all
        for prompt, answer in zip(pieces[::2], pieces[1::2]):
            asked[block].append(f"{prompt.text.split()[-2]} are {answer.text.strip()[:-1]}")
    for block in (1, 2):
        assert asked[block]
        for fact in asked[block]:
            assert fact in stated[block - 1]
            assert all(fact not in stated[later] for later in range(block, 3))


def test_syllogism_documents_take_their_size_and_ask_each_conclusion_once():
    params = CurriculumParams(
        n_words=600, syllogisms_per_doc=(20, 20), unique_conclusions=True, queries_per_doc=(4, 30)
    )
    cur = Curriculum(params)
    for i in range(5):
        pieces = cur.doc(i, "syllogism")
        assert pieces[0].text.count("The relationships between") == 20
        prompts = [p.text for p in pieces if p.role == "prompt"]
        assert len(prompts) == len(set(prompts))


def test_no_form_share_sets_how_many_premise_pairs_have_a_no_premise():
    def pairs_with_no(share):
        cur = Curriculum(CurriculumParams(n_words=600, syllogisms_per_doc=(10, 10), no_form_share=share))
        paragraphs = [par for i in range(20) for par in cur.doc(i, "syllogism")[0].text.split("\n\n")[1:-1]]
        assert len(paragraphs) == 200
        return sum(" No " in par for par in paragraphs) / len(paragraphs)

    assert pairs_with_no(1.0) == 1.0
    assert pairs_with_no(0.0) == 0.0
    assert 0.4 < pairs_with_no(0.5) < 0.6
    assert 0.2 < pairs_with_no(None) < 0.47  # two of the six valid forms
    with pytest.raises(ValueError, match="no_form_share"):
        CurriculumParams(no_form_share=1.5)


def test_premise_share_asks_for_stated_premises_each_once():
    def queries(share):
        cur = Curriculum(CurriculumParams(n_words=600, syllogisms_per_doc=(4, 4), premise_share=share))
        out = []
        for i in range(30):
            pieces = cur.doc(i, "syllogism")
            stated = set(re.findall(r"(?:All|Some|No) \w+ are \w+\.", pieces[0].text))
            out += [(p.text.strip(), a.text.strip() in stated) for p, a in zip(pieces[1::2], pieces[2::2])]
        return out

    everything = queries(1.0)
    assert everything and all(is_premise for _, is_premise in everything)
    assert len({q for q, _ in everything}) == len(everything)  # each premise asked at most once
    half = queries(0.5)
    mixed = sum(is_premise for _, is_premise in half) / len(half)
    assert 0.3 < mixed < 0.8
    with pytest.raises(ValueError, match="premise_share"):
        CurriculumParams(premise_share=-0.1)


def test_category_reversal_share_sets_how_many_category_questions_are_reversed():
    def reversed_share(share):
        cur = Curriculum(CurriculumParams(n_words=600, category_reversal_share=share))
        prompts = [p.text for i in range(40) for p in cur.doc(i, "category") if p.role == "prompt"]
        return sum(p.startswith(("Things that", "Examples of things")) for p in prompts) / len(prompts)

    assert reversed_share(1.0) == 1.0
    assert reversed_share(0.0) == 0.0
    assert 0.1 < reversed_share(0.25) < 0.4
    with pytest.raises(ValueError, match="category_reversal_share"):
        CurriculumParams(category_reversal_share=2.0)


def test_unpadded_batches_give_the_padded_loss_and_gradients():
    import torch

    from iclft.organism.train import batch_step, build_model, build_tokenizer

    params = CurriculumParams(n_words=300)
    grads = {}
    for unpadded in (False, True):
        cfg = TrainConfig(layers=1, width=32, heads=2, seq_len=384, batch_size=3, unpadded=unpadded)
        tokenizer = build_tokenizer("bpe", 100)
        model = build_model(cfg, tokenizer)
        loss, _ = batch_step(model, tokenizer, Curriculum(params), cfg, step=0)
        grads[unpadded] = (loss, torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert abs(grads[False][0] - grads[True][0]) < 1e-5
    assert torch.allclose(grads[False][1], grads[True][1], atol=1e-6)


def test_an_interrupted_training_run_resumes_from_its_checkpoint(tmp_path):
    import pytest
    from safetensors.torch import load_file

    from iclft.organism.train import CHECKPOINT

    params = CurriculumParams(n_words=300)
    cfg = TrainConfig(steps=4, layers=1, width=32, heads=2, seq_len=256, batch_size=2, checkpoint_every=1)
    whole = train(cfg, params, tmp_path / "whole", progress=False)

    calls = []

    def stop_at_step_3(folder):
        calls.append(folder)
        raise KeyboardInterrupt

    stopped = TrainConfig(**{**cfg.__dict__, "eval_every": 3})
    with pytest.raises(KeyboardInterrupt):
        train(stopped, params, tmp_path / "resumed", evaluate=stop_at_step_3, progress=False)
    assert (tmp_path / "resumed" / CHECKPOINT).is_file()
    with pytest.raises(ValueError, match="checkpoint of other settings"):
        train(TrainConfig(**{**stopped.__dict__, "lr": 1e-3}), params, tmp_path / "resumed", progress=False)
    resumed = train(stopped, params, tmp_path / "resumed", progress=False)
    assert not (resumed / CHECKPOINT).exists()
    a, b = load_file(whole / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert all((a[k] == b[k]).all() for k in a)
    curve = json.loads((resumed / MANIFEST).read_text())["curve"]
    assert [row["step"] for row in curve] == [4]


def test_evaluation_over_benchmark_seeds_reports_each_seed_and_their_mean(tmp_path):
    from iclft.organism.evaluate import evaluate_over_seeds

    cfg = TrainConfig(steps=3, layers=1, width=32, heads=2, seq_len=512, batch_size=2)
    folder = train(cfg, CurriculumParams(n_words=300), tmp_path / "organism", progress=False)
    sizes = {"n_facts": 8, "facts_per_context": 0, "n_syllogisms": 3, "syllogisms_per_context": 0}
    summary = evaluate_over_seeds(folder, [5, 6], curve=True, semantic_per_split=2, **sizes)
    assert {"curve_4_forward", "curve_8_reversal", "icl_reversal", "base_syllogism"} <= set(summary)
    assert "curve_16_forward" not in summary  # only sizes below the benchmark's fact count, then all of it
    for measure in summary.values():
        assert len(measure["values"]) == 2
        assert abs(measure["mean"] - sum(measure["values"]) / 2) < 1e-3
        assert abs(measure["stderr"] - abs(measure["values"][0] - measure["values"][1]) / 2) < 1e-3


def test_folded_tokenizer_gives_a_word_the_same_tokens_in_any_case_and_number(tmp_path):
    from transformers import AutoTokenizer

    from iclft.organism.train import build_tokenizer

    build_tokenizer("folded", 100).save_pretrained(tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)  # as a trained organism's folder loads it

    def tokens(text):
        return tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False)["input_ids"])

    stem = tokens(" etul")
    assert tokens("Etuls") == ["^", *stem, "s"]
    assert tokens(" etuls") == [*stem, "s"]
    assert tokens(" Etul") == ["Ġ^", *stem]
    text = "Read this.\n\nEtuls can digag. Is it so? Things that can digag include etuls."
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text
    plain = build_tokenizer("bpe", 100)
    assert plain.convert_ids_to_tokens(plain("Etuls")["input_ids"])[0] != "^"
