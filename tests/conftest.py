"""Shared fixtures: a tiny random Llama with a real BPE tokenizer, built once per session."""

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from iclft.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_lm(tiny_model_dir):
    from iclft.models.hf import TransformersModel

    return TransformersModel(tiny_model_dir, device="cpu", name="tiny")
