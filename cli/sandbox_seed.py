"""What `psflow sandbox seed` asks and shows: the default period, the option checks, and the
systems' answers as a table or JSON."""

import re
from datetime import date, timedelta
from typing import Any

import typer
from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from cli.sandbox_admin import Seeded, System
from models.billing import check_period

# The systems a volume seed fills, in the order the table shows them.
SEED_SYSTEMS = [System.PSA, System.ERP, System.CRM]
Row = tuple[str, str]


def previous_month(today: date | None = None) -> str:
    """The calendar month before today's, as YYYY-MM."""
    first = (today or date.today()).replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def check_period_option(value: str | None) -> str | None:
    """--period as a month written YYYY-MM; anything else is a usage error naming the option."""
    try:
        return None if value is None else check_period(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def as_json(result: Seeded) -> dict[str, Any]:
    """One system's answer for --json."""
    return {
        "system": result.system.value,
        "counts": result.counts,
        "seconds": round(result.seconds, 3),
        "error": result.error,
    }


def _label(key: str) -> str:
    """time_entries or timeEntries -> time entries."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", key).replace("_", " ").lower()


def _count_rows(counts: dict[str, Any], echo: dict[str, Any], prefix: str = "") -> list[Row]:
    """(what, how many) rows of an answer's counts, nested objects (invalid entries per kind)
    flattened; the request echoed back and anything not a count (period, seconds) left out."""
    rows: list[Row] = []
    for key, value in counts.items():
        label = prefix + _label(str(key))
        if isinstance(value, dict) and value != echo:
            rows += _count_rows(value, echo, f"{label}: ")
        elif isinstance(value, int) and not isinstance(value, bool):
            rows.append((label, f"{value:,}"))
    return rows


def seed_table(body: dict[str, Any], results: list[Seeded], took: float) -> Group:
    """Per system what its answer counts and how long it took; then the whole wall time."""
    title = (
        f"volume seed: {body['entries']:,} time entries over {body['projects']:,} projects "
        f"in {body['period']} (seed {body['seed']})"
    )
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("system")
    table.add_column("created")
    table.add_column("count", justify="right")
    table.add_column("time", justify="right")
    for result in results:
        rows = [("failed", "-")] if result.error else _count_rows(result.counts, body)
        for i, (what, count) in enumerate(rows or [("nothing", "0")]):
            first = i == 0
            style = "red" if result.error else ""
            table.add_row(
                Text(result.system.value.upper() if first else ""),
                Text(what, style=style),
                Text(count),
                Text(f"{result.seconds:.1f}s" if first else ""),
            )
        table.add_section()
    table.add_row(Text("total", style="bold"), Text(""), Text(""), Text(f"{took:.1f}s"))
    return Group(Text(title), table)
