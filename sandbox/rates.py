"""Rate cards with effective dates: the catalog's rates plus the mid-period Partner raise.

The PSA seeds its rate cards from RATE_LINES; everyone who prices time uses rate_for.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sandbox import catalog

PARTNER_RATE_CHANGE = date(2026, 10, 16)
"""The STD-*-2026 cards raise the Partner rate from this day (USD 450 -> 475)."""


@dataclass(frozen=True)
class RateLine:
    role: str
    rate: Decimal
    effective_from: date | None = None
    effective_to: date | None = None


def _rate_lines() -> dict[str, tuple[RateLine, ...]]:
    cards: dict[str, tuple[RateLine, ...]] = {}
    for code, (_, _, rates) in catalog.RATE_CARDS.items():
        lines: list[RateLine] = []
        for role, rate in rates.items():
            if role == "Partner" and code.startswith("STD-") and code.endswith("-2026"):
                raised = (rate * 475 / 450).quantize(Decimal("1"))
                lines.append(RateLine(role, rate, None, PARTNER_RATE_CHANGE - timedelta(days=1)))
                lines.append(RateLine(role, raised, PARTNER_RATE_CHANGE, None))
            else:
                lines.append(RateLine(role, rate))
        cards[code] = tuple(lines)
    return cards


RATE_LINES = _rate_lines()
"""Every catalog rate card's rates with their effective dates; the PSA seeds these."""


def rate_for(card: str, role: str, day: date) -> Decimal | None:
    """The card's rate for the role on that day, or None when it has none."""
    for line in RATE_LINES.get(card, ()):
        if line.role != role:
            continue
        if (line.effective_from or day) <= day <= (line.effective_to or day):
            return line.rate
    return None
