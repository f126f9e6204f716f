"""Real tasks for the task-generalization study (Yang et al. 2024; docs/task-study.md): iclft's
task format (`format`), the import of the authors' released folder (`release`), validation
(`validate`) and prompt building (`prompts`). Pure data, no torch. The study runner is not
implemented yet."""

from iclft.tasks.format import Family, Study, TaskSet, TrainFile, load_study, load_task
from iclft.tasks.prompts import demo_context, test_prompt, training_pair

__all__ = [
    "Family",
    "Study",
    "TaskSet",
    "TrainFile",
    "demo_context",
    "load_study",
    "load_task",
    "test_prompt",
    "training_pair",
]
