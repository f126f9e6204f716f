"""What an augmenter produces."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Augmentation:
    """Statements written for one source: a document ("d00012"), or a fact ("fact:f003").

    One augmentation is one generation (or one oracle statement); its statements, one per
    line, form one training document that sentence splitting then treats like any other.
    """

    method: str  # local, global or oracle
    source: str
    fact_ids: tuple[str, ...]
    sample: int
    statements: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.statements)

    def record(self) -> dict:
        return {
            "method": self.method,
            "source": self.source,
            "fact_ids": list(self.fact_ids),
            "sample": self.sample,
            "statements": list(self.statements),
        }
