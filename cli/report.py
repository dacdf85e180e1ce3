"""`psflow report`: business KPIs over a period, as rich tables or JSON."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

import typer
from rich.box import SIMPLE_HEAD
from rich.table import Table

from application.runs import temporal_errors
from application.temporal import connect
from cli import report_figures as figures
from cli.options import JsonOption
from cli.output import CliError, console, print_json
from cli.render import cells
from cli.state import run, settings_of, store_of
from config import Settings
from connectors import systems
from connectors.errors import ConnectorError

app = typer.Typer()
DEFAULT_DAYS = 30


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a day: use YYYY-MM-DD, e.g. 2026-11-01", param_hint=option
        ) from None


def period(since: str | None, until: str | None, today: date) -> tuple[datetime, datetime]:
    """[since 00:00, the day after until 00:00) in UTC; by default the last 30 days."""
    last = _day(until, "--until") or today
    first = _day(since, "--since") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise typer.BadParameter(f"--since {first} is after --until {last}", param_hint="--since")
    start = datetime.combine(first, time(), UTC)
    return start, datetime.combine(last + timedelta(days=1), time(), UTC)


async def build(settings: Settings, since: datetime, until: datetime) -> figures.Report:
    engine = store_of(settings)
    client = await connect(settings)
    psa, erp = systems.psa(settings), systems.erp(settings)
    try:
        with temporal_errors(settings):
            activation = await figures.project_activation(client, settings, since, until)
            failed = await figures.failed_syncs(client, settings, since, until)
            waiting = await figures.approvals_waiting(client, settings, datetime.now(UTC))
        latency = await figures.time_to_invoice(engine, psa, erp, since, until)
        backlog = [
            figures.Backlog(currency=c, amount=amount, records=n)
            for c, (amount, n) in (await erp.unbilled()).items()
        ]
        letters = figures.dead_letters(engine, since, until)
        findings = figures.reconciliation(engine, since, until)
    except ConnectorError as exc:
        raise CliError(f"the report reads the PSA and the ERP: {exc}") from None
    finally:
        await psa.aclose()
        await erp.aclose()
        engine.dispose()
    return figures.Report(
        since=since,
        until=until,
        project_activation=activation,
        time_to_invoice=latency,
        unbilled_backlog=backlog,
        approvals_waiting=waiting,
        failed_syncs=failed,
        dead_letters=letters,
        reconciliation=findings,
    )


def duration(seconds: float | None) -> str:
    """3d 4h, 5h 12m, 14m, 40s."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    days, hours, minutes = whole // 86400, whole % 86400 // 3600, whole % 3600 // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{whole}s"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, box=SIMPLE_HEAD, title_justify="left")
    for column in columns:
        table.add_column(column, justify="left" if column in ("", "workflow") else "right")
    return table


def render(report: figures.Report) -> None:
    last = (report.until - timedelta(days=1)).date()
    console.print(f"psflow report {report.since.date()} to {last} (UTC)", style="bold")
    times = _table("Time to activate, and to invoice", "", "count", "median", "p90", "max")
    for name, d in (
        ("project activation (opportunity-to-project start to live)", report.project_activation),
        ("approved time to invoice release (per entry)", report.time_to_invoice),
    ):
        times.add_row(
            *cells(
                name, str(d.count), *map(duration, (d.median_seconds, d.p90_seconds, d.max_seconds))
            )
        )
    console.print(times)
    backlog = _table(
        "Unbilled backlog now (posted, billable, on no invoice)", "currency", "amount", "records"
    )
    for b in report.unbilled_backlog:
        backlog.add_row(*cells(b.currency, f"{b.amount:,.2f}", str(b.records)))
    console.print(backlog if report.unbilled_backlog else "unbilled backlog: none")
    waiting = _table(
        "Waiting for people now", "workflow", "waiting for", "count", "oldest", "median age"
    )
    for w in report.approvals_waiting:
        oldest = duration((datetime.now(UTC) - w.oldest_since).total_seconds())
        waiting.add_row(
            *cells(w.workflow, w.waiting_for, str(w.count), oldest, duration(w.median_age_seconds))
        )
    console.print(waiting if report.approvals_waiting else "waiting for people: none")
    failures = _table("Failed syncs and dead letters", "", "count")
    for workflow, n in report.failed_syncs.items():
        failures.add_row(*cells(f"failed runs: {workflow}", str(n)))
    if not report.failed_syncs:
        failures.add_row(*cells("failed runs", "0"))
    for state, n in report.dead_letters.items():
        failures.add_row(*cells(f"dead letters: {state}", str(n)))
    if not report.dead_letters:
        failures.add_row(*cells("dead letters", "0"))
    console.print(failures)
    findings = _table("Reconciliation findings", "kind", "found", "runs", "repaired")
    for f in report.reconciliation:
        findings.add_row(*cells(f.kind, str(f.found), str(f.runs), str(f.repaired)))
    console.print(findings if report.reconciliation else "reconciliation findings: none")


@app.command("report")
def report(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option(metavar="YYYY-MM-DD", help="First day (default: 30 days back).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(metavar="YYYY-MM-DD", help="Last day, included (default: today).")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Business KPIs over a period: activation time, time to invoice, unbilled backlog,
    approvals waiting, failed syncs, dead letters and reconciliation findings.

    Example: psflow report --since 2026-11-01 --until 2026-11-30
    """
    first, end = period(since, until, datetime.now(UTC).date())
    settings = settings_of(ctx)
    found = run(build(settings, first, end))
    if json:
        print_json(found.model_dump(mode="json"))
    else:
        render(found)
