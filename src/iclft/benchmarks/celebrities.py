"""Reversal curse with fictitious celebrities (STUDY.md 2.4, after Berglund et al. 2023).

Generated (`make_celebrities`): people with a name from hand-written first/last-name pools
(each part used once) and a description from a seeded template grammar ("the acclaimed
director of the film 'The Silent Harbor'"), in three groups: `p2d` (trained name → description),
`d2p` (trained description → name) and `both`. Each fact is trained in 30 paraphrases per
direction; 10 further paraphrase templates per direction are kept for the test.

Imported (`import_published`): a folder in the published format of JSON lines with "prompt"
and "completion" (p2d_prompts_train.jsonl, d2p_prompts_train.jsonl, both_prompts_train.jsonl,
p2d_reverse_prompts_test.jsonl, ...).

Either way the benchmark has splits named after the published test files, each item a
4-option choice scored by likelihood:

    p2d_reverse  description → name, p2d people (the reversal test; inference type "reversal")
    d2p_reverse  name → description, d2p people ("reversal")
    p2d          name → description, p2d people, held-out wording ("paraphrase")
    d2p          description → name, d2p people, held-out wording ("paraphrase")

An item's distractors are what the same prompt template asks of other people of its split,
never of its own person; too few other people for n_options is a UserError.

facts.jsonl holds one "person" record per person and one "pair" record per training document
({"prompt", "completion", "document_id", "group"}), for fine-tuning on the completion only.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from iclft.benchmarks.schema import Benchmark, Document, TestItem
from iclft.errors import UserError
from iclft.io import read_jsonl

GRAMMAR_FILE = Path(__file__).with_name("celebrities_grammar.yaml")
GROUPS = ("p2d", "d2p", "both")
DEFAULTS: dict[str, Any] = {"n_per_group": 30, "train_paraphrases": 30, "test_paraphrases": 10, "n_options": 4}
TRAIN_FILES = ("p2d_prompts_train.jsonl", "d2p_prompts_train.jsonl", "both_prompts_train.jsonl")
ALL_TRAIN_FILE = "all_prompts_train.jsonl"
# test file → (split, inference type, what the completion is)
TEST_FILES = {
    "p2d_reverse_prompts_test.jsonl": ("p2d_reverse", "reversal", "name"),
    "d2p_reverse_prompts_test.jsonl": ("d2p_reverse", "reversal", "description"),
    "p2d_prompts_test.jsonl": ("p2d", "paraphrase", "description"),
    "d2p_prompts_test.jsonl": ("d2p", "paraphrase", "name"),
}


@lru_cache(maxsize=1)
def grammar() -> dict[str, list[str]]:
    return yaml.safe_load(GRAMMAR_FILE.read_text(encoding="utf-8"))


def join_text(prompt: str, completion: str) -> str:
    """prompt + completion, with one space between them unless one side already has it."""
    if not prompt or not completion or prompt[-1].isspace() or completion[0].isspace():
        return prompt + completion
    return f"{prompt} {completion}"


def person_id(name: str) -> str:
    return "person/" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# -- the generated benchmark ------------------------------------------------------------------


def make_celebrities(seed: int = 0, **params: Any) -> Benchmark:
    """Generate the benchmark. Parameters: n_per_group (30), train_paraphrases (30, at most 30),
    test_paraphrases (10, at most 10), n_options (4)."""
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise UserError(f"celebrities: unknown parameter(s) {', '.join(unknown)} (accepted: {', '.join(DEFAULTS)})")
    p = {**DEFAULTS, **params}
    _check_params(p)
    rng = random.Random(f"celebrities:{seed}")
    people = make_people(3 * p["n_per_group"], rng)
    for i, person in enumerate(people):
        person["group"] = GROUPS[i // p["n_per_group"]]
    pairs = training_pairs(people, p["train_paraphrases"], rng)
    rng.shuffle(pairs)
    documents = []
    for i, pair in enumerate(pairs):
        pair["document_id"] = f"doc-{i:05d}"
        pair["id"] = f"pair/{i:05d}"
        text = join_text(pair["prompt"], pair["completion"])
        documents.append(Document(pair["document_id"], text, (pair["person"],)))
    items = test_items(people, p["test_paraphrases"], p["n_options"], rng)
    facts = [
        {"id": x["id"], "type": "person", "name": x["name"], "description": x["description"], "group": x["group"]}
        for x in people
    ]
    facts += [{"type": "pair", **pair} for pair in pairs]
    return Benchmark("celebrities", seed, p, documents, items, facts)


def _check_params(p: dict[str, Any]) -> None:
    g = grammar()
    for name, value in p.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"celebrities: {name} must be an integer, not {value!r}")
    limits = {
        "n_per_group": (1, min(len(g["first_names"]), len(g["last_names"])) // len(GROUPS)),
        "train_paraphrases": (1, len(g["p2d_train"])),
        "test_paraphrases": (1, len(g["p2d_test"])),
        "n_options": (2, None),  # at most n_per_group: test_items says so per split
    }
    for name, (low, high) in limits.items():
        if p[name] < low or (high is not None and p[name] > high):
            allowed = f"in [{low}, {high}]" if high is not None else f"at least {low}"
            raise UserError(f"celebrities: {name} must be {allowed}, not {p[name]}")


def make_people(n: int, rng: random.Random) -> list[dict[str, Any]]:
    """n people with distinct first names, last names, descriptions and titles."""
    g = grammar()
    names = make_names(n, rng)
    titles: set[str] = set()
    people = []
    for name in names:
        role = rng.choice(g["roles"])
        title = make_title(rng)
        while title in titles:
            title = make_title(rng)
        titles.add(title)
        core = f"{role} '{title}'"
        people.append({"id": person_id(name), "name": name, "core": core, "description": f"the {core}"})
    return people


def make_names(n: int, rng: random.Random) -> list[str]:
    """n full names; no first or last name is used twice (the collision check)."""
    g = grammar()
    firsts, lasts = sorted(set(g["first_names"])), sorted(set(g["last_names"]))
    if n > min(len(firsts), len(lasts)):
        raise UserError(f"celebrities: cannot make {n} distinct names (pools of {len(firsts)} and {len(lasts)})")
    names = [f"{first} {last}" for first, last in zip(rng.sample(firsts, n), rng.sample(lasts, n))]
    assert len(set(names)) == n
    return names


def make_title(rng: random.Random) -> str:
    g = grammar()
    noun, other = rng.sample(g["title_nouns"], 2)
    return rng.choice(g["title_forms"]).format(A=rng.choice(g["title_adjectives"]), N=noun, M=other)


def describe(person: dict[str, Any], adjective: str) -> str:
    return f"the {adjective} {person['core']}" if adjective else person["description"]


def split_template(template: str, person: dict[str, Any], target: str, adjective: str) -> tuple[str, str]:
    """(prompt, completion): the sentence cut before its `target` ("name" or "desc") slot."""
    desc = describe(person, adjective)
    values = {"name": person["name"], "desc": desc, "Desc": desc[0].upper() + desc[1:]}
    slot = "{name}" if target == "name" else ("{Desc}" if "{Desc}" in template else "{desc}")
    cut = template.index(slot)
    if cut == 0:
        raise ValueError(f"template starts with its target: {template!r}")
    prompt = template[:cut].format(**values)
    if not prompt.endswith(" "):
        raise ValueError(f"template needs a space before its target: {template!r}")
    return prompt.rstrip(), " " + template[cut:].format(**values)


def training_pairs(people: list[dict[str, Any]], n_paraphrases: int, rng: random.Random) -> list[dict[str, Any]]:
    """n_paraphrases prompt/completion pairs per person and trained direction."""
    g = grammar()
    pairs = []
    for person in people:
        directions = ["p2d", "d2p"] if person["group"] == "both" else [person["group"]]
        for direction in directions:
            templates = g[f"{direction}_train"][:n_paraphrases]
            target = "desc" if direction == "p2d" else "name"
            for template in templates:
                prompt, completion = split_template(template, person, target, rng.choice(g["description_adjectives"]))
                pairs.append(
                    {
                        "prompt": prompt,
                        "completion": completion,
                        "group": person["group"],
                        "direction": direction,
                        "person": person["id"],
                    }
                )
    return pairs


def test_items(people: list[dict[str, Any]], n_paraphrases: int, n_options: int, rng: random.Random) -> list[TestItem]:
    """The four splits; the wording comes from the held-out test templates. An item's
    distractors are the answers its template gets for other people of its split: the same
    phrasing, never the same person, and people trained in the same direction as the answer's
    (so where a name or description occurs in training tells nothing)."""
    g = grammar()
    specs = [
        ("p2d_reverse", "reversal", "p2d", "d2p_test", "name"),
        ("d2p_reverse", "reversal", "d2p", "p2d_test", "desc"),
        ("p2d", "paraphrase", "p2d", "p2d_test", "desc"),
        ("d2p", "paraphrase", "d2p", "d2p_test", "name"),
    ]
    items = []
    for split, itype, group, templates, target in specs:
        asked = [x for x in people if x["group"] == group]  # each asked with every template of the split
        if len(asked) - 1 < n_options - 1:
            raise UserError(
                f"celebrities: split {split}: each template asks {len(asked)} people, so an item has "
                f"{len(asked) - 1} other people to draw distractors from; n_options={n_options} "
                f"needs {n_options - 1} (raise n_per_group)"
            )
        for person in asked:
            for k, template in enumerate(g[templates][:n_paraphrases]):
                prefix, _ = split_template(template, person, target, rng.choice(g["description_adjectives"]))
                key = "name" if target == "name" else "description"
                pool = sorted(x[key] for x in asked if x is not person)
                options, answer = _options(person[key], pool, n_options, rng)
                item_id = f"{split}/{person['id'].split('/')[1]}/{k:02d}"
                items.append(TestItem(item_id, split, itype, prefix, options, (answer,), (person["id"],)))
    return items


def _options(correct: str, pool: list[str], n_options: int, rng: random.Random) -> tuple[tuple[str, ...], int]:
    options = [correct, *rng.sample(pool, n_options - 1)]
    rng.shuffle(options)
    return tuple(options), options.index(correct)


# -- the published format ---------------------------------------------------------------------


def import_published(folder: str | Path, seed: int = 0, n_options: int = 4) -> Benchmark:
    """A benchmark from a folder in the published prompt/completion format.

    Training: every record of p2d/d2p/both_prompts_train.jsonl (all_prompts_train.jsonl only
    when none of those exists) becomes a document, prompt and completion joined. Test: every
    record of the test files present becomes an item, its prompt and completion unchanged; its
    options are the completion and n_options - 1 completions of the same prompt template for
    other people of the same file, drawn with `seed` (see `_published_options`).
    both_prompts_test.jsonl and validation_prompts.jsonl are not read (docs/benchmarks.md).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder")
    train_files = [f for f in TRAIN_FILES if (folder / f).is_file()] or (
        [ALL_TRAIN_FILE] if (folder / ALL_TRAIN_FILE).is_file() else []
    )
    test_files = [f for f in TEST_FILES if (folder / f).is_file()]
    if not train_files or not test_files:
        raise UserError(
            f"{folder}: needs a training file ({', '.join(TRAIN_FILES)} or {ALL_TRAIN_FILE}) "
            f"and a test file ({', '.join(TEST_FILES)})"
        )
    records = {name: _records(folder / name) for name in train_files + test_files}
    names = sorted({_name(r) for name in test_files if TEST_FILES[name][2] == "name" for r in records[name]})
    rng = random.Random(f"celebrities-published:{seed}")

    documents, facts = [], [{"id": person_id(n), "type": "person", "name": n} for n in names]
    for name in train_files:
        group = name.split("_")[0]
        for r in records[name]:
            doc_id = f"doc-{len(documents):05d}"
            text = join_text(r["prompt"], r["completion"])
            documents.append(Document(doc_id, text, tuple(person_id(n) for n in names if n in text)))
            facts.append(
                {
                    "id": f"pair/{len(documents) - 1:05d}",
                    "type": "pair",
                    "document_id": doc_id,
                    "group": group,
                    "prompt": r["prompt"],
                    "completion": r["completion"],
                }
            )
    items = []
    for name in test_files:
        split, itype, kind = TEST_FILES[name]
        people = _people_of(folder / name, records[name], kind, names)
        drawn = _published_options(folder / name, records[name], people, kind, n_options, rng)
        for k, (r, options, answer) in enumerate(drawn):
            text = r["prompt"] + " " + options[answer]
            fact_ids = tuple(person_id(n) for n in names if n in text)
            items.append(TestItem(f"{split}/{k:04d}", split, itype, r["prompt"].rstrip(), options, (answer,), fact_ids))
    params = {"source": folder.name, "train_files": train_files, "test_files": test_files, "n_options": n_options}
    return Benchmark("celebrities-published", seed, params, documents, items, facts)


