"""Task sets and studies (iclft.tasks): the import of the task-study release layout, checked file
by file with one-line errors; validation of task and study folders; prompts and training
sequences as golden strings.

Every fast test writes its own small synthetic folder in the released layout (records and
templates are made up here, in the same shape). Only `test_the_real_release_imports_with_its_counts`
reads the released folder itself: it is marked slow and skipped where that folder is absent."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from iclft.cli import main
from iclft.errors import UserError
from iclft.tasks import load_study, load_task, prompts
from iclft.tasks.format import TaskSet, TrainFile, yaml_text
from iclft.tasks.release import import_release
from iclft.tasks.validate import validate_task_path

# Made-up templates with the release's shape: field headers, a final colon, one trailing space.
TEMPLATES = [
    {
        "summary": "## Text:\n{input}\n## Gist:",
        "question": "## Text:\n{input}\n## Reply:\n{answer}\n## Ask:",
        "sentiment": "## Text:\n{input}\n## Mood:",
        "detection": "## A:\n{input_1}\n## B:\n{input_2}\n## Same:",
        "inference": "## A:\n{input_1}\n## B:\n{input_2}\n## Link:",
    },
    {
        "summary": "Read:{input}\nGist:",
        "question": "Text:{input}\nReply:{answer}\nAsk:",
        "sentiment": "Mood of:{input}\nMood:",
        "detection": "One:{input_1}\nTwo:{input_2}\nSame?:",
        "inference": "One:{input_1}\nTwo:{input_2}\nThe link is ",
    },
]
# family -> (train set, test sets, labels)
SETS = {
    "summary": ("xsum", ["xsum", "xlsum", "pdfs", "cnn"], None),
    "question": ("socialqa", ["socialqa", "tweetqa", "sciqa"], None),
    "sentiment": ("amazon", ["amazon", "amazonfood", "sst2", "yelp"], ["positive", "negative"]),
    "detection": ("paws", ["paws", "qqp", "stsb"], ["yes", "no"]),
    "inference": ("multinli", ["multinli", "multinli2", "rte", "gptnli"], ["entailment", "neutral", "contradiction"]),
}
TRAIN_ROWS = {2000: 5, 4000: 8, 6000: 11}


def make_record(family: str, name: str, i: int, labels) -> dict:
    label = labels[i % len(labels)] if labels else None
    if family == "summary":
        return {"input": f"{name} story {i}.", "output": f"gist {i}"}
    if family == "question":
        return {"input": f"{name} context {i}.", "answer": f"answer {i}", "output": f"question {i}?"}
    if family == "sentiment":
        return {"input": f"{name} review {i}.", "output": label}
    return {"input_1": f"{name} first {i}.", "input_2": f"{name} second {i}.", "output": label}


def records(family, name, n, labels, with_idx=True, start=0):
    rows = [make_record(family, name, start + i, labels) for i in range(n)]
    return [{"idx": start + i, **r} for i, r in enumerate(rows)] if with_idx else rows


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def write_release(root: Path) -> Path:
    """A release-layout folder: every family, test sets of 6 rows, pools of 8 (4 for summaries and
    tweetqa), nested train files; no idx where the release has none; MNLI test rows labelled '-'."""
    write_json(root / "prompt_map.json", TEMPLATES)
    for family, (train, tests, labels) in SETS.items():
        folder = root / family
        for name in tests:
            test = records(family, name, 6, labels)
            if name.startswith("multinli"):
                test[5]["output"] = "-"
            write_json(folder / f"{name}_test_500.json", test)
            pool_size = 4 if family == "summary" or name == "tweetqa" else 8
            pool_idx = family not in ("inference",) and name != "paws"
            write_json(
                folder / "few_shot" / f"{name}_few_shot.json", records(family, name, pool_size, labels, pool_idx, 100)
            )
        sizes = [2000] if family == "summary" else [2000, 4000, 6000]
        for size in sizes:
            with_idx = family not in ("inference", "summary")
            write_json(
                folder / f"{train}_train_{size}.json", records(family, train, TRAIN_ROWS[size], labels, with_idx, 500)
            )
    write_json(root / "inference" / "snli_test_500.json", records("inference", "snli", 3, SETS["inference"][2]))
    return root


@pytest.fixture
def release(tmp_path):
    return write_release(tmp_path / "release")


@pytest.fixture
def study_dir(release, tmp_path):
    import_release(release, tmp_path / "study")
    return tmp_path / "study"


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---- import


def test_import_writes_a_study_of_every_family(study_dir):
    study = load_study(study_dir)
    assert [f.name for f in study.families] == list(SETS)
    sentiment = study.families[2]
    assert (sentiment.train, sentiment.in_domain, sentiment.out_of_domain) == (
        "amazon",
        ("amazon", "amazonfood"),
        ("sst2", "yelp"),
    )
    assert len(study.set_names) == 18 and not (study_dir / "snli").exists()
    assert study.imported_from["format"] == "yang2024-release"
    assert validate_task_path(study_dir) == []


def test_imported_records_keep_idx_or_get_their_row_position(study_dir):
    multinli = load_task(study_dir / "multinli")
    assert [r["idx"] for r in multinli.train_records(2000)] == list(range(5))  # the release has no idx here
    assert [r["idx"] for r in multinli.demo_records()] == list(range(8))
    assert [r["idx"] for r in load_task(study_dir / "amazon").demo_records()] == list(range(100, 108))
    assert multinli.test_records()[5]["output"] == "-"  # kept: scored as wrong later
    assert multinli.demo_records()[0] == {
        "idx": 0,
        "input_1": "multinli first 100.",
        "input_2": "multinli second 100.",
        "output": "neutral",
    }


def test_imported_task_keeps_fields_labels_templates_and_train_sizes(study_dir):
    mnli, xsum, socialqa = (load_task(study_dir / n) for n in ("multinli", "xsum", "socialqa"))
    assert (mnli.kind, mnli.inputs, mnli.labels, mnli.unlabelled) == (
        "classification", ("input_1", "input_2"), ("entailment", "neutral", "contradiction"), "-",
    )  # fmt: skip
    assert mnli.templates == (TEMPLATES[0]["inference"], TEMPLATES[1]["inference"])  # the trailing space survives
    assert (xsum.kind, xsum.labels, xsum.train) == ("generation", (), (TrainFile("train_2000.jsonl", 2000),))
    assert socialqa.inputs == ("input", "answer")
    assert [t.size for t in socialqa.train] == [2000, 4000, 6000]
    assert load_task(study_dir / "rte").train == ()


def test_train_records_by_nominal_size_or_first_n(study_dir):
    amazon = load_task(study_dir / "amazon")
    assert len(amazon.train_records(4000)) == 8
    assert len(amazon.train_records()) == 11  # the largest
    first3 = amazon.train_records(3)
    assert first3 == amazon.train_records(2000)[:3] and len(amazon.train_records(7)) == 7
    with pytest.raises(UserError, match="no training file has 12 records"):
        amazon.train_records(12)


def test_cli_import_prints_what_it_found(release, tmp_path, capsys):
    code, out, err = run_cli(capsys, "data", "import", "task-study", release, "--out", tmp_path / "out")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"imported {release} into {tmp_path / 'out'}: 5 task families, 18 test sets"
    assert "sentiment (classification): train amazon 2000 (5 records), 4000 (8 records), 6000 (11 records)" in lines
    assert "summary (generation): train xsum 2000 (5 records)" in lines
    assert "  amazon      in-domain     test    6  demos 8  positive 3, negative 3" in lines
    assert "  tweetqa     out-of-domain test    6  demos 4" in lines
    assert (
        "  multinli    in-domain     test    6  demos 8  entailment 2, neutral 2, contradiction 1, unlabelled '-' 1"
        in lines
    )
    assert (
        lines[-2]
        == "not imported: inference/snli_test_500.json (a test set without a demonstration pool; the study does not use it)"
    )
    assert lines[-1] == "absent (optional): summary/xsum_train_4000.json, summary/xsum_train_6000.json"


def test_a_training_file_of_its_nominal_size_shows_the_size_alone(release, tmp_path, capsys):
    labels = ["positive", "negative"]
    write_json(release / "sentiment" / "amazon_train_2000.json", records("sentiment", "amazon", 2000, labels))
    out = run_cli(capsys, "data", "import", "task-study", release, "--out", tmp_path / "out")[1]
    assert "sentiment (classification): train amazon 2000, 4000 (8 records), 6000 (11 records)" in out.splitlines()


def edit_record(release: Path, rel: str, row: int, change) -> Path:
    path = release / rel
    data = json.loads(path.read_text())
    change(data[row])
    path.write_text(json.dumps(data))
    return path


BAD_RELEASES = {
    "unknown task directory": (
        lambda r: (r / "translation").mkdir(),
        "{r}/translation: unknown task directory (known: summary, question, sentiment, detection, inference)",
    ),
    "unknown file": (
        lambda r: write_json(r / "sentiment" / "imdb_test_500.json", []),
        "{r}/sentiment/imdb_test_500.json: unknown file: not a test set, demonstration pool or training file of 'sentiment'",
    ),
    "record missing a field": (
        lambda r: edit_record(r, "sentiment/amazon_test_500.json", 2, lambda x: x.pop("input")),
        "{r}/sentiment/amazon_test_500.json: record 2: missing field 'input'",
    ),
    "question without its answer": (
        lambda r: edit_record(r, "question/few_shot/sciqa_few_shot.json", 7, lambda x: x.pop("answer")),
        "{r}/question/few_shot/sciqa_few_shot.json: record 7: missing field 'answer'",
    ),
    "field not a string": (
        lambda r: edit_record(r, "summary/xsum_train_2000.json", 4, lambda x: x.update(output=None)),
        "{r}/summary/xsum_train_2000.json: record 4: field 'output' must be a string, not null",
    ),
    "label outside the label set": (
        lambda r: edit_record(r, "sentiment/sst2_test_500.json", 1, lambda x: x.update(output="pos")),
        "{r}/sentiment/sst2_test_500.json: record 1: label 'pos' is not one of positive, negative",
    ),
    "unlabelled row in a pool": (
        lambda r: edit_record(r, "inference/few_shot/rte_few_shot.json", 3, lambda x: x.update(output="-")),
        "{r}/inference/few_shot/rte_few_shot.json: record 3: label '-' is not one of entailment, neutral, contradiction",
    ),
    "unlabelled row outside inference": (
        lambda r: edit_record(r, "detection/qqp_test_500.json", 0, lambda x: x.update(output="-")),
        "{r}/detection/qqp_test_500.json: record 0: label '-' is not one of yes, no",
    ),
    "idx not a number": (
        lambda r: edit_record(r, "question/socialqa_test_500.json", 3, lambda x: x.update(idx="3")),
        "{r}/question/socialqa_test_500.json: record 3: field 'idx' must be a whole number, not a string",
    ),
    "idx repeated": (
        lambda r: edit_record(r, "detection/paws_train_4000.json", 6, lambda x: x.update(idx=500)),
        "{r}/detection/paws_train_4000.json: record 6: idx 500 repeats record 0",
    ),
    "empty file": (
        lambda r: (r / "summary" / "cnn_test_500.json").write_text(""),
        "{r}/summary/cnn_test_500.json:1: not valid JSON (Expecting value)",
    ),
    "no records": (
        lambda r: write_json(r / "summary" / "few_shot" / "pdfs_few_shot.json", []),
        "{r}/summary/few_shot/pdfs_few_shot.json: no records",
    ),
    "not JSON": (
        lambda r: (r / "inference" / "gptnli_test_500.json").write_text('[{"idx": 0,}]'),
        "{r}/inference/gptnli_test_500.json:1: not valid JSON (Expecting property name enclosed in double quotes)",
    ),
    "not an array": (
        lambda r: write_json(r / "sentiment" / "yelp_test_500.json", {"idx": 0}),
        "{r}/sentiment/yelp_test_500.json: expected a JSON array of records, found an object",
    ),
    "record not an object": (
        lambda r: write_json(r / "sentiment" / "yelp_test_500.json", [["a", "b"]]),
        "{r}/sentiment/yelp_test_500.json: record 0: expected a JSON object, found a list",
    ),
    "test set without a pool": (
        lambda r: (r / "sentiment" / "few_shot" / "yelp_few_shot.json").unlink(),
        "{r}/sentiment/yelp_test_500.json: no demonstration pool ({r}/sentiment/few_shot/yelp_few_shot.json is missing)",
    ),
    "test set missing": (
        lambda r: (r / "detection" / "stsb_test_500.json").unlink(),
        "{r}/detection/stsb_test_500.json: file missing (a test set of the study)",
    ),
    "2000 training file missing": (
        lambda r: (r / "inference" / "multinli_train_2000.json").unlink(),
        "{r}/inference/multinli_train_2000.json: file missing (the training set of 'inference')",
    ),
    "task family folder missing": (
        lambda r: os.rename(r / "question", r / ".question-old"),
        "{r}/question: folder missing (the task family 'question')",
    ),
    "prompt map missing": (
        lambda r: (r / "prompt_map.json").unlink(),
        "{r}/prompt_map.json: file missing (the prompt templates of every task family)",
    ),
    "prompt map without a family": (
        lambda r: write_json(r / "prompt_map.json", [TEMPLATES[0], {**TEMPLATES[1], "summary": None}]),
        "{r}/prompt_map.json: template 2 of 'summary': expected a non-empty string, found null",
    ),
    "template with a field the records lack": (
        lambda r: write_json(r / "prompt_map.json", [{**TEMPLATES[0], "sentiment": "{input}\n{title}:"}]),
        "{r}/prompt_map.json: template 1 of 'sentiment': fills '{{title}}', which is not an input field (input)",
    ),
}


@pytest.mark.parametrize("case", BAD_RELEASES, ids=list(BAD_RELEASES))
def test_a_bad_release_ends_with_one_line_and_writes_nothing(case, release, tmp_path, capsys):
    breaks, expected = BAD_RELEASES[case]
    breaks(release)
    code, out, err = run_cli(capsys, "data", "import", "task-study", release, "--out", tmp_path / "out")
    assert (code, out) == (2, "")
    assert err == f"iclft: error: {expected.format(r=release)}\n"
    assert sorted(os.listdir(tmp_path)) == ["release"]  # no study folder, no partial folder


def test_an_earlier_import_is_replaced_anything_else_refused(release, tmp_path, capsys):
    out = tmp_path / "out"
    import_release(release, out)
    (out / "amazon" / "stale.txt").write_text("from before")
    import_release(release, out)
    assert not (out / "amazon" / "stale.txt").exists()
    with pytest.raises(UserError, match="inside the released folder"):
        import_release(release, release / "sentiment" / "study")
    (tmp_path / "empty").mkdir()
    import_release(release, tmp_path / "empty")
    assert (tmp_path / "empty" / "study.yaml").is_file()
    edit_record(release, "sentiment/amazon_test_500.json", 0, lambda x: x.update(output="maybe"))
    with pytest.raises(UserError, match="record 0: label 'maybe'"):
        import_release(release, out)
    assert load_task(out / "amazon").test_records()[0]["output"] == "positive"  # the earlier import is intact
    mine = tmp_path / "mine"
    (mine / "notes").mkdir(parents=True)
    code, _, err = run_cli(capsys, "data", "import", "task-study", release, "--out", mine)
    assert code == 2
    assert (
        err
        == f"iclft: error: {mine}: exists and is not an earlier task-study import; choose another --out or remove it\n"
    )


# ---- validation of task and study folders


def write_task(folder: Path, task: dict, files: dict[str, list]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "task.yaml").write_text(yaml_text(task))
    for name, rows in files.items():
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


MOOD = {
    "name": "moods",
    "family": "sentiment",
    "kind": "classification",
    "inputs": ["text"],
    "output": "mood",
    "labels": ["happy", "sad"],
    "templates": ["Text:\n{text}\nMood:", "What is the mood of this text? {text}\nMood:"],
    "files": {"test": "test.jsonl", "demos": "demos.jsonl", "train": "train.jsonl"},
}
MOOD_ROWS = [{"idx": 0, "text": "sun", "mood": "happy"}, {"idx": 1, "text": "rain", "mood": "sad"}]


def test_a_users_own_task_validates_and_loads(tmp_path, capsys):
    folder = write_task(
        tmp_path / "moods", MOOD, {"test.jsonl": MOOD_ROWS, "demos.jsonl": MOOD_ROWS, "train.jsonl": MOOD_ROWS}
    )
    assert run_cli(capsys, "data", "validate", folder) == (0, f"{folder}: valid\n", "")
    task = load_task(folder)
    assert task.train == (TrainFile("train.jsonl", None),) and task.train_records() == MOOD_ROWS
    assert (
        prompts.test_prompt(task, {"text": "snow"}, task.demo_records(), 1)
        == "Text:\nsun\nMood:happy\n\nText:\nsnow\nMood:"  # docs/task-study.md
    )


def test_validate_reports_every_problem_of_a_task_folder(tmp_path, capsys):
    task = {**MOOD, "kind": "regression", "templates": ["{text} {mood}:", "{"], "colour": "red"}
    folder = write_task(tmp_path / "bad", task, {})
    code, out, err = run_cli(capsys, "data", "validate", folder)
    path = folder / "task.yaml"
    assert out.splitlines() == [
        f"{path}: unknown field 'colour' (known: name, family, kind, inputs, output, labels, unlabelled, templates, files)",
        f"{path}: field 'kind' must be classification or generation, not \"regression\"",
        f"{path}: template 1 fills '{{mood}}', which is not an input field (text)",
        f"{path}: template 2 is not a format string (Single '{{' encountered in format string)",
    ]
    assert (code, err) == (2, f"iclft: error: {folder}: 4 problem(s) found\n")
    write_task(folder, {k: v for k, v in MOOD.items() if k != "labels"}, {})
    assert run_cli(capsys, "data", "validate", folder)[1].splitlines() == [
        f"{path}: a classification task needs 'labels', the list of its output labels"
    ]


def test_validate_reports_every_bad_record_with_file_and_line(tmp_path, capsys):
    rows = [
        {"idx": 0, "text": "sun", "mood": "happy"},
        {"idx": 0, "text": "hail", "mood": "cross"},
        {"text": 3, "mood": "sad"},
    ]
    files = {"test.jsonl": rows, "demos.jsonl": [], "train.jsonl": MOOD_ROWS}
    folder = write_task(
        tmp_path / "moods", {**MOOD, "files": {**MOOD["files"], "train": {1000: "train_1000.jsonl"}}}, files
    )
    (folder / "test.jsonl").write_text((folder / "test.jsonl").read_text() + "{oops\n")
    out = run_cli(capsys, "data", "validate", folder)[1]
    test = folder / "test.jsonl"
    assert out.splitlines() == [
        f"{test}:2: label 'cross' is not one of happy, sad",
        f"{test}:2: idx 0 repeats line 1",
        f"{test}:3: missing field 'idx'",
        f"{test}:3: field 'text' must be a string, not a number",
        f"{test}:4: not valid JSON (Expecting property name enclosed in double quotes, column 2)",
        f"{folder / 'demos.jsonl'}: no records",
        f"{folder / 'train_1000.jsonl'}: file missing",
    ]


def test_validate_checks_a_study_against_its_task_folders(study_dir, capsys):
    task_yaml = study_dir / "yelp" / "task.yaml"
    task_yaml.write_text(task_yaml.read_text().replace("family: sentiment", "family: reviews"))
    (study_dir / "stsb" / "task.yaml").unlink()
    os.rename(study_dir / "qqp", study_dir / "quora")
    (study_dir / "rte" / "demos.jsonl").write_text('{"idx": 0, "input_1": "a", "input_2": "b", "output": "-"}\n')
    code, out, _ = run_cli(capsys, "data", "validate", study_dir)
    assert code == 2
    study_yaml = study_dir / "study.yaml"
    assert out.splitlines() == [
        f"{study_yaml}: set 'qqp' has no task folder ({study_dir}/qqp/task.yaml is missing)",
        f"{study_yaml}: set 'stsb' has no task folder ({study_dir}/stsb/task.yaml is missing)",
        f"{study_dir}/rte/demos.jsonl:1: label '-' is not one of entailment, neutral, contradiction",
        f"{task_yaml}: family is 'reviews', study.yaml lists it under 'sentiment'",
        f"{study_dir}/quora: task set not named in {study_yaml}",
    ]


# ---- prompts (golden strings; the composition rule of the study)


def family_task(family: str, template: int = 1) -> TaskSet:
    train, _, labels = SETS[family]
    inputs = {"summary": ("input",), "question": ("input", "answer"), "sentiment": ("input",)}
    inputs = inputs.get(family, ("input_1", "input_2"))
    kind = "classification" if labels else "generation"
    templates = tuple(t[family] for t in TEMPLATES)
    files = {"test": "test.jsonl", "demos": "demos.jsonl", "train": ()}
    return TaskSet(Path("t"), train, family, kind, inputs, "output", tuple(labels or ()), None, templates, **files)


def pool(family: str, n: int = 8) -> list[dict]:
    return records(family, "d", n, SETS[family][2])


QUERY = {
    "summary": {"input": "Q story."},
    "question": {"input": "Q context.", "answer": "Q answer"},
    "sentiment": {"input": "Q review."},
    "detection": {"input_1": "Q one.", "input_2": "Q two."},
    "inference": {"input_1": "Q one.", "input_2": "Q two."},
}
GOLDEN = [  # (family, k, template, prompt)
    ("summary", 0, 1, "## Text:\nQ story.\n## Gist:"),
    ("summary", 1, 1, "## Text:\nd story 0.\n## Gist:gist 0\n\n## Text:\nQ story.\n## Gist:"),
    ("summary", 2, 2, "Read:d story 0.\nGist:gist 0\n\nRead:d story 1.\nGist:gist 1\n\nRead:Q story.\nGist:"),
    (
        "question", 1, 1,
        "## Text:\nd context 0.\n## Reply:\nanswer 0\n## Ask:question 0?\n\n"
        "## Text:\nQ context.\n## Reply:\nQ answer\n## Ask:",
    ),
    ("question", 0, 2, "Text:Q context.\nReply:Q answer\nAsk:"),
    (
        "sentiment", 2, 1,
        "## Text:\nd review 0.\n## Mood:positive\n\n## Text:\nd review 1.\n## Mood:negative\n\n"
        "## Text:\nQ review.\n## Mood:",
    ),
    ("sentiment", 0, 2, "Mood of:Q review.\nMood:"),
    (
        "detection", 2, 2,
        "One:d first 0.\nTwo:d second 0.\nSame?:yes\n\nOne:d first 1.\nTwo:d second 1.\nSame?:no\n\n"
        "One:Q one.\nTwo:Q two.\nSame?:",
    ),
    ("detection", 0, 1, "## A:\nQ one.\n## B:\nQ two.\n## Same:"),
    (
        "inference", 3, 1,
        "## A:\nd first 0.\n## B:\nd second 0.\n## Link:entailment\n\n"
        "## A:\nd first 1.\n## B:\nd second 1.\n## Link:neutral\n\n"
        "## A:\nd first 2.\n## B:\nd second 2.\n## Link:contradiction\n\n"
        "## A:\nQ one.\n## B:\nQ two.\n## Link:",
    ),
    (
        "inference", 1, 2,
        "One:d first 0.\nTwo:d second 0.\nThe link is entailment\n\nOne:Q one.\nTwo:Q two.\nThe link is ",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("family", "k", "template", "expected"), GOLDEN, ids=[f"{f}-k{k}-P{t}" for f, k, t, _ in GOLDEN]
)
def test_test_prompt_golden_strings(family, k, template, expected):
    assert prompts.test_prompt(family_task(family), QUERY[family], pool(family), k, template) == expected


SHOTS = {
    "summary": (0, 1, 2, 4),
    "question": (0, 1, 2, 4),
    "sentiment": (0, 2, 4, 6),
    "detection": (0, 2, 4, 6),
    "inference": (0, 3, 5, 7),
}


@pytest.mark.parametrize("family", SHOTS)
@pytest.mark.parametrize("template", [1, 2])
def test_every_shot_count_adds_whole_demonstrations_in_pool_order(family, template):
    task, demos = family_task(family), pool(family)
    query = prompts.test_prompt(task, QUERY[family], demos, 0, template)
    assert query == task.templates[template - 1].format_map(QUERY[family]) and not query.startswith("<s>")
    for k in SHOTS[family]:
        prompt = prompts.test_prompt(task, QUERY[family], demos, k, template)
        blocks = prompt.split("\n\n")
        assert len(blocks) == k + 1 and blocks[-1] == query
        for d, block in zip(demos, blocks[:-1], strict=False):
            assert block == task.templates[template - 1].format_map(d) + d["output"]  # no space before the answer


def test_asking_for_more_demonstrations_than_the_pool_has_is_a_user_error():
    with pytest.raises(UserError, match="5 demonstrations asked for, the pool has 4"):
        prompts.test_prompt(family_task("summary"), QUERY["summary"], pool("summary", 4), 5)
    with pytest.raises(UserError, match="no template 3; templates are 1..2"):
        prompts.test_prompt(family_task("summary"), QUERY["summary"], pool("summary", 4), 0, 3)


def test_training_pairs_ft_and_fticl():
    task = family_task("question")
    record = {"idx": 7, "input": "Kim waved.", "answer": "wave back", "output": "What will Lee do?"}
    assert prompts.training_pair(task, record) == (
        "## Text:\nKim waved.\n## Reply:\nwave back\n## Ask:",
        "What will Lee do?",
    )
    context = prompts.demo_context(task, pool("question"), 1)  # FTICL: the first k in-domain demos, with P1
    assert context == "## Text:\nd context 0.\n## Reply:\nanswer 0\n## Ask:question 0?\n\n"
    source, target = prompts.training_pair(task, record, context)
    assert source == context + "## Text:\nKim waved.\n## Reply:\nwave back\n## Ask:" and target == "What will Lee do?"
    sentiment = family_task("sentiment")
    assert prompts.training_pair(sentiment, {"input": "Fine.", "output": "positive"}) == (
        "## Text:\nFine.\n## Mood:",
        "positive",
    )


def test_prompts_from_an_imported_task_use_its_own_pool_and_templates(study_dir):
    sst2 = load_task(study_dir / "sst2")
    test, demos = sst2.test_records(), sst2.demo_records()
    prompt = prompts.test_prompt(sst2, test[0], demos, 2, 2)
    assert (
        prompt
        == "Mood of:sst2 review 100.\nMood:positive\n\nMood of:sst2 review 101.\nMood:negative\n\nMood of:sst2 review 0.\nMood:"
    )


# ---- the released folder itself (not part of iclft; read only where present)

RELEASE = Path(os.environ.get("ICLFT_TASK_STUDY_DATA", "")).expanduser()


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("ICLFT_TASK_STUDY_DATA") or not RELEASE.is_dir(),
    reason="reads the released task-study folder: set ICLFT_TASK_STUDY_DATA to your copy of its data/",
)
def test_the_real_release_imports_with_its_counts(tmp_path):
    """Reads the authors' released folder (ICLFT_TASK_STUDY_DATA, which iclft does not ship):
    the counts the study's protocol states."""
    result = import_release(RELEASE, tmp_path / "study")
    study = result.study
    assert validate_task_path(study.folder) == []
    rows = {name: len(study.task(name).test_records()) for name in study.set_names}
    assert rows["cnn"] == 382 and all(n == 500 for name, n in rows.items() if name != "cnn") and len(rows) == 18
    pools = {name: len(study.task(name).demo_records()) for name in study.set_names}
    assert pools["multinli"] == 8 and pools["tweetqa"] == 4 and pools["xsum"] == pools["cnn"] == 4
    amazon = study.task("amazon")
    labels = [r["output"] for r in amazon.test_records()]
    assert (labels.count("negative"), labels.count("positive")) == (240, 260)
    assert [labels[:250].count(x) for x in ("negative", "positive")] == [120, 130]
    assert [len(amazon.train_records(n)) for n in (2000, 4000, 6000)] == [2000, 4000, 5999]
    assert len(study.task("paws").train_records(6000)) == 5986
    mnli = [r["output"] for r in study.task("multinli").test_records()]
    assert [mnli.count(x) for x in ("entailment", "neutral", "contradiction", "-")] == [167, 160, 165, 8]
    assert all(r["idx"] == i for name in study.set_names for i, r in enumerate(study.task(name).test_records()))
    assert result.unused == ("inference/snli_test_500.json",)
    assert study.task("multinli").templates[1].endswith(" ")  # P2 inference keeps its trailing space
    socialqa = study.task("socialqa")
    first = prompts.test_prompt(socialqa, socialqa.test_records()[0], socialqa.demo_records(), 4)
    assert first.count("\n\n") == 4 and first.endswith(":")
