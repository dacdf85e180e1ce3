"""`psflow reconcile`: run reconciliation once, or show the latest run's findings."""

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.box import SIMPLE_HEAD
from rich.table import Table
from temporalio.client import WorkflowFailureError

from cli.actions import temporal_errors
from cli.client import connect, require_worker
from cli.options import AsOption, JsonOption, resolve_user
from cli.output import CliError, console, print_json
from cli.render import cells
from cli.state import run, settings_of, store_of
from config import Settings
from models.reconcile import RECONCILE, Finding, FindingKind, ReconcileInput, ReconcileResult
from store.findings import findings_of_run, latest_run_id

app = typer.Typer()


async def run_now(settings: Settings, user: str) -> ReconcileResult:
    """Execute the reconcile workflow once, to its end."""
    client = await connect(settings)
    queue = settings.temporal.task_queue
    await require_worker(client, settings, queue)
    workflow_id = f"{RECONCILE}/{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%fZ}"
    with temporal_errors(settings, workflow_id):
        try:
            return await client.execute_workflow(
                RECONCILE,
                ReconcileInput(requested_by=user),
                id=workflow_id,
                task_queue=queue,
                result_type=ReconcileResult,
            )
        except WorkflowFailureError as exc:
            cause = exc.cause.message if exc.cause else str(exc)
            raise CliError(f"{workflow_id} failed: {cause}") from None


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
    """Compare CRM, ERP and PSA and list the drift: without --now, the latest run's findings.

    Example: psflow reconcile --now
    """
    settings = settings_of(ctx)
    engine = store_of(settings)
    result = run(run_now(settings, resolve_user(user))) if now else None
    run_id = result.run_id if result else latest_run_id(engine)
    if run_id is None:
        console.print("no reconciliation has run yet: psflow reconcile --now", style="dim")
        return
    findings = findings_of_run(engine, run_id)
    if json:
        print_json(
            {
                "run_id": run_id,
                "counts": [c.model_dump(mode="json") for c in result.counts] if result else None,
                "repairs": result.repairs if result else None,
                "findings": [
                    f.model_dump(mode="json", exclude={"target", "run_id"}) for f in findings
                ],
            }
        )
        return
    if findings:
        console.print(f"{summary(findings)}: run {run_id}", soft_wrap=True)
        console.print(findings_table(findings))
    else:
        console.print(f"no drift found: run {run_id}")
    if result:
        repaired = sum(c.repaired for c in result.counts)
        console.print(f"{repaired} repaired, {len(result.repairs)} repairs attempted")
