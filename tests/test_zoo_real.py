"""Slow tests on the real embedded SmolLM2 (dequantized once into the iclft cache, then reused)."""

import pytest
import torch

from iclft.config import ModelConfig
from iclft.models import ScoreRequest, load_model

pytestmark = pytest.mark.slow

SENTENCES = [
    "The cat sat on the mat and looked out of the window.",
    "She went to the market to buy some fresh bread.",
    "The children played football in the park after school.",
    "He drank a cup of hot coffee before going to work.",
]


def shuffled(sentence: str) -> str:
    words = sentence.rstrip(".").split()
    return " ".join(words[1::2] + words[0::2]) + "."


@pytest.fixture(scope="module")
def smollm2():
    return load_model(ModelConfig(name="smollm2-135m", device="cpu"))


def test_smollm2_start_of_text_is_endoftext(smollm2):
    assert smollm2.tokenizer.convert_ids_to_tokens(smollm2.bos_id) == "<|endoftext|>"
    assert smollm2.encode_segments(["Hello"])[0][0] == smollm2.bos_id
    assert smollm2.max_length == 8192


def test_smollm2_prefers_real_sentences(smollm2):
    requests = [ScoreRequest("", (s, shuffled(s))) for s in SENTENCES]
    for real, mixed in smollm2.score(requests):
        assert real.logprob > mixed.logprob + 5


def test_smollm2_cached_scores_equal_full_forward(smollm2):
    context = "Read the following documents carefully.\n\n" + "\n\n".join(SENTENCES) + "\n\n"
    request = ScoreRequest("Where did she go? She went to the", ("market", "moon and back"))
    scores = smollm2.score([request], context=context)[0]
    for option, got in zip(request.options, scores):
        segments = smollm2.encode_segments([context, request.prefix, option])
        ids, n = sum(segments, []), len(segments[2])
        with torch.no_grad():
            logprobs = smollm2.module(torch.tensor([ids])).logits.float().log_softmax(-1)[0]
        want = sum(logprobs[len(ids) - n - 1 + k, ids[len(ids) - n + k]].item() for k in range(n))
        assert got.logprob == pytest.approx(want, abs=1e-4)


@pytest.mark.slow
def test_cached_folder_is_a_plain_model_with_iclft_start_token():
    import json

    from iclft.models.zoo import model_folder

    folder = model_folder("smollm2-135m")
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    assert json.loads((folder / "tokenizer_config.json").read_text())["bos_token"] == "<|endoftext|>"
