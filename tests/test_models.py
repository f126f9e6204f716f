"""Fast tests of the model layer on the tiny random Llama (no downloads)."""

import pytest
import torch

from iclft.config import ModelConfig
from iclft.errors import UserError
from iclft.models import GenerationSettings, ScoreRequest, join_segments, load_model, segment_texts
from iclft.models.hf import TransformersModel

CONTEXT = "The blicket is larger than the dax. Every wug is a fep. Zorblat was born in Quenville.\n" * 4
REQUESTS = [
    ScoreRequest("Is the dax smaller than the blicket?", ("Yes", "No", "It is not smaller at all")),
    ScoreRequest("Where was Zorblat born?", ("Quenville", "Drastenburg")),
    ScoreRequest("Who?", ("Vossina", "Trelka the great", "x")),
    ScoreRequest("Is the gorp bigger than the zib?", ("Yes", "No")),
    ScoreRequest("", ("a wug", "the fep")),
    ScoreRequest("", ("Every wug is a fep.", "Yes", "")),
    ScoreRequest("The mother of Trelka is", (" Vossina", "\nPrindle")),
]


def uncached_logprob(lm, context, prefix, option):
    """Summed log-prob of the option tokens from one plain forward pass of the joined tokens."""
    segments = lm.encode_segments([context, prefix, option])
    ids = sum(segments, [])
    n = len(segments[2])
    with torch.no_grad():
        logprobs = lm.module(torch.tensor([ids])).logits.float().log_softmax(-1)[0]
    return sum(logprobs[len(ids) - n - 1 + k, ids[len(ids) - n + k]].item() for k in range(n)), n


@pytest.mark.parametrize("context", [CONTEXT, CONTEXT + "\n", ""])
def test_cached_scores_equal_uncached(tiny_lm, context):
    scores = tiny_lm.score(REQUESTS, context=context)
    assert [len(s) for s in scores] == [len(r.options) for r in REQUESTS]
    for request, option_scores in zip(REQUESTS, scores):
        for option, got in zip(request.options, option_scores):
            want, n = uncached_logprob(tiny_lm, context, request.prefix, option)
            assert got.n_tokens == n
            assert got.logprob == pytest.approx(want, abs=1e-5)
            assert got.n_chars == len(segment_texts([context, request.prefix, option])[2])


def test_small_batches_give_the_same_scores(tiny_model_dir, tiny_lm):
    small = TransformersModel(tiny_model_dir, device="cpu", pack_tokens=1)  # one request per forward call
    for a, b in zip(small.score(REQUESTS, CONTEXT), tiny_lm.score(REQUESTS, CONTEXT)):
        assert [x.logprob for x in a] == pytest.approx([x.logprob for x in b], abs=1e-5)


def test_segments_are_tokenized_as_their_joined_text(tiny_lm):
    """Trailing whitespace moves to the next segment, so the segments' tokens, concatenated, are
    the tokens of the joined text: a context ending in a blank line is not scored on the merged
    "\n\n" token that running text never has."""
    assert tiny_lm.tokenizer.tokenize("zib.\n\n")[-1] == "ĊĊ"  # the merge the rule must avoid
    cases = [
        ["Zorblat was born in", "Quenville"],
        ["Q: who?\n", "A"],
        ["", "x"],
        ["ends with space ", "y"],
        ["context", "Is the dax small?", "Yes"],
        ["The gorp is bigger than the zib.\n\n", "Read the documents.", " Yes"],
        ["  ", "x"],
    ]
    for segments in cases:
        joined = sum(tiny_lm.encode_segments(segments), [])
        assert joined == [
            tiny_lm.bos_id,
            *tiny_lm.tokenizer(join_segments(segments), add_special_tokens=False).input_ids,
        ]
        assert tiny_lm.tokenizer.decode(joined[1:]) == join_segments(segments)


