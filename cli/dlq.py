"""`psflow dlq`: workflows that failed for good, and running them again or letting them go."""

import inspect
from datetime import UTC, datetime
from typing import Annotated, Any, get_type_hints

import typer
from pydantic import BaseModel, ValidationError
from rich.box import SIMPLE_HEAD
from rich.table import Table
from sqlalchemy import Engine
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from cli import actions
from cli.client import connect, execution_status, ui_link
from cli.output import CliError, console, fail, print_json, when
from cli.render import cells, fields_table, styled
from cli.state import run, settings_of, store_of
from config import Settings
from models.audit import AuditEntry
from models.dead_letter import DeadLetter, DeadLetterState
from models.hcm import WorkerEvent
from store.audit import append_audit
from store.dead_letters import (
    NotOpen,
    get_dead_letter,
    list_dead_letters,
    mark_discarded,
    mark_retried,
)

app = typer.Typer(
    name="dlq",
    help="Dead letters: workflows that failed for good, kept with their input.",
    no_args_is_help=True,
)

IdArg = Annotated[int, typer.Argument(metavar="ID", help="Dead letter id (psflow dlq list).")]
WhoOption = Annotated[
    str | None,
    typer.Option(
        "--as", metavar="USER", envvar="PSFLOW_USER", show_envvar=True,
        help="Who is acting, for the audit log (default: $PSFLOW_USER).",
    ),
]  # fmt: skip


def _state(value: str) -> DeadLetterState | None:
    if value == "all":
        return None
    try:
        return DeadLetterState(value)
    except ValueError:
        choices = ", ".join([*DeadLetterState, "all"])
        raise typer.BadParameter(
            f"{value!r} is not one of {choices}", param_hint="--state"
        ) from None


def since_option(value: str | None, option: str = "--since") -> datetime | None:
    """A date (2026-11-01, midnight UTC) or an ISO timestamp, as an aware datetime."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        message = f"{value!r} is not a date: use YYYY-MM-DD or an ISO timestamp"
        raise typer.BadParameter(message, param_hint=option) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command("list")
def list_command(
    ctx: typer.Context,
    state: Annotated[
        str, typer.Option("--state", metavar="STATE", help="open, retried, discarded, or all.")
    ] = "open",
    since: Annotated[
        str | None, typer.Option(metavar="DATE", help="Failed on or after, e.g. 2026-11-01.")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Dead letters, oldest first.

    Example: psflow dlq list --state all --since 2026-11-01
    """
    wanted, after = _state(state), since_option(since)
    found = list_dead_letters(store_of(settings_of(ctx)), state=wanted, since=after)
    if json:
        print_json([d.model_dump(mode="json") for d in found])
        return
    table = Table(title=f"{len(found)} {state} dead letters", box=SIMPLE_HEAD)
    for column in ("id", "workflow", "step", "error", "failed", "state"):
        # Ids fold rather than lose their end: the business key is the part that matters.
        table.add_column(column, no_wrap=column in ("id", "failed", "state"), overflow="fold")
    for d in found:
        table.add_row(
            *cells(str(d.id), d.workflow_id, d.step or "-", d.error, when(d.failed_at)),
            styled(d.state.value),
        )
    console.print(table)


def _one(settings: Settings, dead_letter_id: int) -> DeadLetter:
    found = get_dead_letter(store_of(settings), dead_letter_id)
    if found is None:
        raise CliError(f"no dead letter {dead_letter_id}: see `psflow dlq list --state all`")
    return found


