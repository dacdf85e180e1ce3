"""What the census finds wrong: a record lost, duplicated or orphaned."""

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    LOST = "lost"
    """A record the outcome promises is missing (or does not say what it should)."""
    DUPLICATED = "duplicated"
    """More records than the outcome makes (two live projects for one deal, say)."""
    ORPHANED = "orphaned"
    """A record with no live run and no undo: left by a run that did not complete."""


@dataclass(frozen=True)
class Finding:
    kind: Kind
    record: str
    """What kind of record, in the system's words: "ERP job", "PSA project", ..."""
    key: str
    """The business key it belongs to (opportunity, entry, project/period)."""
    detail: str


def count(findings: list[Finding], kind: Kind) -> int:
    return sum(1 for f in findings if f.kind is kind)


def by_record(findings: list[Finding], kind: Kind) -> str:
    """ "2 PSA project, 1 ERP job": what the findings of a kind are, most first."""
    records = Counter(f.record for f in findings if f.kind is kind)
    return ", ".join(f"{n} {record}" for record, n in records.most_common())