@pytest.mark.parametrize("name", ["reversal", "syllogism", "semantic", "celebrities"])
def test_icl_scores_equal_one_forward_over_the_joined_text(tiny_lm, name):
    """Every built-in benchmark's in-context prompt: the cached-context scores equal the log-probs
    of one plain forward pass over the tokens of the joined text."""
    from iclft.benchmarks import get_benchmark
    from iclft.config import IclConfig
    from iclft.exposure.icl import icl_context

    small = {
        "reversal": {"n_facts": 3, "docs_per_fact": 1},
        "syllogism": {"n_train": 3},
        "semantic": {"n_documents": 100},
        "celebrities": {"n_per_group": 4, "train_paraphrases": 1, "test_paraphrases": 1},
    }
    bench = get_benchmark(name, 0, small[name])
    context = icl_context(list(bench.documents)[:1], IclConfig(), 0)
    assert context.endswith("\n\n")
    items = bench.items[:3]
    scores = tiny_lm.score([ScoreRequest(i.prefix, i.options) for i in items], context=context)
    for item, option_scores in zip(items, scores):
        for option, got in zip(item.options, option_scores):
            text = join_segments([context, item.prefix, option])
            ids = [tiny_lm.bos_id, *tiny_lm.tokenizer(text, add_special_tokens=False).input_ids]
            n = got.n_tokens
            assert tiny_lm.tokenizer.decode(ids[len(ids) - n :]) == segment_texts([context, item.prefix, option])[2]
            with torch.no_grad():
                logprobs = tiny_lm.module(torch.tensor([ids])).logits.float().log_softmax(-1)[0]
            want = sum(logprobs[len(ids) - n - 1 + k, ids[len(ids) - n + k]].item() for k in range(n))
            assert got.logprob == pytest.approx(want, abs=1e-4)


def test_join_segments_spaces():
    assert join_segments(["a", "b"]) == "a b"
    assert join_segments(["a ", "b"]) == "a b"
    assert join_segments(["a", "\nb"]) == "a\nb"
    assert join_segments(["", "b"]) == "b"
    assert segment_texts(["ctx.\n\n", "Q are", "x."]) == ["ctx.", "\n\nQ are", " x."]
    assert segment_texts(["Q is: ", "Y"]) == ["Q is:", " Y"]
    assert "".join(segment_texts(["x", "y", "z"])) == join_segments(["x", "y", "z"])


def test_generate_samples_and_determinism(tiny_lm):
    settings = GenerationSettings(max_new_tokens=6, temperature=1.0, num_samples=3, seed=7)
    prompts = ["The cat", "Who is the mother of Trelka?"]
    first = tiny_lm.generate(prompts, settings)
    assert [len(s) for s in first] == [3, 3]
    assert first == tiny_lm.generate(prompts, settings)
    greedy = tiny_lm.generate(prompts, GenerationSettings(max_new_tokens=6))
    assert tiny_lm.generate(prompts, GenerationSettings(max_new_tokens=6, num_samples=2)) == [g * 2 for g in greedy]
    assert greedy == [tiny_lm.generate([p], GenerationSettings(max_new_tokens=6))[0] for p in prompts]


