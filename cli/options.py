"""Option and argument aliases shared by the commands."""

import getpass
import re
from datetime import timedelta
from typing import Annotated

import typer
from pydantic import TypeAdapter, ValidationError

from models.reconcile import parse_every

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
AsOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        metavar="USER",
        envvar="PSFLOW_USER",
        show_envvar=True,
        help="Who is acting (default: $PSFLOW_USER, then your OS user name).",
    ),
]
WorkflowIdArg = Annotated[
    str,
    typer.Argument(
        metavar="ID",
        help="Workflow id, e.g. opportunity-to-project/006Hs0000000001IAA.",
        show_default=False,
    ),
]


def resolve_user(value: str | None) -> str:
    """--as, else $PSFLOW_USER (read by the option), else the OS user."""
    if value:
        return value
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "psflow"


def duration_option(value: str, option: str) -> timedelta:
    """A length of time written as in the settings: 10m, 2h, 1d, 90 (seconds) or PT1H."""
    text = value.strip()
    try:
        if re.fullmatch(r"\d+(\.\d+)?", text):
            parsed = timedelta(seconds=float(text))
        else:
            parsed = TypeAdapter(timedelta).validate_python(parse_every(text))
    except (ValidationError, OverflowError):
        message = f"{value!r} is not a duration: use e.g. 10m, 2h, 1d, 90 or PT1H"
        raise typer.BadParameter(message, param_hint=option) from None
    if parsed < timedelta(0):
        raise typer.BadParameter(f"{value!r} is negative", param_hint=option)
    return parsed
