"""`psflow audit`: who approved, rejected, corrected, posted, retried or discarded what, when."""

from typing import Annotated

import typer
from rich.box import SIMPLE_HEAD
from rich.table import Table

from cli.dlq import since_option
from cli.options import JsonOption
from cli.output import console, print_json, when
from cli.render import cells
from cli.state import settings_of, store_of
from models.audit import AUDIT_KINDS
from store.audit import audit_entries

app = typer.Typer()


@app.command("audit")
def audit(
    ctx: typer.Context,
    workflow: Annotated[
        str | None, typer.Option("--workflow", metavar="ID", help="One workflow's entries.")
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", metavar="USER", help="One person's actions.")
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            metavar="KIND",
            help=", ".join(AUDIT_KINDS) + ".",
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option(metavar="DATE", help="On or after, e.g. 2026-11-01.")
    ] = None,
    json: JsonOption = False,
) -> None:
    """The audit log, oldest first: who did what, when, to which workflow.

    Example: psflow audit --workflow time-to-bill/PRJ-V00001/2026-10
    Example: psflow audit --user fatima --kind discarded --since 2026-11-01 --json
    """
    after = since_option(since)
    if kind is not None and kind not in AUDIT_KINDS:
        message = f"{kind!r} is not one of {', '.join(AUDIT_KINDS)}"
        raise typer.BadParameter(message, param_hint="--kind")
    engine = store_of(settings_of(ctx))
    try:
        found = audit_entries(engine, workflow, user=user, kind=kind, since=after)
    finally:
        engine.dispose()
    if json:
        print_json([e.model_dump(mode="json") for e in found])
        return
    table = Table(title=f"{len(found)} audit entries", box=SIMPLE_HEAD)
    for column in ("when", "workflow", "kind", "who", "verified by", "what"):
        table.add_column(column, no_wrap=column in ("when", "kind", "who"), overflow="fold")
    for e in found:
        verified = f"{e.issuer} ({e.subject})" if e.issuer else "-"
        who = e.user or "psflow"
        table.add_row(*cells(when(e.at), e.workflow_id, e.kind, who, verified, e.detail))
    console.print(table)
