"""`psflow dlq`: workflows that failed for good, and running them again or letting them go."""

import inspect
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar, get_type_hints

import typer
from pydantic import BaseModel, ValidationError
from rich.box import SIMPLE_HEAD
from rich.table import Table
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from application import runs
from application.temporal import closed_state, connect, execution_status, ui_link
from cli.options import JsonOption
from cli.output import CliError, console, fail, print_json, when
from cli.render import cells, fields_table, styled
from cli.state import run, settings_of, store_of
from config import ConfigError, Settings
from models.dead_letter import DeadLetter, DeadLetterState
from models.hcm import WorkerEvent
from models.run_metadata import start_metadata
from security.codec import EncryptionCodec, codec_from
from store.dead_letters import (
    NotOpen,
    SealedInput,
    claim_for_retry,
    get_dead_letter,
    list_dead_letters,
    mark_discarded,
    mark_retried,
    reopen,
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
M = TypeVar("M", bound=BaseModel)


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
    json: JsonOption = False,
) -> None:
    """Dead letters, oldest first.

    Example: psflow dlq list --state all --since 2026-11-01
    """
    wanted, after = _state(state), since_option(since)
    settings = settings_of(ctx)
    try:  # the table shows no input: only --json needs the keys to open it
        codec = _codec(settings) if json else None
        found = list_dead_letters(store_of(settings), state=wanted, since=after, codec=codec)
    except (CliError, SealedInput) as exc:
        fail(str(exc))
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
    try:
        found = get_dead_letter(store_of(settings), dead_letter_id, _codec(settings))
    except SealedInput as exc:
        raise CliError(str(exc)) from None
    if found is None:
        raise CliError(f"no dead letter {dead_letter_id}: see `psflow dlq list --state all`")
    return found


def _codec(settings: Settings) -> EncryptionCodec | None:
    try:
        return codec_from(settings.codec)
    except ConfigError as exc:
        raise CliError(str(exc)) from None


@app.command()
def show(
    ctx: typer.Context,
    dead_letter_id: IdArg,
    json: JsonOption = False,
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
    if found.input_key_id:
        rows.append(("input", f'stored encrypted under key id "{found.input_key_id}"'))
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
    if letter.state is DeadLetterState.DISCARDED or letter.retry_run_id:
        raise CliError(f"dead letter {letter.id} is already {letter.state.value}")
    workflow_run, arguments, reuse = _new_run(letter)
    client = await connect(settings)
    engine = store_of(settings)
    try:  # claimed first: of two retries at once, one starts a run and the other is refused
        claim_for_retry(engine, letter.id, user)
    except NotOpen as exc:
        raise CliError(str(exc)) from None
    try:
        handle = await _start(client, settings, letter, workflow_run, arguments, reuse)
    except BaseException:
        reopen(engine, letter.id)
        raise
    run_id = handle.result_run_id or ""
    mark_retried(engine, letter.id, user, run_id)
    console.print(f"retried dead letter {letter.id}: [bold]{handle.id}[/bold] run {run_id}")
    console.print(f"UI: {ui_link(settings, handle.id)}", soft_wrap=True)
    console.print(f"follow it: psflow watch {handle.id}", style="dim", soft_wrap=True)


def _new_run(letter: DeadLetter) -> tuple[Any, BaseModel, WorkflowIDReusePolicy]:
    """What a retry starts: the workflow's run method, its input and the id reuse policy
    `psflow start` (or ingress, for an HCM event) would use."""
    if letter.workflow_type == "worker-change":
        from workflows.worker_change import WorkerChange

        event = _input_of(letter, WorkerEvent, "worker-change")
        return WorkerChange.run, event, WorkflowIDReusePolicy.ALLOW_DUPLICATE
    kind = runs.workflow_kinds().get(letter.workflow_type)
    if kind is None or kind.workflow_id(letter.business_key) != letter.workflow_id:
        raise CliError(f"{letter.workflow_type} cannot be retried from the dead letters")
    arguments = _input_of(letter, _input_type(kind.workflow), kind.name)
    reuse = (
        WorkflowIDReusePolicy.ALLOW_DUPLICATE
        if kind.rerunnable
        else WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
    )
    return kind.workflow.run, arguments, reuse


def _input_of(letter: DeadLetter, model: type[M], name: str) -> M:
    try:
        return model.model_validate(letter.input)
    except ValidationError as exc:
        raise CliError(
            f"the stored input no longer fits {name}: {exc.errors()[0]['msg']}"
        ) from None


async def _start(
    client: Client,
    settings: Settings,
    letter: DeadLetter,
    workflow_run: Any,
    arguments: BaseModel,
    reuse: WorkflowIDReusePolicy,
) -> WorkflowHandle[Any, Any]:
    """A new run of the letter's workflow id; never the running one (that refuses the retry)."""
    with runs.temporal_errors(settings):
        try:
            about = start_metadata(arguments)
            return await client.start_workflow(
                workflow_run,
                arguments,
                id=letter.workflow_id,
                task_queue=settings.temporal.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=reuse,
                static_summary=about.summary,
                static_details=about.details,
            )
        except WorkflowAlreadyStartedError:
            status = await execution_status(client.get_workflow_handle(letter.workflow_id))
    if status == WorkflowExecutionStatus.RUNNING:
        raise CliError(
            f"{letter.workflow_id} is running: retry {letter.id} once it ends "
            f"(see `psflow status {letter.workflow_id}`)"
        )
    raise CliError(
        f"{letter.workflow_id} has run again since and {closed_state(status)}: nothing to "
        f"retry; discard {letter.id} (see `psflow status {letter.workflow_id}`)"
    )


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
    try:
        letter = mark_discarded(store_of(settings), dead_letter_id, who, why)
    except NotOpen as exc:
        fail(f"{exc}: see `psflow dlq list --state all`")
    console.print(f"discarded dead letter {letter.id} ({letter.workflow_id})")


def _who(user: str | None, verb: str) -> str:
    who = (user or "").strip()
    if not who:
        fail(f"{verb} needs --as USER (or $PSFLOW_USER): who acts, for the audit log")
    return who
