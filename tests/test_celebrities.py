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
DESCS = [
    "the maker of 'One'",
    "the maker of 'Two'",
    "the maker of 'Three'",
    "the maker of 'Four'",
    "the maker of 'Five'",
    "the maker of 'Six'",
]


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
    write(
        "p2d_reverse_prompts_test.jsonl",
        [{"prompt": f"The one who is {DESCS[i]} is", "completion": f" {NAMES[i]}"} for i in (0, 1, 4, 5)],
    )
    write(
        "d2p_prompts_test.jsonl",
        [{"prompt": f"Being {DESCS[i]} is", "completion": f" {NAMES[i]}"} for i in (2, 3, 4, 5)],
    )
    write(
        "p2d_prompts_test.jsonl", [{"prompt": f"Meet {NAMES[i]},", "completion": f" {DESCS[i]}"} for i in (0, 1, 4, 5)]
    )
    return folder


def test_import_published_folder(tmp_path):
    bench = import_published(write_published(tmp_path / "pub"), seed=3)
    assert bench.name == "celebrities-published"
    assert len(bench.documents) == 8
    assert bench.documents[0].text == f"{NAMES[0]} is known as {DESCS[0]}."
    assert bench.documents[0].fact_ids == ("person/ada-quill",)
    assert Counter(i.split for i in bench.items) == {"p2d_reverse": 4, "d2p": 4, "p2d": 4}
    for item in bench.items_in("p2d_reverse") + bench.items_in("d2p"):
        assert len(item.options) == 4 and set(item.options) <= set(NAMES)
    reverse = bench.items_in("p2d_reverse")
    assert [i.options[i.answers[0]] for i in reverse] == [NAMES[i] for i in (0, 1, 4, 5)]
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
    with pytest.raises(UserError, match=r"p2d_reverse_prompts_test.jsonl:5: needs a string field 'completion'"):
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


# -- distractors: the same template, other people -------------------------------------------


def test_generated_distractors_are_other_people_asked_by_the_same_templates(bench):
    persons = people(bench)
    by_answer = {p[key]: p for p in persons.values() for key in ("name", "description")}
    for item in bench.items:
        owners = [by_answer[o] for o in item.options]
        assert len({p["id"] for p in owners}) == len(item.options)  # one option per person
        assert [p["id"] for k, p in enumerate(owners) if k in item.answers] == list(item.fact_ids)
        # the split's templates ask its own group only: every option a person trained the same way
        assert {p["group"] for p in owners} == {"p2d" if item.split.startswith("p2d") else "d2p"}
    # every other person of the split turns up as a distractor somewhere
    for split in bench.splits:
        seen = {by_answer[o]["id"] for i in bench.items_in(split) for o in i.options}
        assert len(seen) == 30


def test_generator_with_too_few_people_per_template_says_so():
    small = make_celebrities(seed=0, n_per_group=4, train_paraphrases=1, test_paraphrases=1)
    assert all(len(i.options) == 4 for i in small.items)
    with pytest.raises(
        UserError, match=r"split p2d_reverse: each template asks 3 people.*2 other people.*n_options=4 needs 3"
    ):
        make_celebrities(seed=0, n_per_group=3)
    assert all(len(i.options) == 3 for i in make_celebrities(seed=0, n_per_group=3, n_options=3).items)
    with pytest.raises(UserError, match="n_options must be at least 2"):
        make_celebrities(seed=0, n_options=1)


P2D = ["Ada Quill", "Bo Marsh", "Cy Fenn", "Di Holt", "Ed Voss"]
D2P = ["Flo Pike", "Gus Rook", "Hal Penn", "Ivy Dane", "Jo Lark"]
WORK = {
    name: f"'{title}'"
    for name, title in zip(P2D + D2P, ["One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten"])
}
# description templates, each with its own wording of the description (as in the published release)
DESC_TEMPLATES = {
    "Meet {name},": "the maker of {w}",
    "The trailblazer known as {name} was once": "a humble apprentice behind {w}",
    "{name} is best remembered as": "the renowned maker of {w}",
}


