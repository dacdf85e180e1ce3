"""Option and argument aliases shared by the commands."""

import getpass
from typing import Annotated

import typer

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