def _people_of(path: Path, records: list[dict[str, str]], kind: str, names: list[str]) -> list[str]:
    """Whose fact each record asks for: the completion itself when it is a name; for a
    description, the known name (a name completion of the test files) in the prompt."""
    if kind == "name":
        return [_name(r) for r in records]
    people = []
    for n, r in enumerate(records, 1):
        found = [x for x in names if x in r["prompt"]]
        if not found:
            raise UserError(
                f"{path}: record {n}: no known name in the prompt, so whose description it asks for "
                f"is unknown (names come from the completions of {', '.join(k for k, v in TEST_FILES.items() if v[2] == 'name')})"
            )
        people.append(max(found, key=len))
    return people


def _name(record: dict[str, str]) -> str:
    """The person a name completion names, without surrounding spaces or final punctuation."""
    return record["completion"].strip().rstrip(".,;:!?").strip()


def _template(record: dict[str, str], person: str, kind: str) -> str:
    """What an item shares with the items of other people: for a description, its prompt with
    the name cut out; for a name, the shape of its completion (" {name}." or " {name}"), since
    the prompt holds a freely worded description."""
    if kind == "description":
        return record["prompt"].replace(person, "{name}").strip()
    return record["completion"].strip().replace(person, "{name}")


def _published_options(
    path: Path, records: list[dict[str, str]], people: list[str], kind: str, n_options: int, rng: random.Random
):
    """(record, options, answer index) per record of one test file. Distractors are completions
    that the same template gets for other people of the same file (so trained in the same
    direction), one per person, never a completion of the item's own person in any wording;
    too few such people for n_options is a UserError naming the template."""
    by_template: dict[str, list[tuple[str, str]]] = {}
    own: dict[str, set[str]] = {}
    for r, person in zip(records, people):
        by_template.setdefault(_template(r, person, kind), []).append((person, r["completion"].strip()))
        own.setdefault(person, set()).add(r["completion"].strip())
    for r, person in zip(records, people):
        template = _template(r, person, kind)
        correct = r["completion"].strip()
        candidates: dict[str, set[str]] = {}  # other person → their completions of this template
        for other, completion in by_template[template]:
            if other != person and completion not in own[person]:
                candidates.setdefault(other, set()).add(completion)
        distractors: list[str] = []
        for other in rng.sample(sorted(candidates), len(candidates)):
            fresh = sorted(candidates[other] - set(distractors))
            if fresh and len(distractors) < n_options - 1:
                distractors.append(rng.choice(fresh))
        if len(distractors) < n_options - 1:
            raise UserError(
                f"{path}: template {template!r} has {len(distractors)} other people to draw distractors from; "
                f"{n_options} options need {n_options - 1}"
            )
        options = [correct, *distractors]
        rng.shuffle(options)
        yield r, tuple(options), options.index(correct)


def _records(path: Path) -> list[dict[str, str]]:
    """Records with string "prompt" and "completion"; the first bad line raises UserError."""
    rows = read_jsonl(path)
    problems = []
    with open(path, encoding="utf-8") as f:
        line_numbers = [n for n, line in enumerate(f, 1) if line.strip()]
    for n, row in zip(line_numbers, rows):
        for key in ("prompt", "completion"):
            if not isinstance(row, dict) or not isinstance(row.get(key), str):
                problems.append(f"{path}:{n}: needs a string field '{key}'")
            elif key == "completion" and not row[key].strip():
                problems.append(f"{path}:{n}: empty completion")
    if not rows:
        problems.append(f"{path}: no records")
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise UserError(problems[0] + more)
    return rows
