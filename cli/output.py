"""Consoles, one-line errors, JSON output and the small formatting helpers commands share."""

import json
from datetime import UTC, datetime
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from application.errors import AppError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


CliError = AppError
"""A problem the user can fix; its message is the one line they see."""


def fail(message: str) -> NoReturn:
    """Print one line to stderr and exit 1 without a traceback."""
    line = " ".join(message.split())
    err_console.print(Text.assemble(("error: ", "bold red"), line), soft_wrap=True)
    raise typer.Exit(1) from None


def print_json(data: Any) -> None:
    """Exactly the data, indented, no colour and no wrapping (for scripts and tests)."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def when(value: datetime | None) -> str:
    """A timestamp in local time (the time alone if today), or a dash."""
    if value is None:
        return "-"
    local = value.astimezone()
    if local.date() == datetime.now().astimezone().date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%Y-%m-%d %H:%M:%S")


def age(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, roughly: 45s, 12m, 3h 5m, 2d 4h."""
    if value is None:
        return "-"
    return span(((now or datetime.now(UTC)) - value).total_seconds())


def due(value: datetime | None, now: datetime | None = None) -> str:
    """How soon: in 8s, in 2m; now if it is past."""
    if value is None:
        return "-"
    seconds = (value - (now or datetime.now(UTC))).total_seconds()
    return f"in {span(seconds)}" if seconds >= 1 else "now"


def span(seconds: float) -> str:
    """A length of time, roughly: 45s, 12m, 3h 5m, 2d 4h."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{max(seconds, 0)}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours < 1:
        return f"{minutes}m"
    if days < 1:
        return f"{hours}h {minutes % 60}m"
    return f"{days}d {hours % 24}h"
