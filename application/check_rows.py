"""One row of `psflow systems check`: what was checked in which system, and what was found
or what to do about it."""

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Check:
    """One row: `detail` is what was found when `ok`, else what to do about it."""

    system: str
    check: str
    ok: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


Checks = list[Check]
