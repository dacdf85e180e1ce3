"""`psflow systems check`: before go-live, whether every system psflow talks to is there,
signs psflow in, and has what psflow reads and writes."""

import typer
from rich.box import SIMPLE_HEAD
from rich.markup import escape
from rich.table import Table

from application.check_rows import Check
from application.system_checks import check_systems
from cli.options import JsonOption
from cli.output import console, print_json
from cli.state import run, settings_of

app = typer.Typer(no_args_is_help=True)

PROBLEMS_FOUND = 1


@app.command()
def check(ctx: typer.Context, json: JsonOption = False) -> None:
    """Check the configured CRM, ERP, PSA and HCM (sandbox or real): sign-in, API version,
    the permissions and custom fields psflow needs, and that every id the policy maps to
    exists. Exit 0 only when everything psflow needs is there; each problem names its fix.

    Example: psflow --config prod.toml systems check
    """
    settings = settings_of(ctx)
    checks = run(check_systems(settings))
    if json:
        print_json([c.as_json() for c in checks])
    else:
        console.print(_table(checks))
        problems = sum(not c.ok for c in checks)
        summary = (
            f"{problems} problem(s) to fix" if problems else "everything psflow needs is there"
        )
        console.print(summary, style="red" if problems else "green")
    if any(not c.ok for c in checks):
        raise typer.Exit(PROBLEMS_FOUND)


def _table(checks: list[Check]) -> Table:
    table = Table(box=SIMPLE_HEAD, show_lines=False)
    for column in ("system", "check", "", "found, or the fix"):
        table.add_column(column, overflow="fold")
    for c in checks:
        mark = "[green]ok[/green]" if c.ok else "[red]FIX[/red]"
        table.add_row(c.system, escape(c.check), mark, escape(c.detail))
    return table
