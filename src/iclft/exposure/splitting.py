"""Sentence splitting of training documents (docs/study.md, "Augmentation").

    none         one example per document, loss on all of it
    independent  one example per sentence, loss on all of it
    cumulative   one example per sentence, its document's earlier text as unscored context

What counts as a sentence, for the styles the benchmarks write:

- a heading (a line that does not end in . ? ! or :) is not a sentence; it is dropped by
  `independent` and is context for the sentences after it under `cumulative`;
- a list marker ("- ", "* ", "3. ") is not part of the sentence;
- a question stays together with the sentence after it, its answer ("Q: ...?\nA: ...",
  "Question: who is ...? Answer: ...", "Ever heard of X? They're ...");
- a lead ending in a colon ("The relationships between A, B and C are: All A are B. ...")
  introduces every sentence after it on that line: `independent` puts it in front of each of
  them, `cumulative` keeps it in the context;
- a sentence ends at . ? or ! (and closing quotes or brackets after it) followed by space and
  an upper-case letter, a digit or a quote; common abbreviations ("Dr.", "e.g.") do not end one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from iclft.models.base import TrainExample

SPLIT_MODES = ("none", "independent", "cumulative")

BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
SENTENCE_END = re.compile(r"[.?!][\"'”’)\]]*(?=\s+[\"'“‘(A-Z0-9])")
LINE_END = re.compile(r"[.?!:][\"'”’)\]]*\s*$")
LEAD = re.compile(r"^([^.?!:]{12,}:)\s+(?=[\"'“‘A-Z0-9])")
QUESTION_END = re.compile(r"\?[\"'”’)\]]*$")
ABBREVIATIONS = {"dr", "mr", "mrs", "ms", "st", "prof", "e.g", "i.e", "etc", "vs", "no", "jr", "sr", "mt"}


@dataclass(frozen=True)
class Unit:
    """One sentence (or question-answer pair) of a document.

    `start` is where its text begins in the document (after any list marker or lead);
    `text` is what independent splitting trains on (the lead, if any, in front).
    """

    start: int
    end: int
    text: str


def sentence_units(text: str) -> list[Unit]:
    """The sentences of `text`, in order (see the module docstring for the rules)."""
    units: list[Unit] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        units += _line_units(line.rstrip("\r\n"), offset)
        offset += len(line)
    return _join_questions_to_answers(units, text)


def split_sentences(text: str) -> list[str]:
    """The sentences of `text` as independent splitting trains on them."""
    return [unit.text for unit in sentence_units(text)]


def split_document(text: str, mode: str) -> list[TrainExample]:
    """The training examples of one document under splitting `mode`."""
    if mode not in SPLIT_MODES:
        raise ValueError(f"unknown split mode {mode!r} (known: {', '.join(SPLIT_MODES)})")
    units = sentence_units(text)
    if mode == "none" or not units:
        return [TrainExample(text)] if text.strip() else []
    if mode == "independent":
        return [TrainExample(unit.text) for unit in units]
    return [TrainExample(text[unit.start : unit.end], _context_before(text, unit.start)) for unit in units]


def _context_before(text: str, start: int) -> str:
    """The document up to `start`: trailing spaces go (the tokenization rule puts one back),
    a trailing line break stays (so the sentence is tokenized as at the start of a line)."""
    before = text[:start]
    stripped = before.rstrip()
    gap = before[len(stripped) :]
    return before if "\n" in gap else stripped


def _line_units(line: str, offset: int) -> list[Unit]:
    body_start = len(line) - len(line.lstrip())
    marker = BULLET.match(line)
    if marker:
        body_start = marker.end()
    body = line[body_start:].rstrip()
    if not body or not LINE_END.search(body):
        return []  # blank line or heading
    lead = ""
    match = LEAD.match(body)
    if match and not re.match(r"^[QA]:", body):
        lead = match.group(1)
        body_start += match.end()
        body = line[body_start:].rstrip()
    units = []
    for start, end in _sentence_spans(body):
        sentence = body[start:end]
        units.append(
            Unit(offset + body_start + start, offset + body_start + end, f"{lead} {sentence}" if lead else sentence)
        )
    return units


def _sentence_spans(body: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for match in SENTENCE_END.finditer(body):
        word = re.search(r"([\w.]+)[.?!]$", body[start : match.start() + 1])
        if body[match.start()] == "." and word and word.group(1).lower() in ABBREVIATIONS:
            continue
        spans.append((start, match.end()))
        start = match.end() + len(body[match.end() :]) - len(body[match.end() :].lstrip())
    if body[start:].strip():
        spans.append((start, len(body)))
    return spans


def _join_questions_to_answers(units: list[Unit], text: str) -> list[Unit]:
    """A unit ending in a question mark and the unit after it become one unit spanning both."""
    out: list[Unit] = []
    for unit in units:
        if out and QUESTION_END.search(out[-1].text) and not QUESTION_END.search(unit.text):
            question = out.pop()
            out.append(Unit(question.start, unit.end, text[question.start : unit.end]))
        else:
            out.append(unit)
    return out
