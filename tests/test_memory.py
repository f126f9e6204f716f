"""iclft.memory: parameter counts from a model's shape, and the parts of a fine-tuning memory estimate."""

import pytest

from iclft.memory import (
    LLAMA_2_7B,
    LLAMA_3_2_1B,
    LLAMA_3_70B,
    SMOLLM2_135M,
    ModelShape,
    estimate,
    lora_parameter_count,
    parameter_count,
)
from iclft.models.base import LoraSpec


@pytest.fixture()
def tiny(tiny_model_dir):
    """A fresh tiny Llama of its own (start_training changes the model)."""
    from iclft.models.hf import TransformersModel

    return TransformersModel(tiny_model_dir, device="cpu", name="tiny")


def trainable(module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_parameter_count_is_the_models(tiny):
    shape = ModelShape.from_config(tiny.module.config)
    assert shape.kv_heads < shape.heads and shape.tied  # grouped-query attention, tied head
    assert parameter_count(shape) == sum(p.numel() for p in tiny.module.parameters())


def test_untied_head_counts_its_own_matrix(tiny):
    shape = ModelShape.from_config(tiny.module.config)
    untied = ModelShape(**{**shape.__dict__, "tied": False})
    assert parameter_count(untied) - parameter_count(shape) == shape.vocab * shape.hidden


def test_lora_count_is_what_peft_creates(tiny):
    shape = ModelShape.from_config(tiny.module.config)
    tiny.start_training(LoraSpec(rank=4, alpha=8))
    try:
        assert trainable(tiny.module) == lora_parameter_count(shape, 4)
    finally:
        tiny.end_training()


def test_published_model_sizes():
    # SmolLM2-135M: sum of numel of the embedded model; the others: their published counts
    assert parameter_count(SMOLLM2_135M) == 134_515_008
    assert parameter_count(LLAMA_3_2_1B) == 1_235_814_400
    assert parameter_count(LLAMA_2_7B) == 6_738_415_616
    assert parameter_count(LLAMA_3_70B) == 70_553_706_496


def test_peak_is_the_sum_of_its_parts(tiny):
    shape = ModelShape.from_config(tiny.module.config)
    for method in ("lora", "full"):
        for fsdp in (False, True):
            p = estimate(shape, method=method, batch_size=4, seq_len=64, processes=2, fsdp=fsdp)
            resident = p["weights"] + p["fsdp_gathered"] + p["optimizer"]
            moving = max(p["activations"] + p["logits"] + p["autocast_weights"], p["gradients"] + p["optimizer_step"])
            assert p["peak"] == resident + moving
            assert all(v >= 0 for v in p.values())


def test_checkpointing_lowers_activations_only():
    plain = estimate(LLAMA_2_7B, method="full", batch_size=8, seq_len=2048)
    ckpt = estimate(LLAMA_2_7B, method="full", batch_size=8, seq_len=2048, gradient_checkpointing=True)
    assert ckpt["activations"] < plain["activations"] / 5
    assert {k: v for k, v in ckpt.items() if k not in ("activations", "peak")} == {
        k: v for k, v in plain.items() if k not in ("activations", "peak")
    }


def test_activations_grow_with_tokens():
    one = estimate(SMOLLM2_135M, batch_size=1, seq_len=512)["activations"]
    assert estimate(SMOLLM2_135M, batch_size=2, seq_len=512)["activations"] == 2 * one
    assert estimate(SMOLLM2_135M, batch_size=1, seq_len=1024)["activations"] == 2 * one


def test_fsdp_divides_the_sharded_parts():
    for method in ("lora", "full"):
        one = estimate(LLAMA_3_70B, method=method, weight_dtype="bfloat16")
        eight = estimate(LLAMA_3_70B, method=method, weight_dtype="bfloat16", processes=8, fsdp=True)
        assert eight["weights"] == one["weights"] // 8
        assert eight["optimizer"] == one["optimizer"] // 8
        assert eight["activations"] == one["activations"]  # each process keeps its own micro-batch's
        assert eight["fsdp_gathered"] > 0
        if method == "lora":
            assert eight["gradients"] == one["gradients"] // 8
    assert estimate(LLAMA_3_70B, processes=8)["weights"] == estimate(LLAMA_3_70B)["weights"]  # DDP: no sharding


def test_lora_gradients_and_optimizer_are_the_adapters():
    n = lora_parameter_count(LLAMA_2_7B, 16)
    p = estimate(LLAMA_2_7B, method="lora", lora_rank=16, weight_dtype="bfloat16")
    assert p["gradients"] == 4 * n  # peft keeps the adapter in fp32
    assert p["optimizer"] == 2 * 4 * n
    full = estimate(LLAMA_2_7B, method="full", weight_dtype="bfloat16")
    assert full["gradients"] == 2 * parameter_count(LLAMA_2_7B)
    assert full["optimizer"] == 2 * 2 * parameter_count(LLAMA_2_7B)  # AdamW's states in the weights' dtype


def test_master_weights_add_four_bytes_per_trainable_parameter():
    n = parameter_count(LLAMA_2_7B)
    plain = estimate(LLAMA_2_7B, method="full", weight_dtype="bfloat16")
    master = estimate(LLAMA_2_7B, method="full", weight_dtype="bfloat16", master_weights=True)
    assert master["optimizer"] - plain["optimizer"] == 4 * n


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="method"):
        estimate(SMOLLM2_135M, method="qlora")


def test_optimizer_step_temporaries():
    # one tensor at a time (CPU): the square root of the largest tensor's states, then its quotient
    cpu = estimate(SMOLLM2_135M, method="full", foreach_optimizer=False)
    assert cpu["optimizer_step"] == 2 * 4 * SMOLLM2_135M.vocab * SMOLLM2_135M.hidden
    # all at once (foreach): one copy of every second moment
    gpu = estimate(SMOLLM2_135M, method="full")
    assert gpu["optimizer_step"] == gpu["gradients"] == 4 * parameter_count(SMOLLM2_135M)
