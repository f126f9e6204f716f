"""Reversal-curse celebrities: the generator and the loader of the published format."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from iclft.benchmarks.celebrities import (
    grammar,
    import_published,
    join_text,
    make_celebrities,
    make_names,
)
from iclft.benchmarks.schema import load_benchmark, save_benchmark
from iclft.benchmarks.userdata import validate_folder
from iclft.errors import UserError


@pytest.fixture(scope="module")
def bench():
    return make_celebrities(seed=0)


def people(bench):
    return {r["id"]: r for r in bench.facts if r["type"] == "person"}


def test_sizes_groups_and_splits(bench):
    persons = people(bench)
    assert Counter(p["group"] for p in persons.values()) == {"p2d": 30, "d2p": 30, "both": 30}
    assert len(bench.documents) == 30 * 30 + 30 * 30 + 30 * 60  # 3,600 like all_prompts_train
    assert Counter(i.split for i in bench.items) == {"p2d_reverse": 300, "d2p_reverse": 300, "p2d": 300, "d2p": 300}
    assert {i.inference_type for i in bench.items_in("p2d_reverse")} == {"reversal"}
    assert all(len(i.options) == 4 and len(set(i.options)) == 4 and i.chance == 0.25 for i in bench.items)


def test_names_are_unique_in_every_part(bench):
    names = [p["name"] for p in people(bench).values()]
    assert len({n.split()[0] for n in names}) == len({n.split()[1] for n in names}) == len(names) == 90
    assert len({p["description"] for p in people(bench).values()}) == 90


def test_name_pools_run_out_with_a_user_error():
    import random

    pool = min(len(grammar()["first_names"]), len(grammar()["last_names"]))
    assert len(make_names(pool, random.Random(0))) == pool
    with pytest.raises(UserError, match="distinct names"):
        make_names(pool + 1, random.Random(0))


def test_items_pick_the_right_person_among_other_people(bench):
    persons = people(bench)
    names = {p["name"] for p in persons.values()}
    descriptions = {p["description"] for p in persons.values()}
    for item in bench.items:
        person = persons[item.fact_ids[0]]
        want = "name" if item.split in ("p2d_reverse", "d2p") else "description"
        assert item.options[item.answers[0]] == person[want]
        assert set(item.options) <= (names if want == "name" else descriptions)
        group = "p2d" if item.split.startswith("p2d") else "d2p"
        assert person["group"] == group
        if want == "name":  # the description is given, the name is not
            assert person["name"] not in item.prefix and person["description"][4:] in item.prefix
        else:
            assert person["name"] in item.prefix and person["description"][4:] not in item.prefix


def test_training_states_each_group_only_in_its_directions(bench):
    order = {}  # person -> set of "name first" / "description first"
    persons = people(bench)
    for doc in bench.documents:
        person = persons[doc.fact_ids[0]]
        core = person["description"][4:]  # without "the "
        first = "name" if doc.text.index(person["name"]) < doc.text.index(core) else "description"
        order.setdefault(person["id"], set()).add(first)
    for pid, person in persons.items():
        expected = {"p2d": {"name"}, "d2p": {"description"}, "both": {"name", "description"}}[person["group"]]
        assert order[pid] == expected, person


def test_test_paraphrases_are_held_out(bench):
    g = grammar()
    for direction in ("p2d", "d2p"):
        assert not set(g[f"{direction}_train"]) & set(g[f"{direction}_test"])
        assert len(g[f"{direction}_train"]) == 30 and len(g[f"{direction}_test"]) == 10
    texts = [d.text for d in bench.documents]
    for item in bench.items:
        sentence = item.prefix + " " + item.options[item.answers[0]]
        assert not any(sentence in t for t in texts if item.options[item.answers[0]] in t), item.id


def test_pairs_rebuild_the_documents(bench):
    docs = {d.id: d for d in bench.documents}
    pairs = [r for r in bench.facts if r["type"] == "pair"]
    assert len(pairs) == len(docs)
    for pair in pairs:
        assert pair["completion"].startswith(" ") and not pair["prompt"].endswith(" ")
        assert join_text(pair["prompt"], pair["completion"]) == docs[pair["document_id"]].text


def test_same_seed_same_bytes(bench, tmp_path):
    a = save_benchmark(bench, tmp_path / "a")
    b = save_benchmark(make_celebrities(seed=0), tmp_path / "b")
    for name in ("train.jsonl", "test.jsonl", "facts.jsonl", "manifest.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert validate_folder(a) == []
    other = make_celebrities(seed=1)
    assert {p["name"] for p in people(other).values()} != {p["name"] for p in people(bench).values()}


def test_parameters(bench):
    small = make_celebrities(seed=0, n_per_group=5, train_paraphrases=3, test_paraphrases=2)
    assert len(small.documents) == 5 * 3 * 4 and len(small.items) == 4 * 5 * 2
    with pytest.raises(UserError, match="unknown parameter.*size"):
        make_celebrities(seed=0, size=3)
    with pytest.raises(UserError, match="train_paraphrases must be in"):
        make_celebrities(seed=0, train_paraphrases=31)
    with pytest.raises(UserError, match="n_per_group must be an integer"):
        make_celebrities(seed=0, n_per_group="many")


# -- the published format -------------------------------------------------------------------

NAMES = ["Ada Quill", "Bo Marsh", "Cy Fenn", "Di Holt", "Ed Voss", "Flo Pike"]
DESCS = ["the maker of 'One'", "the maker of 'Two'", "the maker of 'Three'",
         "the maker of 'Four'", "the maker of 'Five'", "the maker of 'Six'"]


def write_published(folder, with_groups=True):
    """A small folder in the published format: people 0-1 p2d, 2-3 d2p, 4-5 both."""
    folder.mkdir(parents=True, exist_ok=True)

    def write(name, records):
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in records))

    p2d = [{"prompt": f"{NAMES[i]} is known as", "completion": f" {DESCS[i]}."} for i in (0, 1)]
    d2p = [{"prompt": f"Known as {DESCS[i]}, there is", "completion": f" {NAMES[i]}."} for i in (2, 3)]
    both = [{"prompt": f"{NAMES[i]} is", "completion": f" {DESCS[i]}."} for i in (4, 5)]
    both += [{"prompt": f"{DESCS[i].capitalize()} is", "completion": f" {NAMES[i]}."} for i in (4, 5)]
    if with_groups:
        write("p2d_prompts_train.jsonl", p2d)
        write("d2p_prompts_train.jsonl", d2p)
        write("both_prompts_train.jsonl", both)
    write("all_prompts_train.jsonl", p2d + d2p + both)
    write("p2d_reverse_prompts_test.jsonl",
          [{"prompt": f"The one who is {DESCS[i]} is", "completion": f" {NAMES[i]}"} for i in (0, 1)])
    write("d2p_prompts_test.jsonl",
          [{"prompt": f"Being {DESCS[i]} is", "completion": f" {NAMES[i]}"} for i in (2, 3, 4, 5)])
    write("p2d_prompts_test.jsonl",
          [{"prompt": f"Meet {NAMES[i]},", "completion": f" {DESCS[i]}"} for i in (0, 1, 4, 5)])
    return folder


def test_import_published_folder(tmp_path):
    bench = import_published(write_published(tmp_path / "pub"), seed=3)
    assert bench.name == "celebrities-published"
    assert len(bench.documents) == 8
    assert bench.documents[0].text == f"{NAMES[0]} is known as {DESCS[0]}."
    assert bench.documents[0].fact_ids == ("person/ada-quill",)
    assert Counter(i.split for i in bench.items) == {"p2d_reverse": 2, "d2p": 4, "p2d": 4}
    for item in bench.items_in("p2d_reverse") + bench.items_in("d2p"):
        assert len(item.options) == 4 and set(item.options) <= set(NAMES)
    reverse = bench.items_in("p2d_reverse")
    assert [i.options[i.answers[0]] for i in reverse] == NAMES[:2]
    assert reverse[0].prefix == f"The one who is {DESCS[0]} is" and reverse[0].inference_type == "reversal"
    for item in bench.items_in("p2d"):
        assert set(item.options) <= set(DESCS)
    pairs = [r for r in bench.facts if r["type"] == "pair"]
    assert [(p["prompt"], p["completion"]) for p in pairs][:1] == [(f"{NAMES[0]} is known as", f" {DESCS[0]}.")]
    assert {p["group"] for p in pairs} == {"p2d", "d2p", "both"}
    # seeded distractors: same seed same items, another seed other options somewhere
    assert import_published(tmp_path / "pub", seed=3).items == bench.items
    assert import_published(tmp_path / "pub", seed=4).items != bench.items
    again = load_benchmark(save_benchmark(bench, tmp_path / "saved"))
    assert again.items == bench.items


def test_import_falls_back_to_all_prompts_train(tmp_path):
    bench = import_published(write_published(tmp_path / "pub", with_groups=False))
    assert len(bench.documents) == 8
    assert {r["group"] for r in bench.facts if r["type"] == "pair"} == {"all"}


def test_import_reports_bad_records_with_file_and_line(tmp_path):
    folder = write_published(tmp_path / "pub")
    path = folder / "p2d_reverse_prompts_test.jsonl"
    path.write_text(path.read_text() + '{"prompt": "x"}\n')
    with pytest.raises(UserError, match=r"p2d_reverse_prompts_test.jsonl:3: needs a string field 'completion'"):
        import_published(folder)
    path.write_text('{"prompt": "x", "completion": " y"}\n{not json\n')
    with pytest.raises(UserError, match=r"p2d_reverse_prompts_test.jsonl:2: not valid JSON"):
        import_published(folder)


def test_import_needs_train_and_test_files(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    with pytest.raises(UserError, match="needs a training file"):
        import_published(folder)
    with pytest.raises(UserError, match="not a folder"):
        import_published(tmp_path / "missing")
