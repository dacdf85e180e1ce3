"""`psflow reconcile`: run reconciliation once, or show the latest completed run's findings."""

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.box import SIMPLE_HEAD
from rich.table import Table
from temporalio.client import WorkflowFailureError

from application.runs import temporal_errors
from application.temporal import connect, require_worker
from cli.options import AsOption, JsonOption, resolve_user
from cli.output import CliError, console, print_json
from cli.render import cells
from cli.state import run, settings_of, store_of
from config import Settings
from models.reconcile import RECONCILE, Finding, FindingKind, ReconcileInput, ReconcileResult
from store.findings import findings_of_run

app = typer.Typer()

DRIFT_FOUND = 3
"""Exit code when the run found drift (1 is an error, 2 a bad option), as a monitor reads it."""


async def run_now(settings: Settings, user: str) -> ReconcileResult:
    """Execute the reconcile workflow once, to its end."""
    client = await connect(settings)
    queue = settings.temporal.task_queue
    await require_worker(client, settings, queue)
    workflow_id = f"{RECONCILE}/{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%fZ}"
    with temporal_errors(settings, workflow_id):
        try:
            result: ReconcileResult = await client.execute_workflow(
                RECONCILE,
                ReconcileInput(requested_by=user),
                id=workflow_id,
                task_queue=queue,
                result_type=ReconcileResult,
            )
            return result
        except WorkflowFailureError as exc:
            cause = getattr(exc.cause, "message", None) or str(exc.cause or exc)
            raise CliError(f"{workflow_id} failed: {cause}") from None


async def latest_completed(settings: Settings) -> ReconcileResult | None:
    """The result of the reconcile run on this task queue that completed last, or None.

    A failed or running run is passed over: its findings are only the pages it stored.
    """
    client = await connect(settings)
    query = (
        f"WorkflowType = '{RECONCILE}' AND ExecutionStatus = 'Completed' "
        f"AND TaskQueue = '{settings.temporal.task_queue}'"
    )
    with temporal_errors(settings):
        # Visibility lists closed runs by close time, newest first (SQL and Elasticsearch).
        async for execution in client.list_workflows(query, limit=1):
            handle = client.get_workflow_handle(
                execution.id, run_id=execution.run_id, result_type=ReconcileResult
            )
            result: ReconcileResult = await handle.result(follow_runs=False)
            return result
    return None


def findings_table(findings: list[Finding]) -> Table:
    table = Table(box=SIMPLE_HEAD)
    for column in ("kind", "business key", "detail", "suggested repair", "repair"):
        table.add_column(column, overflow="fold", ratio=3 if column == "detail" else 2)
    for f in findings:
        table.add_row(
            *cells(f.kind.value, f.business_key, f.detail, f.suggested_repair, f.repair or "-")
        )
    return table


def summary(findings: list[Finding]) -> str:
    counts = {kind: sum(1 for f in findings if f.kind == kind) for kind in FindingKind}
    text = ", ".join(f"{n} {kind.value}" for kind, n in counts.items() if n)
    return f"{len(findings)} findings" + (f" ({text})" if text else "")


@app.command("reconcile")
def reconcile(
    ctx: typer.Context,
    now: Annotated[
        bool, typer.Option("--now", help="Run it once now and wait (the schedule runs it too).")
    ] = False,
    user: AsOption = None,
    json: JsonOption = False,
) -> None:
    """Compare CRM, ERP and PSA and list the drift: without --now, the findings of the
    latest run that completed. Exits 0 when there is none, 3 when there is (repaired or
    not), 1 when it could not run.

    Example: psflow reconcile --now
    """
    settings = settings_of(ctx)
    engine = store_of(settings)
    if now:
        result: ReconcileResult | None = run(run_now(settings, resolve_user(user)))
    else:
        result = run(latest_completed(settings))
    if result is None:
        console.print("no reconciliation has run yet: psflow reconcile --now", style="dim")
        return
    findings = findings_of_run(engine, result.run_id)
    if json:
        print_json(
            {
                "run_id": result.run_id,
                "counts": [c.model_dump(mode="json") for c in result.counts],
                "repairs": result.repairs,
                "findings": [
                    f.model_dump(mode="json", exclude={"target", "run_id"}) for f in findings
                ],
            }
        )
    elif findings:
        console.print(f"{summary(findings)}: run {result.run_id}", soft_wrap=True)
        console.print(findings_table(findings))
    else:
        console.print(f"no drift found: run {result.run_id}")
    if not json:
        repaired = sum(c.repaired for c in result.counts)
        console.print(f"{repaired} repaired, {len(result.repairs)} repairs attempted")
    if findings:
        raise typer.Exit(DRIFT_FOUND)