@app.command()
def show(
    ctx: typer.Context, dead_letter_id: IdArg, json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """One dead letter: the workflow, the step that failed, the error and the input.

    Example: psflow dlq show 3
    """
    try:
        found = _one(settings_of(ctx), dead_letter_id)
    except CliError as exc:
        fail(str(exc))
    if json:
        print_json(found.model_dump(mode="json"))
        return
    rows = [
        ("workflow", found.workflow_id),
        ("type", found.workflow_type),
        ("business key", found.business_key),
        ("run", found.run_id),
        ("failed step", found.step or "-"),
        ("error", found.error),
        ("failed", when(found.failed_at)),
        ("state", found.state.value),
    ]
    if found.state is not DeadLetterState.OPEN:
        rows.append((f"{found.state.value} by", f"{found.closed_by} at {when(found.closed_at)}"))
    if found.reason:
        rows.append(("reason", found.reason))
    if found.retry_run_id:
        rows.append(("retry run", found.retry_run_id))
    console.print(fields_table(rows))
    console.print("input:", style="bold")
    console.print_json(data=found.input)


@app.command()
def retry(ctx: typer.Context, dead_letter_id: IdArg, user: WhoOption = None) -> None:
    """Start the workflow again from its stored input, as a new run.

    Fix the cause first (the failed step and error are in `psflow dlq show`). Refused while a
    run of the same workflow is in progress.

    Example: psflow dlq retry 3 --as fatima
    """
    settings = settings_of(ctx)
    run(_retry(settings, dead_letter_id, _who(user, "retry")))


async def _retry(settings: Settings, dead_letter_id: int, user: str) -> None:
    letter = _one(settings, dead_letter_id)
    if letter.state is not DeadLetterState.OPEN:
        raise CliError(f"dead letter {letter.id} is already {letter.state.value}")
    client = await connect(settings)
    existing = client.get_workflow_handle(letter.workflow_id)
    with actions.temporal_errors(settings):
        if await execution_status(existing) == WorkflowExecutionStatus.RUNNING:
            raise CliError(
                f"{letter.workflow_id} is running: retry {letter.id} once it ends "
                f"(see `psflow status {letter.workflow_id}`)"
            )
    handle = await _start(client, settings, letter, user)
    run_id = handle.result_run_id or ""
    engine = store_of(settings)
    try:
        mark_retried(engine, letter.id, user, run_id)
    except NotOpen as exc:  # someone closed it meanwhile; the run started all the same
        raise CliError(f"{exc}; the retry started {letter.workflow_id} run {run_id}") from None
    detail = f"dead letter {letter.id} retried: new run {run_id}"
    _audit(engine, letter.workflow_id, "retried", user, detail)
    console.print(f"retried dead letter {letter.id}: [bold]{handle.id}[/bold] started")
    console.print(f"UI: {ui_link(settings, handle.id)}", soft_wrap=True)
    console.print(f"follow it: psflow watch {handle.id}", style="dim", soft_wrap=True)


async def _start(
    client: Client, settings: Settings, letter: DeadLetter, user: str
) -> WorkflowHandle[Any, Any]:
    """A new run from the stored input, through the same start as `psflow start`."""
    if letter.workflow_type == "worker-change":
        event = WorkerEvent.model_validate(letter.input)
        return await actions.start_for_event(client, settings, event, user)
    kinds = actions.workflow_kinds()
    kind = kinds.get(letter.workflow_type)
    if kind is None or kind.workflow_id(letter.business_key) != letter.workflow_id:
        raise CliError(f"{letter.workflow_type} cannot be retried from the dead letters")
    input_type = _input_type(kind.workflow)
    try:
        arguments: BaseModel = input_type.model_validate(letter.input)
    except ValidationError as exc:
        raise CliError(
            f"the stored input no longer fits {kind.name}: {exc.errors()[0]['msg']}"
        ) from None
    handle, already = await actions.start(
        client, settings, kind, letter.business_key, user, arguments
    )
    if already:
        raise CliError(f"{handle.id} is running: retry {letter.id} once it ends")
    return handle


def _input_type(workflow_class: type) -> type[BaseModel]:
    """The model a workflow's run method takes (its one parameter after self)."""
    run_method = inspect.getattr_static(workflow_class, "run")
    parameter = list(inspect.signature(run_method).parameters)[1]
    found: type[BaseModel] = get_type_hints(run_method)[parameter]
    return found


@app.command()
def discard(
    ctx: typer.Context,
    dead_letter_id: IdArg,
    reason: Annotated[
        str | None, typer.Option(help="Why it will not be retried (kept in the audit log).")
    ] = None,
    user: WhoOption = None,
) -> None:
    """Let a dead letter go: it is marked discarded and the discard is audited.

    Example: psflow dlq discard 3 --reason "deal withdrawn by the customer" --as fatima
    """
    settings = settings_of(ctx)
    why = (reason or "").strip()
    if not why:
        fail("discard needs --reason: say why it will not be retried, for the audit log")
    who = _who(user, "discard")
    engine = store_of(settings)
    try:
        letter = mark_discarded(engine, dead_letter_id, who, why)
    except NotOpen as exc:
        fail(f"{exc}: see `psflow dlq list --state all`")
    _audit(
        engine, letter.workflow_id, "discarded", who, f"dead letter {letter.id}: {letter.reason}"
    )
    console.print(f"discarded dead letter {letter.id} ({letter.workflow_id})")


def _who(user: str | None, verb: str) -> str:
    who = (user or "").strip()
    if not who:
        fail(f"{verb} needs --as USER (or $PSFLOW_USER): who acts, for the audit log")
    return who


def _audit(engine: Engine, workflow_id: str, kind: str, user: str, detail: str) -> None:
    entry = AuditEntry(
        at=datetime.now(UTC), workflow_id=workflow_id, kind=kind, user=user, detail=detail
    )
    append_audit(engine, entry)
