"""`iclft export`: fine-tuned runs as folders plain transformers and PEFT load, scoring as iclft did."""

import pytest
import torch

from iclft.cli import main
from iclft.config import config_from_dict
from iclft.experiment import run_experiment
from iclft.io import read_jsonl


def run(tmp_path, model_dir, method, condition="ft"):
    config = config_from_dict(
        {
            "benchmark": {"name": "reversal", "params": {"n_facts": 4, "docs_per_fact": 2}},
            "model": {"name": str(model_dir), "device": "cpu"},
            "condition": condition,
            "ft": {"method": method, "steps": 3, "batch_size": 4, "warmup_steps": 0, "learning_rate": 1e-2},
        }
    )
    return run_experiment(config, tmp_path / "runs", progress=False)


def plain_logprob(model, tokenizer, prefix: str, option: str) -> float:
    """Summed log-prob of the option after start token + prefix, as iclft joins segments."""
    prefix_ids = [tokenizer.bos_token_id] + tokenizer(prefix, add_special_tokens=False)["input_ids"]
    option_ids = tokenizer(" " + option, add_special_tokens=False)["input_ids"]
    ids = prefix_ids + option_ids
    with torch.no_grad():
        logprobs = model(torch.tensor([ids])).logits.float().log_softmax(-1)[0]
    return sum(logprobs[len(prefix_ids) + k - 1, t].item() for k, t in enumerate(option_ids))


def assert_scores_match(model, tokenizer, run_dir):
    samples = read_jsonl(run_dir / "samples.jsonl")
    for sample in samples[:4]:
        for option, want in zip(sample["options"], sample["logprobs"]):
            assert plain_logprob(model, tokenizer, sample["prefix"], option) == pytest.approx(want, abs=1e-4)


@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")  # raised inside peft
def test_lora_run_exports_a_peft_adapter(tmp_path, tiny_model_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run_dir = run(tmp_path, tiny_model_dir, "lora")
    out = tmp_path / "export"
    assert main(["export", str(run_dir), "--out", str(out)]) == 0
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md"} <= {f.name for f in out.iterdir()}
    card = (out / "README.md").read_text()
    assert "reversal" in card and "Condition: ft" in card and "| forward |" in card
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), out).eval()
    assert_scores_match(model, AutoTokenizer.from_pretrained(out), run_dir)


def test_full_run_exports_a_transformers_folder(tmp_path, tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run_dir = run(tmp_path, tiny_model_dir, "full")
    out = tmp_path / "export"
    out.mkdir()  # an empty folder is fine
    assert main(["export", str(run_dir), "--out", str(out)]) == 0
    assert "library_name: transformers" in (out / "README.md").read_text()
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert not torch.equal(model.model.layers[0].mlp.up_proj.weight, base.model.layers[0].mlp.up_proj.weight)
    assert_scores_match(model, AutoTokenizer.from_pretrained(out), run_dir)


def test_export_errors_are_one_line(tmp_path, tiny_model_dir, capsys):
    base_run = run(tmp_path, tiny_model_dir, "lora", condition="base")
    ft_run = run(tmp_path, tiny_model_dir, "lora")
    (tmp_path / "file").write_text("x")
    capsys.readouterr()
    cases = [
        ([str(tmp_path), "--out", str(tmp_path / "o1")], "not a finished run directory"),
        ([str(base_run), "--out", str(tmp_path / "o2")], "does not fine-tune"),
        ([str(ft_run), "--out", str(tmp_path / "file")], "exists and is not a folder"),
    ]
    for args, message in cases:
        assert main(["export", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("iclft: error: ") and message in err and err.count("\n") == 1
