import itertools
import time

import pytest

from iclft.benchmarks.lexicon import (
    edit_distance,
    english_words,
    is_english,
    nonsense_words,
    plural,
    pool_of,
)


@pytest.fixture(scope="module")
def words():
    return nonsense_words(400, seed=0)


def test_edit_distance():
    assert edit_distance("gorup", "gorup") == 0
    assert edit_distance("gorup", "gorap") == 1
    assert edit_distance("gorup", "gorups") == 1
    assert edit_distance("gorup", "orup") == 1
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance("ab", "ba") == 2


def test_plural():
    assert plural("gorup") == "gorups"
    assert plural("dalo") == "dalos"
    for word, expected in [
        ("blas", "blases"),
        ("frax", "fraxes"),
        ("gluz", "gluzes"),
        ("tesh", "teshes"),
        ("mech", "meches"),
    ]:
        assert plural(word) == expected


def test_same_seed_same_words_other_seed_other_words():
    assert nonsense_words(50, seed=3) == nonsense_words(50, seed=3)
    assert nonsense_words(50, seed=3) != nonsense_words(50, seed=4)


def test_shorter_list_is_a_prefix():
    assert nonsense_words(30, seed=5) == nonsense_words(60, seed=5)[:30]


def test_shape_of_words(words):
    assert len(words) == len(set(words)) == 400
    for word in words:
        assert 4 <= len(word) <= 5, word
        assert word.isalpha() and word.islower(), word
        assert any(v in word for v in "aeiou"), word


def test_words_and_plurals_are_not_english(words):
    english = english_words()
    assert len(english) > 200_000
    assert "dogs" in english and "table" in english  # the list is really loaded
    for word in words:
        assert word not in english, word
        assert word + "s" not in english, word
        assert plural(word) not in english, word


def test_is_english_catches_words_and_plurals():
    assert is_english("table")
    assert is_english("dog")  # "dog" and "dogs"
    assert is_english("ipod")  # from the extra list of modern words
    assert not is_english("gorup")


def test_min_distance_holds(words):
    for a, b in itertools.combinations(words, 2):
        assert edit_distance(a, b) >= 2, (a, b)


def test_larger_min_distance_holds():
    words = nonsense_words(150, seed=1, min_distance=3)
    for a, b in itertools.combinations(words, 2):
        assert edit_distance(a, b) >= 3, (a, b)


def test_pools_are_disjoint():
    test = nonsense_words(500, seed=0, pool="test")
    pretrain = nonsense_words(500, seed=0, pool="pretrain")
    assert not set(test) & set(pretrain)
    assert {pool_of(w) for w in test} == {"test"}
    assert {pool_of(w) for w in pretrain} == {"pretrain"}
    # The rule belongs to the word, not to the seed.
    assert all(pool_of(w) == "test" for w in nonsense_words(200, seed=99, pool="test"))


def test_exclude_is_respected_with_distance():
    first = nonsense_words(100, seed=2)
    more = nonsense_words(100, seed=2, exclude=first)
    assert not set(first) & set(more)
    for a in first:
        for b in more:
            assert edit_distance(a, b) >= 2, (a, b)


def test_impossible_requests_raise():
    with pytest.raises(ValueError):
        nonsense_words(10**6, seed=0)
    with pytest.raises(ValueError):
        nonsense_words(5, seed=0, pool="train")
    with pytest.raises(ValueError):
        nonsense_words(-1, seed=0)


def test_fast_enough():
    english_words()  # loading the word list is a one-off cost
    start = time.perf_counter()
    words = nonsense_words(1500, seed=7)
    assert len(words) == 1500
    assert time.perf_counter() - start < 2.0


def test_no_benchmark_uses_a_word_of_iclfts_own_prompt_text():
    """The augmentation templates' and the organism's tokenizer text's nonsense words ("kleps",
    "zorbs", "wugs"...) are never test-pool words, so no benchmark can contain one."""
    from iclft.benchmarks.lexicon import pool_of, reserved_words
    from iclft.benchmarks.reversal import make_reversal
    from iclft.benchmarks.semantic import make_semantic
    from iclft.benchmarks.syllogism import make_syllogism

    reserved = reserved_words()
    assert {"klep", "kleps", "zorbs", "wugs", "blickets"} <= reserved
    assert pool_of("klep") == "test"  # the leak this closes: a template word the test pool could draw
    drawn = set(nonsense_words(20000, seed=0, pool="test", min_distance=1))
    assert "klep" not in drawn and not {w for w in drawn if w in reserved or w + "s" in reserved}
    for seed in range(3):
        for bench in (make_reversal(seed=seed), make_syllogism(seed=seed), make_semantic(seed=seed)):
            nouns = {f[k] for f in bench.facts for k in ("a", "b") if k in f}
            nouns |= {w for f in bench.facts for w in f.get("terms", {}).values()}
            nouns |= {f["word"] for f in bench.facts if f.get("type") == "word"}
            assert nouns and all(pool_of(w.removesuffix("s")) == "test" or pool_of(w) == "test" for w in nouns)
            assert not {w for n in nouns for w in (n, n.removesuffix("s"))} & reserved, bench.name