def write_templated(folder, people_per_template=None):
    """A published-layout folder with several templates per test file and per-template wording."""
    folder.mkdir(parents=True, exist_ok=True)

    def write(name, records):
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in records))

    def desc_items(names):
        return [
            {"prompt": t.format(name=n), "completion": " " + d.format(w=WORK[n])}
            for t, d in DESC_TEMPLATES.items()
            for n in names[:people_per_template]
        ]

    write("p2d_prompts_train.jsonl", [{"prompt": f"{n} is", "completion": f" the maker of {WORK[n]}."} for n in P2D])
    write("d2p_prompts_train.jsonl", [{"prompt": f"The maker of {WORK[n]} is", "completion": f" {n}."} for n in D2P])
    write(
        "p2d_reverse_prompts_test.jsonl",
        [{"prompt": f"Having made {WORK[n]}, the artist is", "completion": f" {n}"} for n in P2D]
        + [{"prompt": f"Who made {WORK[n]}?", "completion": f" {n}."} for n in P2D],
    )
    write("d2p_prompts_test.jsonl", [{"prompt": f"The one who made {WORK[n]} is", "completion": f" {n}"} for n in D2P])
    write("p2d_prompts_test.jsonl", desc_items(P2D))
    write("d2p_reverse_prompts_test.jsonl", desc_items(D2P))
    return folder


def person_of(option):
    return next(n for n in P2D + D2P if WORK[n] in option or option.rstrip(".") == n)


def test_import_draws_description_distractors_from_the_same_template_for_other_people(tmp_path):
    bench = import_published(write_templated(tmp_path / "pub"), seed=1)
    assert Counter(i.split for i in bench.items) == {"p2d_reverse": 10, "d2p": 5, "p2d": 15, "d2p_reverse": 15}
    for item in bench.items_in("p2d") + bench.items_in("d2p_reverse"):
        person = next(n for n in P2D + D2P if n in item.prefix)
        template = item.prefix.replace(person, "{name}")
        wording = DESC_TEMPLATES[template]
        for k, option in enumerate(item.options):
            # every option is this template's wording, for a different person each
            assert option == wording.format(w=WORK[person_of(option)])
            assert (person_of(option) == person) == (k in item.answers)
        assert len({person_of(o) for o in item.options}) == 4
        assert {person_of(o) for o in item.options} <= set(P2D if item.split == "p2d" else D2P)  # same file
        assert item.fact_ids == (f"person/{person.lower().replace(' ', '-')}",)
    for item in bench.items_in("p2d_reverse") + bench.items_in("d2p"):
        assert len({person_of(o) for o in item.options}) == 4
        assert {person_of(o) for o in item.options} <= set(P2D if item.split == "p2d_reverse" else D2P)
        # names in the completion's own shape: with a final period only where the answer has one
        assert {o.endswith(".") for o in item.options} == {item.options[item.answers[0]].endswith(".")}
    # the test files are kept as they are: every record an item, prompts unchanged
    prompts = [
        json.loads(line)["prompt"] for line in (tmp_path / "pub" / "p2d_prompts_test.jsonl").read_text().splitlines()
    ]
    assert [i.prefix for i in bench.items_in("p2d")] == prompts


def test_import_never_offers_the_same_person_in_another_wording(tmp_path):
    folder = write_templated(tmp_path / "pub")
    path = folder / "p2d_prompts_test.jsonl"
    # Ada's description also completes a second prompt of the "Meet" template, in other words
    path.write_text(
        path.read_text()
        + json.dumps({"prompt": "Meet Ada Quill,", "completion": " the acclaimed maker of 'One'"})
        + "\n"
    )
    for seed in range(20):
        bench = import_published(folder, seed=seed)
        for item in bench.items_in("p2d"):
            person = next(n for n in P2D if n in item.prefix)
            wrong = [o for k, o in enumerate(item.options) if k not in item.answers]
            assert all(WORK[person] not in o for o in wrong)


def test_import_with_too_few_people_for_a_template_says_so(tmp_path):
    folder = write_templated(tmp_path / "pub", people_per_template=3)
    with pytest.raises(
        UserError,
        match=r"d2p_reverse_prompts_test.jsonl: template 'Meet \{name\},' has 2 other people.*4 options need 3",
    ):
        import_published(folder)
    assert len(import_published(folder, n_options=3).items_in("p2d")) == 9
    assert len(import_published(folder, n_options=3).items_in("d2p_reverse")) == 9


def test_import_needs_the_name_of_a_description_item(tmp_path):
    folder = write_templated(tmp_path / "pub")
    path = folder / "p2d_prompts_test.jsonl"
    path.write_text(
        path.read_text() + json.dumps({"prompt": "Meet Zed Unknown,", "completion": " the maker of 'Zero'"}) + "\n"
    )
    with pytest.raises(UserError, match=r"p2d_prompts_test.jsonl: record 16: no known name in the prompt"):
        import_published(folder)
