"""Real tasks for the task-generalization study (Yang et al. 2024; docs/task-study.md): iclft's
task format (`format`), the import of the authors' released folder (`release`), validation
(`validate`), prompt building (`prompts`) and scoring: ROUGE of generations (`rouge`) and the
two readings of classification items (`classify`), greedy generation (`generate`); running a
study: plans and tiers (`plan`), training sequences and weight drift (`training`), the runner
(`runner`) and the report of its results (`report`)."""

from iclft.tasks.classify import accuracy_metrics, classify_records, score_prompts
from iclft.tasks.format import Family, Study, TaskSet, TrainFile, load_study, load_task
from iclft.tasks.generate import generate_records, greedy_generate
from iclft.tasks.prompts import demo_context, test_prompt, training_pair
from iclft.tasks.report import load_models, load_results, write_report
from iclft.tasks.rouge import cut_generation, lcs_fmeasure, mean_and_stderr, rouge_item, rouge_metrics

__all__ = [
    "Family",
    "Study",
    "TaskSet",
    "TrainFile",
    "accuracy_metrics",
    "classify_records",
    "cut_generation",
    "demo_context",
    "generate_records",
    "greedy_generate",
    "lcs_fmeasure",
    "load_models",
    "load_results",
    "load_study",
    "load_task",
    "mean_and_stderr",
    "rouge_item",
    "rouge_metrics",
    "score_prompts",
    "test_prompt",
    "training_pair",
    "write_report",
]