def test_generate_cuts_at_stop_strings(tiny_lm):
    text = tiny_lm.generate(["The cat"], GenerationSettings(max_new_tokens=8))[0][0]
    assert text
    stop = text[len(text) // 2 :]
    cut = tiny_lm.generate(["The cat"], GenerationSettings(max_new_tokens=8, stop=[stop]))[0][0]
    assert cut == text[: text.find(stop)]


def test_context_too_long_is_a_user_error(tiny_lm):
    with pytest.raises(UserError, match=r"tokens, but model .* accepts at most 512"):
        tiny_lm.score(REQUESTS[:1], context="blicket dax wug " * 400)


def test_count_tokens_and_max_length(tiny_lm):
    assert tiny_lm.count_tokens("") == 0
    assert tiny_lm.count_tokens("The cat sat") == len(tiny_lm.encode_segments(["The cat sat"])[0]) - 1
    assert tiny_lm.max_length == 512


def test_load_model_from_folder(tiny_model_dir):
    lm = load_model(ModelConfig(name=str(tiny_model_dir), device="cpu"))
    assert lm.tokenizer.convert_ids_to_tokens(lm.bos_id) == "<|endoftext|>"
    assert lm.dtype == torch.float32


@pytest.mark.parametrize("name", ["no-such-model", "./missing/folder/x/y"])
def test_unknown_model_is_a_user_error(name):
    with pytest.raises(UserError, match="smollm2-135m"):
        load_model(ModelConfig(name=name))


def test_unreachable_hub_id_is_a_user_error(monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)  # fail fast, no network retries
    with pytest.raises(UserError, match="no-such-org/no-such-model"):
        load_model(ModelConfig(name="no-such-org/no-such-model", device="cpu"))


def test_list_models_rows():
    from iclft.models.zoo import list_models

    rows = list_models()
    assert {r["name"] for r in rows} >= {"organism", "organism-wide", "smollm2-135m", "gemma3-270m"}
    assert all(set(r) == {"name", "package", "installed", "shipped", "cached", "description"} for r in rows)
    assert [r["name"] for r in rows if r["shipped"]] == ["organism", "organism-wide"]


@pytest.fixture
def tiny_gemma(tiny_model_dir, tmp_path):
    """A tiny Gemma 3 whose sliding window (8) is much shorter than the context."""
    import shutil

    from transformers import AutoTokenizer, Gemma3ForCausalLM, Gemma3TextConfig

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        sliding_window=8,
        layer_types=["sliding_attention", "full_attention"],
        max_position_embeddings=512,
    )
    torch.manual_seed(0)
    Gemma3ForCausalLM(config).save_pretrained(tmp_path)
    for f in tiny_model_dir.iterdir():
        if "token" in f.name:
            shutil.copy(f, tmp_path / f.name)
    return TransformersModel(tmp_path, device="cpu")


def test_sliding_window_models_score_exactly(tiny_gemma):
    lm = tiny_gemma
    for request, option_scores in zip(REQUESTS, lm.score(REQUESTS, CONTEXT)):
        for option, got in zip(request.options, option_scores):
            assert got.logprob == pytest.approx(uncached_logprob(lm, CONTEXT, request.prefix, option)[0], abs=1e-5)


@pytest.mark.parametrize("chunk", [3, 16])
@pytest.mark.parametrize("merge", [True, False], ids=["merged", "chunked"])
@pytest.mark.parametrize("model", ["llama", "gemma"])
def test_packs_attending_in_chunks_score_exactly(tiny_lm, tiny_gemma, monkeypatch, chunk, merge, model):
    """A pack's queries attend in chunks of `CHUNK` rows, each to the context and the pack columns
    it can see (iclft.models.pack_attention), on a CPU with the context part merged in by its
    log-sum-exp where every pack token sees the whole context; small chunks split the tiny packs."""
    from transformers.integrations import sdpa_attention

    import iclft.models.pack_attention as pack_attention

    lm = tiny_lm if model == "llama" else tiny_gemma
    monkeypatch.setattr(pack_attention, "CHUNK", chunk)
    monkeypatch.setattr(pack_attention, "MERGE_ON_CPU", merge)
    calls = {"chunked": 0, "merged": 0}
    plain, merged = sdpa_attention.sdpa_attention_forward, pack_attention._merged

    def count(kind, function):
        return lambda *a, **k: calls.__setitem__(kind, calls[kind] + 1) or function(*a, **k)

    monkeypatch.setattr(sdpa_attention, "sdpa_attention_forward", count("chunked", plain))
    monkeypatch.setattr(pack_attention, "_merged", count("merged", merged))
    scores = lm.score(REQUESTS, CONTEXT)
    if merge and model == "llama":
        assert calls["merged"] > 0 and calls["chunked"] == 0
    elif merge:  # Gemma's sliding layers hide part of the context: those chunk as usual
        assert calls["merged"] > 0 and calls["chunked"] > 0
    else:
        assert calls["merged"] == 0 and calls["chunked"] > lm.module.config.num_hidden_layers  # several per layer
    for request, option_scores in zip(REQUESTS, scores):
        for option, got in zip(request.options, option_scores):
            assert got.logprob == pytest.approx(uncached_logprob(lm, CONTEXT, request.prefix, option)[0], abs=1e-5)
    assert lm.module.config._attn_implementation == "sdpa"  # switched back after each pack
