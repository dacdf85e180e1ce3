"""`psflow exceptions`: entries time-to-bill could not post, and sending them round again."""

from typing import Annotated

import typer
from rich.box import SIMPLE_HEAD
from rich.table import Table

from application import runs
from application.temporal import connect
from cli.options import AsOption, JsonOption, resolve_user
from cli.output import CliError, console, fail, print_json, when
from cli.render import cells, fields_table
from cli.state import run, settings_of, store_of
from config import Settings
from models.billing import BillingException, ExceptionState, check_period
from store.exceptions import get_exception, list_exceptions, mark_resubmitted

app = typer.Typer(
    name="exceptions",
    help="Time entries and expenses that could not be posted, and why.",
    no_args_is_help=True,
)

StateOption = Annotated[
    str,
    typer.Option(
        "--state", help="open, resubmitted, resolved, or all.", metavar="STATE", show_default=True
    ),
]


def _state(value: str) -> ExceptionState | None:
    if value == "all":
        return None
    try:
        return ExceptionState(value)
    except ValueError:
        choices = ", ".join([*ExceptionState, "all"])
        message = f"{value!r} is not one of {choices}"
        raise typer.BadParameter(message, param_hint="--state") from None


def _period(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_period(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--period") from None


@app.command("list")
def list_command(
    ctx: typer.Context,
    period: Annotated[str | None, typer.Option(help="Billing period YYYY-MM.")] = None,
    project: Annotated[str | None, typer.Option(help="PSA project id.")] = None,
    state: StateOption = "open",
    json: JsonOption = False,
) -> None:
    """Exceptions by entry, newest sighting last.

    Example: psflow exceptions list --period 2026-10 --project PRJ-V00001
    """
    wanted = _state(state)
    found = list_exceptions(
        store_of(settings_of(ctx)), period=_period(period), project_id=project, state=wanted
    )
    if json:
        print_json([e.model_dump(mode="json") for e in found])
        return
    table = Table(title=f"{len(found)} {state} exceptions", box=SIMPLE_HEAD)
    for column in ("id", "entry", "kind", "project", "period", "reason", "state", "last seen"):
        table.add_column(column, no_wrap=column != "reason")
    for e in found:
        table.add_row(
            *cells(
                str(e.id), e.entry_id, e.kind.value, e.project_id, e.period, e.reason,
                e.state.value, when(e.last_seen),
            )
        )  # fmt: skip
    console.print(table)


def _one(settings: Settings, exception_id: int) -> BillingException:
    found = get_exception(store_of(settings), exception_id)
    if found is None:
        raise CliError(f"no exception {exception_id}: see `psflow exceptions list --state all`")
    return found


@app.command()
def show(
    ctx: typer.Context,
    exception_id: Annotated[int, typer.Argument(metavar="ID", help="Exception id.")],
    json: JsonOption = False,
) -> None:
    """One exception: the entry, the rule it broke, and what to fix.

    Example: psflow exceptions show 12
    """
    try:
        found = _one(settings_of(ctx), exception_id)
    except CliError as exc:
        fail(str(exc))
    if json:
        print_json(found.model_dump(mode="json"))
        return
    rows = [
        ("entry", f"{found.kind.value} {found.entry_id}"),
        ("project", found.project_id),
        ("period", found.period),
        ("reason", found.reason),
        ("detail", found.message),
        ("state", found.state.value),
        ("workflow", found.workflow_id),
        ("first seen", when(found.first_seen)),
        ("last seen", when(found.last_seen)),
        ("resolved", when(found.resolved_at)),
    ]
    console.print(fields_table(rows))


@app.command()
def resubmit(
    ctx: typer.Context,
    exception_ids: Annotated[
        list[int], typer.Argument(metavar="ID...", help="Exception ids, fixed in the PSA.")
    ],
    user: AsOption = None,
) -> None:
    """Run time-to-bill again for the projects and periods of these exceptions.

    Fix the entry in the PSA first; the new run posts what is now valid and puts it on the
    next invoice. Refused while a run for the same project and period is in progress.

    Example: psflow exceptions resubmit 12 13
    """
    settings = settings_of(ctx)
    run(_resubmit(settings, exception_ids, resolve_user(user)))


async def _resubmit(settings: Settings, exception_ids: list[int], user: str) -> None:
    found = [_one(settings, i) for i in exception_ids]
    closed = [e for e in found if e.state is not ExceptionState.OPEN]
    if closed:
        listed = ", ".join(f"{e.id} ({e.state.value})" for e in closed)
        raise CliError(f"only open exceptions can be resubmitted: {listed}")
    client = await connect(settings)
    kind = runs.kind_named("time-to-bill")
    for project_id, period in sorted({(e.project_id, e.period) for e in found}):
        key = f"{project_id}/{period}"
        handle, already = await runs.start(client, settings, kind, key, user)
        ids = [e.id for e in found if (e.project_id, e.period) == (project_id, period)]
        if already:
            raise CliError(
                f"{handle.id} is still running; resubmit {', '.join(map(str, ids))} once it ends"
            )
        mark_resubmitted(store_of(settings), ids)
        console.print(f"resubmitted {', '.join(map(str, ids))}: started {handle.id}")
