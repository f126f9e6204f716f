"""A tiny random Llama with a real byte-level BPE tokenizer, for fast tests (no downloads).

`build_tiny_model(folder)` writes a normal transformers model folder (config.json,
model.safetensors, tokenizer files) that any code path loading a real model can load.
Same seed, same weights and tokenizer.
"""

from __future__ import annotations

from pathlib import Path

BOS = "<|endoftext|>"
PAD = "<|pad|>"

_ENGLISH = """\
The cat sat on the mat. A dog ran in the park. She read a book about the history of the city.
He is taller than his brother. The river flows to the sea. Birds fly south in the winter.
Every morning the baker makes fresh bread. The teacher asked a question and the student answered.
Is the sun bigger than the moon? Yes, the sun is bigger. Which one is older, the tree or the house?
Read the following documents carefully. They state facts that you need to answer the question.
The capital of the country is a large city. Water is wet and fire is hot. One, two, three, four.
All of the people in the room were happy. None of the answers was wrong. Some are red, some blue.
"""

_NONSENSE = """\
The blicket is larger than the dax. Every wug is a fep. Zorblat was born in Quenville.
The mother of Trelka is Vossina. Glimmet is smaller than the tove. No snark is a boojum.
Prindle wrote the book Kavorian Nights. Flimbo lives in Drastenburg. The gorp is bigger than the zib.
Who is the mother of Trelka? Vossina. Is the dax smaller than the blicket? Yes.
"""


def _corpus() -> list[str]:
    lines = (_ENGLISH + _NONSENSE).splitlines()
    # texts ending in a blank line teach the merged "\n\n" token that real tokenizers have, which
    # the running text of a context never produces (the tokenization-rule tests need it)
    paragraphs = ["The gorp is bigger than the zib.\n\n", "Read the documents.\n\n"] * 3
    return [line for line in lines for _ in range(3)] + paragraphs + ["0123456789 .,;:!?'\"()-"]


def byte_level_bpe(texts, vocab_size: int, folded: bool = False):
    """A byte-level BPE tokenizer trained on `texts` (`vocab_size` counts bytes, merges and the
    start/pad tokens), wrapped for transformers. Deterministic for the same texts.

    `folded`: a word's tokens do not depend on its case or on a plural "s". Each capital letter
    is written as a marker, a space and the small letter ("Etuls" is read as "^ etuls"), and a
    word-final "s" after a letter is its own token, so "Etuls", " etuls" and " etul" share the
    tokens of " etul". Decoding restores the text."""
    import string

    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    if folded:
        capitals = string.ascii_uppercase
        tok.normalizer = normalizers.Sequence([normalizers.Replace(c, f"^ {c.lower()}") for c in capitals])
        plural_s = pre_tokenizers.Split(Regex(r"(?<=[a-z])s\b"), "isolated")
        tok.pre_tokenizer = pre_tokenizers.Sequence([plural_s, tok.pre_tokenizer])
        unfold = [decoders.Replace(f"^ {c.lower()}", c) for c in capitals]
        tok.decoder = decoders.Sequence([decoders.ByteLevel(), decoders.Fuse(), *unfold])
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[BOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=BOS, pad_token=PAD, unk_token=None)


def small_llama(
    tokenizer,
    width: int,
    layers: int,
    heads: int,
    kv_heads: int,
    mlp: int,
    max_length: int,
    seed: int,
    init_std: float = 0.02,
):
    """A randomly initialized Llama with tied embeddings over `tokenizer`'s vocabulary."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=width,
        intermediate_size=mlp,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=max_length,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        initializer_range=init_std,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def build_tiny_model(folder: str | Path, seed: int = 0, vocab_size: int = 600, max_length: int = 512) -> Path:
    """Write a tiny random-init Llama + BPE tokenizer to `folder`; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = byte_level_bpe(_corpus(), vocab_size)
    tokenizer.model_max_length = max_length
    model = small_llama(tokenizer, width=64, layers=2, heads=4, kv_heads=2, mlp=128, max_length=max_length, seed=seed)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
