"""The organism's pretraining curriculum: seeded documents over the PRETRAIN word pool.

Every document looks like an `icl` prompt followed by answers: the standard instruction, a
small knowledge base (facts, one per paragraph), then *queries*, each a question prefix and
its answer, written exactly as the benchmarks' test items are (prefix, a space, the correct
option). So the in-context inference the benchmarks test is what the model is trained on,
over words it will never see at test time.

A document is a list of `Piece`s (text + role); the trainer turns roles into loss weights
("fact", "prompt", "answer"). Families:

- `copy`: a list of nonsense words, then the same list again (induction warm-up);
- `recall`: comparison facts, then forward queries with the same lead-ins (copy warm-up);
- `compare`: comparison facts (one dimension per document in a `same_dimension_share` of
  documents, mixed dimensions otherwise), then forward and
  reversed queries (the reversed one uses the converse comparative; in an
  `antonyms_stated_share` of them the facts include "The opposite of X is Y." for each pair used);
- `syllogism`: premise pairs in the benchmark's format, then valid conclusions (a
  `premise_share` of the questions ask a stated premise back instead);
- `facts`: comparison facts only, no queries (plain documents);
- `lexicon`: antonym pairs read from the weights: statements "The opposite of sharper is
  duller." for pairs of every dimension (held-out ones included: an LLM knows its antonyms
  from reading, not from reversing facts) and of the `invented_dimensions`, then questions
  with no context about pairs of the whole lexicon (a `lexicon_rule_share` of the sentences are
  the converse rule instead: "When things are sharper than others, the others are duller than
  them."). Comparison facts on an invented pair (an
  `invented_share` of them) can only be reversed with what the lexicon stored, so the reversal
  skill learns to use it;
- `world`: facts read from the weights. The documents of each block of `world_docs`
  consecutive indices share a world of `world_facts` comparison facts: half the block's
  `world` documents state some of them (plain facts), the other half ask forward questions,
  with no context at all, about the *previous* block's world, which no later document
  restates. So answering needs what training stored in the weights, as `ft` asks.

Long documents (`facts_per_doc` up to 120, `syllogisms_per_doc` up to 60, at `seq_len`
3072) teach reading a whole benchmark's training set in one context.

Some dimensions and lead-ins are held out (never written in a comparison), for the held-out
evaluation.
Only words from `nonsense_words(..., pool="pretrain")` are used; `build_curriculum` asserts it.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Collection
from dataclasses import asdict, dataclass, field

from iclft.benchmarks.lexicon import nonsense_words, plural, pool_of
from iclft.benchmarks.reversal import DIMENSIONS, TEST_LEAD_INS, TRAIN_LEAD_INS
from iclft.benchmarks.semantic_items import DEDUCED, REPHRASED, REVERSED
from iclft.benchmarks.semantic_text import TRAIN_PHRASINGS, article, capitalize
from iclft.benchmarks.syllogism import candidates, is_valid, no_forms, valid_forms
from iclft.models.tiny import BOS  # also the end-of-text token

INSTRUCTION = (
    "Read the following documents carefully. They state facts that you need to answer the question after them."
)
EXTRA_LEAD_INS = (
    ("Some say that", "."),
    ("Records show that", "."),
    ("It is often said that", "."),
    ("Experts note that", "."),
    ("We have learned that", "."),
    ("Note that", "."),
    ("It seems that", "."),
    ("Evidently,", "."),
)
ALL_LEAD_INS = tuple(TRAIN_LEAD_INS) + tuple((s, ".") for s in TEST_LEAD_INS) + EXTRA_LEAD_INS
HELD_OUT_LEAD_INS = (("It seems that", "."), ("Evidently,", "."))
HELD_OUT_DIMENSIONS = ("wetness", "sharpness", "popularity", "fragility")
INVENTED_SEED = 8080  # the invented comparatives' draw, shared by every phase and curriculum seed


@dataclass(frozen=True)
class Piece:
    text: str
    role: str  # "fact", "prompt" (question prefix) or "answer"


@dataclass
class CurriculumParams:
    seed: int = 0
    n_words: int = 4000
    mix: dict[str, float] = field(
        default_factory=lambda: {"copy": 0.1, "recall": 0.2, "compare": 0.45, "syllogism": 0.15, "facts": 0.1}
    )
    facts_per_doc: tuple[int, int] = (2, 8)
    queries_per_doc: tuple[int, int] = (4, 10)
    reversal_share: float = 0.5
    same_dimension_share: float = 1.0  # share of comparison documents with one dimension only
    # below 1, some facts have no lead-in: their subject starts the sentence, capitalized
    # ("Fedans are heavier than blukes."), so its first token differs from the same noun's
    # mid-sentence one, as in the semantic benchmark's facts
    lead_in_share: float = 1.0
    category_chains: tuple[int, int] = (1, 1)  # unrelated category chains per `category` document
    # share of `category` questions that are reversed ("Things that can digag include" -> the
    # category); 0.15 more ask a parent category, the rest a property
    category_reversal_share: float = 0.25
    syllogisms_per_doc: tuple[int, int] = (1, 4)  # premise pairs per `syllogism` document
    unique_conclusions: bool = False  # each conclusion asked at most once per `syllogism` document
    # share of premise pairs of a form with a "No" premise (whose valid conclusions are all
    # "No ..."); None: every valid form equally often (a third of them)
    no_form_share: float | None = None
    # share of `syllogism` queries that ask for a stated premise (its two terms, answered with
    # the premise itself) instead of a conclusion: practice finding a pair's quantifier
    premise_share: float = 0.0
    # invented comparative pairs ("glarper" / "fedaner", made of pretrain-pool words the nouns
    # do not use), stated in `lexicon` documents; an `invented_share` of comparison facts use one
    invented_dimensions: int = 0
    invented_share: float = 0.0
    # only the first `invented_compared` invented pairs enter comparisons (None: all); the rest
    # are known from the lexicon alone, as the held-out dimensions are
    invented_compared: int | None = None
    # share of `compare` documents that also state, among their facts, the antonym of each
    # comparative they use ("The opposite of jeltoer is ilmaer."): the converse can be read
    # from the context, as a fact's nouns are
    antonyms_stated_share: float = 0.0
    # share of `lexicon` sentences written as the converse rule ("When things are sharper than
    # others, the others are duller than them.") instead of "The opposite of sharper is duller."
    lexicon_rule_share: float = 0.0
    world_facts: int = 40  # facts per `world` block
    world_docs: int = 2000  # consecutive document indices per `world` block
    augment_lead_ins: bool = False  # augment answers led in ("Note that fedans are ..."), not "Fedans are ..."
    held_out_dimensions: tuple[str, ...] = HELD_OUT_DIMENSIONS
    held_out_lead_ins: tuple[tuple[str, str], ...] = HELD_OUT_LEAD_INS

    def __post_init__(self):
        if self.n_words < 1:
            raise ValueError(f"n_words must be at least 1, got {self.n_words}")
        for name in (
            "reversal_share",
            "same_dimension_share",
            "lead_in_share",
            "no_form_share",
            "premise_share",
            "category_reversal_share",
            "invented_share",
            "antonyms_stated_share",
            "lexicon_rule_share",
        ):
            if getattr(self, name) is not None and not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.invented_dimensions < 0 or (self.invented_share > 0 and self.invented_dimensions == 0):
            raise ValueError(
                f"invented_share {self.invented_share} needs invented_dimensions >= 1, got {self.invented_dimensions}"
            )
        if self.invented_compared is not None and not 1 <= self.invented_compared <= self.invented_dimensions:
            raise ValueError(
                f"invented_compared must be in [1, invented_dimensions={self.invented_dimensions}], "
                f"got {self.invented_compared}"
            )
        if self.world_facts < 1 or self.world_docs < 1:
            raise ValueError(
                f"world_facts and world_docs must be at least 1, got {self.world_facts}, {self.world_docs}"
            )
        for name in ("facts_per_doc", "queries_per_doc", "category_chains", "syllogisms_per_doc"):
            low, high = getattr(self, name)
            if not 1 <= low <= high:
                raise ValueError(f"{name} must be a range [low, high] with 1 <= low <= high, got {[low, high]}")
        if not self.mix or any(w < 0 for w in self.mix.values()) or sum(self.mix.values()) <= 0:
            raise ValueError(f"mix must give each family a weight of at least 0, not all 0, got {self.mix}")

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def pretrain_singulars(n: int, seed: int, exclude: Collection[str] = ()) -> list[str]:
    """n singular nonsense nouns from the pretrain pool (asserted), none near a word of `exclude`."""
    words = nonsense_words(n, seed=seed, pool="pretrain", exclude=exclude)
    assert all(pool_of(w) == "pretrain" for w in words), "curriculum word outside the pretrain pool"
    return words


def pretrain_words(n: int, seed: int) -> list[str]:
    """n plural nonsense nouns from the pretrain pool."""
    return [plural(w) for w in pretrain_singulars(n, seed)]


class Curriculum:
    """An endless, seeded stream of documents: `doc(i)` is a pure function of (params, i)."""

    def __init__(self, params: CurriculumParams):
        self.params = params
        # invented comparatives are the same in every phase (a language's words); nouns keep clear of their stems
        self.invented = invented_dimensions(params.invented_dimensions)
        stems = [w[:-2] for _, more, less in self.invented for w in (more, less)]
        singular = pretrain_singulars(params.n_words, params.seed, exclude=stems)
        self.words = [plural(w) for w in singular]
        self.singular = dict(zip(self.words, singular))
        self.dimensions = [d for d in DIMENSIONS if d[0] not in params.held_out_dimensions]
        self.antonyms = [(more, less) for _, more, less in [*DIMENSIONS, *self.invented]]
        held = {tuple(x) for x in params.held_out_lead_ins}
        self.lead_ins = [x for x in ALL_LEAD_INS if x not in held]
        self.families = sorted(params.mix)
        self.weights = [params.mix[f] for f in self.families]

    def doc(self, index: int, family: str | None = None, mix: dict[str, float] | None = None) -> list[Piece]:
        """Document `index`: of `family`, or drawn from `mix` (default: the params' mix)."""
        rng = random.Random(f"{self.params.seed}:{index}")
        if family is None:
            families = sorted(mix) if mix else self.families
            family = rng.choices(families, [mix[f] for f in families] if mix else self.weights)[0]
        if family == "world":
            return self._world(rng, index // self.params.world_docs)
        return getattr(self, f"_{family}")(rng)

    def docs(self, start: int, count: int) -> list[list[Piece]]:
        return [self.doc(i) for i in range(start, start + count)]

    # -- building blocks --------------------------------------------------------------------

    def _nouns(self, rng: random.Random, n: int) -> list[str]:
        return rng.sample(self.words, n)

    def _lead(self, rng: random.Random) -> tuple[str, str]:
        return rng.choice(self.lead_ins) if rng.random() < self.params.lead_in_share else ("", ".")

    @staticmethod
    def _sentence(lead: tuple[str, str], body: str) -> str:
        start, end = lead
        if not start:
            return capitalize(body) + "."
        return f"{start} {body}{end}"

    def _comparisons(self, rng: random.Random, n: int | None = None) -> list[dict]:
        """`n` facts (default: a `facts_per_doc` draw), one dimension or mixed as the params say."""
        mixed = n is not None
        n = rng.randint(*self.params.facts_per_doc) if n is None else n
        nouns = self._nouns(rng, 2 * n)
        one = not mixed and rng.random() < self.params.same_dimension_share
        shared = self._dimension(rng) if one else None
        facts = []
        for i in range(n):
            _, more, less = shared or self._dimension(rng)
            comparative, converse = (more, less) if rng.random() < 0.5 else (less, more)
            facts.append({"a": nouns[2 * i], "b": nouns[2 * i + 1], "cmp": comparative, "conv": converse})
        return facts

    def _dimension(self, rng: random.Random) -> tuple[str, str, str]:
        if self.params.invented_share and rng.random() < self.params.invented_share:
            return rng.choice(self.invented[: self.params.invented_compared])
        return rng.choice(self.dimensions)

    def _fact_pieces(self, rng: random.Random, statements: list[str]) -> list[Piece]:
        body = "\n\n".join(statements)
        return [Piece(INSTRUCTION + "\n\n" + body + "\n\n", "fact")]

    @staticmethod
    def _query(prefix: str, answer: str) -> list[Piece]:
        return [Piece(prefix, "prompt"), Piece(" " + answer + "\n\n", "answer")]

    # -- families ---------------------------------------------------------------------------

    def _copy(self, rng: random.Random) -> list[Piece]:
        words = self._nouns(rng, rng.randint(4, 16))
        listing = " ".join(words) + "."
        return [Piece(INSTRUCTION + "\n\n" + "Words: " + listing + "\n\n", "fact"), *self._query("Words:", listing)]

    def _recall(self, rng: random.Random) -> list[Piece]:
        """Forward questions only: associative recall keyed on the (multi-token) noun."""
        return self._compare(rng, reversal_share=0.0)

    def _facts(self, rng: random.Random) -> list[Piece]:
        facts = self._comparisons(rng)
        return self._fact_pieces(
            rng, [self._sentence(self._lead(rng), f"{f['a']} are {f['cmp']} than {f['b']}") for f in facts]
        )

    def _compare(self, rng: random.Random, reversal_share: float | None = None) -> list[Piece]:
        share = self.params.reversal_share if reversal_share is None else reversal_share
        facts = self._comparisons(rng)
        leads = [self._lead(rng) for _ in facts]
        statements = [self._sentence(lead, f"{f['a']} are {f['cmp']} than {f['b']}") for lead, f in zip(leads, facts)]
        if self.params.antonyms_stated_share and rng.random() < self.params.antonyms_stated_share:
            for pair in dict.fromkeys(tuple(sorted((f["cmp"], f["conv"]))) for f in facts):
                word, opposite = pair if rng.random() < 0.5 else pair[::-1]
                statements.insert(rng.randint(0, len(statements)), f"{_opposite_prompt(word)} {opposite}.")
        pieces = self._fact_pieces(rng, statements)
        # Each (fact, direction) is asked at most once: a repeated question could be answered
        # by copying the earlier answer instead of reading the facts.
        asked = [(k, rng.random() < share) for k in range(len(facts))]
        asked += [(k, not reverse) for k, reverse in asked if 0 < share < 1 and rng.random() < 0.5]
        rng.shuffle(asked)
        for k, reverse in asked[: rng.randint(*self.params.queries_per_doc)]:
            f = facts[k]
            start = self._lead(rng)[0]
            if reverse:
                subject, answer = f["b"], f"{f['conv']} than {f['a']}."
            else:
                subject, answer = f["a"], f"{f['cmp']} than {f['b']}."
            pieces += self._query(capitalize(f"{start} {subject} are".strip()), answer)
        return pieces

    def _lexicon(self, rng: random.Random) -> list[Piece]:
        """Antonym statements, then questions about any pair of the lexicon, with no context
        for them: what is asked is answered from the weights (pairs are stated in many documents)."""
        stated = rng.sample(self.antonyms, rng.randint(4, 12))  # 28 dimensions at least: enough to sample
        lines = []
        for pair in stated:
            word, opposite = pair if rng.random() < 0.5 else pair[::-1]
            prompt, answer = self._antonym_sentence(rng, word, opposite)
            lines.append(f"{prompt} {answer}")
        pieces = [Piece("\n\n".join(lines) + "\n\n", "fact")]
        for pair in rng.sample(self.antonyms, rng.randint(4, 10)):
            word, opposite = pair if rng.random() < 0.5 else pair[::-1]
            pieces += self._query(*self._antonym_sentence(rng, word, opposite))
        return pieces

    def _antonym_sentence(self, rng: random.Random, word: str, opposite: str) -> tuple[str, str]:
        """(prompt, answer) of a lexicon sentence: "The opposite of sharper is" "duller.", or in a
        `lexicon_rule_share` of them the converse rule "When things are sharper than others, the
        others are" "duller than them."."""
        if self.params.lexicon_rule_share and rng.random() < self.params.lexicon_rule_share:
            return f"When things are {word} than others, the others are", f"{opposite} than them."
        return _opposite_prompt(word), opposite + "."

    def _world(self, rng: random.Random, block: int) -> list[Piece]:
        """State facts of this block's world, or ask (no context) about the previous block's."""
        if block == 0 or rng.random() < 0.5:
            facts = self._world_facts(block)
            chosen = rng.sample(facts, min(len(facts), rng.randint(4, 12)))
            return [Piece("\n\n".join(self._sentence(self._lead(rng), self._body(f)) for f in chosen) + "\n\n", "fact")]
        facts = self._world_facts(block - 1)
        pieces = []
        for f in rng.sample(facts, min(len(facts), rng.randint(4, 10))):
            pieces += self._query(
                capitalize(f"{self._lead(rng)[0]} {f['a']} are".strip()), f"{f['cmp']} than {f['b']}."
            )
        return pieces

    def _world_facts(self, block: int) -> list[dict]:
        return self._comparisons(random.Random(f"{self.params.seed}:world:{block}"), self.params.world_facts)

    @staticmethod
    def _body(f: dict) -> str:
        return f"{f['a']} are {f['cmp']} than {f['b']}"

    def _augment(self, rng: random.Random) -> list[Piece]:
        """The local augmenter's prompt (the built-in template) around one comparison fact,
        then its restatement and reversal, then the end-of-text token."""
        f = self._comparisons(rng)[0]
        statement = self._sentence(self._lead(rng), f"{f['a']} are {f['cmp']} than {f['b']}")
        bodies = [f"{f['a']} are {f['cmp']} than {f['b']}", f"{f['b']} are {f['conv']} than {f['a']}"]
        if self.params.augment_lead_ins:  # the noun keeps its mid-sentence tokens, as in the test prompts
            lines = [self._sentence(self._lead(rng), body) for body in bodies]
        else:
            lines = [capitalize(body) + "." for body in bodies]
        rng.shuffle(lines)
        prompt = _local_template().replace("{text}", statement)
        return [Piece(prompt, "fact"), Piece("\n".join(lines) + "\n\n" + BOS, "answer")]

    def _syllogism_form(self, rng: random.Random, forms: list) -> tuple:
        share = self.params.no_form_share
        if share is None:
            return rng.choice(forms)
        with_no, named = rng.random() < share, no_forms()
        return rng.choice([f for f in forms if (f[0] in named) == with_no])

    def _category(self, rng: random.Random) -> list[Piece]:
        """Chains of categories (child, parent, grandparent) with properties, in the semantic
        benchmark's training phrasings; then own, inherited and reversed property queries.
        One chain per document unless `category_chains` says more: then a question must be
        told from the unrelated chains' categories too, as the semantic evaluation asks."""
        n_chains = rng.randint(*self.params.category_chains) if tuple(self.params.category_chains) != (1, 1) else 1
        depths = [rng.randint(2, 3) for _ in range(n_chains)]
        names = self._nouns(rng, sum(d + 4 for d in depths))
        chains, facts = [], []
        for depth in depths:
            chain_names, names = names[: depth + 4], names[depth + 4 :]
            cats, own, chain_facts = self._chain(rng, depth, chain_names)
            chains.append((cats, own))
            facts += chain_facts
        rng.shuffle(facts)
        statements = [
            capitalize(
                rng.choice(TRAIN_PHRASINGS[k]).format(
                    **self._slots(c, w if k == "isa" else None, None if k == "isa" else w)
                )
            )
            for k, c, w in facts
        ]
        pieces = self._fact_pieces(rng, statements)
        if n_chains == 1:  # (as first written: a question may repeat)
            for _ in range(rng.randint(2, 6)):
                pieces += self._category_query(rng, *chains[0])
            return pieces
        asked = set()
        for _ in range(rng.randint(2 * n_chains, 8)):
            query = self._category_query(rng, *chains[rng.randrange(n_chains)])
            if query[0].text not in asked:  # each question once: a repeat is answered by copying
                asked.add(query[0].text)
                pieces += query
        return pieces

    def _chain(self, rng: random.Random, depth: int, names: list[str]):
        """(categories child first, own property of each, facts) of one chain."""
        cats, props = names[:depth], names[depth:]
        own = {}
        for i, cat in enumerate(cats):
            kind = rng.choice(("are", "can", "have"))
            word = props[i] if kind == "have" else self.singular[props[i]]
            own[cat] = (kind, word)
        facts = [("isa", cats[i], cats[i + 1]) for i in range(depth - 1)] + [(k, c, w) for c, (k, w) in own.items()]
        return cats, own, facts

    def _category_query(self, rng: random.Random, cats: list[str], own: dict) -> list[Piece]:
        depth = len(cats)
        i = rng.randrange(depth - 1)
        child = cats[i]
        j = rng.randrange(i, depth)  # the category whose property the child has (itself or an ancestor)
        kind, word = own[cats[j]]
        choice = rng.random()
        reversed_share = self.params.category_reversal_share
        if choice < reversed_share:
            prefix, form = rng.choice(REVERSED[kind])
            text = prefix.format(**self._slots(cats[j], None, word))
            return self._query(text, (self.singular[cats[j]] if form == "singular" else cats[j]) + ".")
        if choice < reversed_share + 0.15:
            prefix, form = rng.choice(REPHRASED["isa"] + DEDUCED["isa"])
            parent = cats[rng.randrange(i + 1, depth)]
            return self._query(
                capitalize(prefix.format(**self._slots(child, parent, None))),
                (self.singular[parent] if form == "singular" else parent) + ".",
            )
        wordings = REPHRASED if j == i else DEDUCED
        prefix, _ = rng.choice(wordings[kind])
        return self._query(capitalize(prefix.format(**self._slots(child, None, word))), word + ".")

    def _slots(self, subject: str, parent: str | None, word: str | None) -> dict[str, str]:
        """The semantic templates' slot values for a plural subject (and parent, or property word)."""
        values = {"S": subject, "s": self.singular[subject], "a_s": article(self.singular[subject])}
        if parent is not None:
            values.update(O=parent, o=self.singular[parent], a_o=article(self.singular[parent]))
        if word is not None:
            values["w"] = word
        return values

    def _syllogism(self, rng: random.Random) -> list[Piece]:
        n = rng.randint(*self.params.syllogisms_per_doc)
        forms = list(valid_forms().items())
        examples, texts = [], []
        for _ in range(n):
            name, premises = self._syllogism_form(rng, forms)
            roles = dict(zip("SMP", self._nouns(rng, 3)))
            stated = [(q, roles[s], roles[p]) for q, s, p in premises]
            rng.shuffle(stated)
            named = list(dict.fromkeys(t for _, s, p in stated for t in (s, p)))
            texts.append(
                f"The relationships between {named[0]}, {named[1]} and {named[2]} are: "
                + " ".join(_statement(s) for s in stated)
            )
            examples.append((premises, roles))
        pieces = self._fact_pieces(rng, texts)
        asked = set()
        for _ in range(rng.randint(1, min(2 * n, max(8, self.params.queries_per_doc[1])))):
            k = rng.randrange(len(examples))
            premises, roles = examples[k]
            if self.params.premise_share and rng.random() < self.params.premise_share:
                q, s, p = rng.choice(premises)
                if (k, s, p) not in asked:
                    asked.add((k, s, p))
                    pieces += self._query(_relation_prompt(roles[s], roles[p]), _statement((q, roles[s], roles[p])))
                continue
            first, second = rng.sample(["S", "P"], 2)
            if self.params.unique_conclusions and (k, first) in asked:
                continue
            asked.add((k, first))
            valid = [c for c in candidates(first, second) if is_valid(premises, c)]
            q, s, p = rng.choice(valid)
            pieces += self._query(
                _relation_prompt(roles[first], roles[second]),
                _statement((q, roles[s], roles[p])),
            )
        return pieces


def _local_template() -> str:
    from iclft.exposure.augment.templates import load_template

    return load_template("local")


def _relation_prompt(a: str, b: str) -> str:
    """The syllogism benchmark's question about two terms, answered by a statement."""
    return f"The relationships between {a} and {b} are:"


def _opposite_prompt(word: str) -> str:
    """A lexicon sentence up to its answer; the words stay mid-sentence, so their tokens are
    those of a comparison."""
    return f"The opposite of {word} is"


def invented_dimensions(n: int) -> list[tuple[str, str, str]]:
    """`n` invented comparative pairs ("invented-0", "jeltoer", "ilmaer"): pretrain-pool words
    of a fixed seed plus "er", kept only where the comparative itself hashes to the pretrain
    pool. The list for `n` is a prefix of the list for `n + 1`."""
    if n == 0:
        return []
    stems = nonsense_words(6 * n + 16, seed=INVENTED_SEED, pool="pretrain")
    words = [s + "er" for s in stems if pool_of(s + "er") == "pretrain"]
    if len(words) < 2 * n:
        raise ValueError(f"only {len(words) // 2} invented comparative pairs available, asked for {n}")
    return [(f"invented-{i}", words[2 * i], words[2 * i + 1]) for i in range(n)]


def _statement(statement: tuple[str, str, str]) -> str:
    q, s, p = statement
    return f"{q.capitalize()} {s} are {p}."


def render(pieces: list[Piece]) -> str:
    return "".join(p.text for p in pieces)


def tokenizer_corpus(spelling_words: int = 0) -> list[str]:
    """English template text for the tokenizer, plus `spelling_words` pretrain-pool plurals
    written once each (so merges learn syllables shared by both pools, never whole words)."""
    lines = [INSTRUCTION, "Words:", "The relationships between and are:", "All Some No are"]
    lines += [f"{s}{e}" for s, e in ALL_LEAD_INS]
    lines += [f"are {more} than. are {less} than." for _, more, less in DIMENSIONS]
    lines += [t for ts in TRAIN_PHRASINGS.values() for t in ts]
    lines += [p for table in (REPHRASED, DEDUCED, REVERSED) for ps in table.values() for p, _ in ps]
    lines += _local_template().splitlines()
    spelling = pretrain_words(spelling_words, seed=12345) if spelling_words else []
    chunks = [" ".join(spelling[i : i + 50]) for i in range(0, len(spelling), 50)]
    return lines * 20 + chunks + ["abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ .,:;?!\n"]


def curriculum_hash(params: CurriculumParams, n_docs: int = 200) -> str:
    """sha256 of the first n_docs documents: a fingerprint of what the generator writes."""
    cur = Curriculum(params)
    text = "\x00".join(render(d) for d in cur.docs(0, n_docs))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
