"""`iclft data export-lm-eval`: any benchmark as an lm-evaluation-harness task folder.

One task per split (`<prefix>_<split>`) and a group `<prefix>` over them; each task reads its
items from a JSON-lines file beside its YAML (through a small loader module written into the
folder, so the folder can be moved). Use it with the harness as usual:

    lm_eval --model hf --model_args pretrained=MODEL,add_bos_token=True \
            --include_path OUT --tasks <prefix>

The harness scores each option as a continuation of the prefix, like iclft. To get the same
text, the exported choices carry iclft's separator (a single space unless the prefix ends with
whitespace or the option starts with it: `iclft.models.base.segment_texts`) and the task's
`target_delimiter` is empty. iclft starts every sequence with the start-of-text token; give
the harness `add_bos_token=True` for the same. Both move whitespace at the end of a prefix
into the continuation (iclft's `segment_texts` does what the harness's `_encode_pair` does), so
the exported `text` is the prefix without it and each choice carries it. A split whose items all have one correct option
uses `doc_to_target: gold` (its index); a split with several correct options per item uses the
list `answers`, which the harness counts as correct when the top option is any of them.
"""

from __future__ import annotations

import re
from pathlib import Path

from iclft.benchmarks.schema import Benchmark, TestItem, load_benchmark
from iclft.errors import UserError
from iclft.io import atomic_write_text, jsonl_text

LOADER = '''"""Reads the exported iclft items for lm-evaluation-harness (written by `iclft data export-lm-eval`)."""

import json
from pathlib import Path


def load_split(data_file, **_):
    import datasets

    path = Path(__file__).with_name(data_file)
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})
'''

TASK_YAML = """\
# {split} split of iclft benchmark '{name}' (seed {seed}): {n} items. Written by iclft.
task: {task}
custom_dataset: !function {loader}.load_split
dataset_kwargs:
  data_file: {data_file}
test_split: test
output_type: multiple_choice
doc_to_text: text
doc_to_choice: choices
doc_to_target: {target}
target_delimiter: ""
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""

GROUP_YAML = """\
# iclft benchmark '{name}' (seed {seed}), all splits. Written by iclft.
group: {group}
task:
{tasks}
aggregate_metric_list:
  - metric: acc
    aggregation: mean
    weight_by_size: true
metadata:
  version: 1.0
"""


def task_name(text: str) -> str:
    """A harness-safe task name: lower case letters, digits and underscores."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def export_lm_eval(folder_or_bench: str | Path | Benchmark, out: str | Path, prefix: str | None = None) -> Path:
    """Write the task folder `out` for a benchmark (or a benchmark folder); returns `out`.

    Every file is built before the first one is written, and each is written atomically.
    """
    bench = folder_or_bench if isinstance(folder_or_bench, Benchmark) else load_benchmark(folder_or_bench)
    if not bench.items:
        raise UserError(f"benchmark '{bench.name}' has no test items to export")
    group = task_name(prefix or f"iclft_{bench.name}")
    if not group:
        raise UserError(f"task prefix '{prefix}' has no letters or digits")
    loader = f"{group}_loader"
    files = {f"{loader}.py": LOADER}
    tasks = []
    for split in bench.splits:
        task = f"{group}_{task_name(split)}"
        if task in tasks:
            raise UserError(f"splits of '{bench.name}' give the same task name '{task}'")
        tasks.append(task)
        items = bench.items_in(split)
        target = "gold" if all(len(i.answers) == 1 for i in items) else "answers"
        files[f"{task}.jsonl"] = jsonl_text(harness_record(i) for i in items)
        files[f"{task}.yaml"] = TASK_YAML.format(
            split=split,
            name=bench.name,
            seed=bench.seed,
            n=len(items),
            task=task,
            loader=loader,
            data_file=f"{task}.jsonl",
            target=target,
        )
    files[f"{group}.yaml"] = GROUP_YAML.format(
        name=bench.name, seed=bench.seed, group=group, tasks="\n".join(f"  - {t}" for t in tasks)
    )
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    for name, text in files.items():
        atomic_write_text(out / name, text)
    return out


def harness_record(item: TestItem) -> dict:
    """One item as the harness reads it; `choices` are the options with iclft's separator."""
    # The joining rule lives with the models (one place for training and scoring); it is plain
    # Python, so importing it keeps this module free of torch.
    from iclft.models.base import segment_texts

    return {
        "id": item.id,
        "split": item.split,
        "inference_type": item.inference_type,
        "prefix": item.prefix,
        "text": segment_texts([item.prefix, ""])[0],
        "options": list(item.options),
        "choices": [segment_texts([item.prefix, option])[1] for option in item.options],
        "gold": item.answers[0],
        "answers": list(item.answers),
    }
