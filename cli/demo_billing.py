"""The demo's month-end chapter: a month of time posted, invoiced, approved and released."""

from collections import Counter
from typing import TYPE_CHECKING

from rich.box import SIMPLE_HEAD
from rich.table import Table

from cli import sandbox_admin
from cli.output import CliError, console
from cli.render import status_view
from cli.state import store_of
from models.billing import month_end_id, time_to_bill_id
from models.people import Approval
from models.status import RunState
from models.time_to_bill import MonthEndTotals
from sandbox.volume import Volume, volume_entries, volume_projects
from store.exceptions import list_exceptions

if TYPE_CHECKING:  # cli.demo imports this module
    from cli.demo import Demo

VOLUME = Volume(projects=12, entries=2_400, period="2026-10", seed=7)
BILLING_SYSTEMS = [sandbox_admin.System.PSA, sandbox_admin.System.ERP, sandbox_admin.System.CRM]


async def month_end_close(demo: "Demo", number: int) -> None:
    demo.chapter(
        f"{number}. Month-end: approved time becomes invoices",
        f"The PSA holds {VOLUME.entries:,} time entries for {VOLUME.period} over "
        f"{VOLUME.projects} projects, a few of them invalid. month-end posts every valid "
        "entry to the ERP once, lists the rest as exceptions, and drafts one invoice per "
        "project; finance releases each, and the CRM learns the invoice status.",
    )
    body = {"projects": VOLUME.projects, "entries": VOLUME.entries, "period": VOLUME.period}
    demo.say(f"$ psflow sandbox seed --time-entries {VOLUME.entries} --projects "
             f"{VOLUME.projects} --period {VOLUME.period}")  # fmt: skip
    for seeded in await sandbox_admin.seed_volumes(demo.settings, BILLING_SYSTEMS, body):
        if seeded.error:
            system = seeded.system.value.upper()
            raise CliError(f"demo: seeding the {system} failed: {seeded.error}")
    workflow_id = await demo.start(VOLUME.period, "fatima", workflow="month-end")
    if workflow_id != month_end_id(VOLUME.period):
        raise CliError(f"demo: unexpected month-end id {workflow_id}")
    await demo.until(workflow_id, {RunState.COMPLETED}, "posting and drafting every project")
    handle = demo.client.get_workflow_handle(workflow_id, result_type=MonthEndTotals)
    totals = await handle.result()
    console.print(_totals_table(totals))

    engine = store_of(demo.settings)
    reasons = Counter(e.reason for e in list_exceptions(engine, period=VOLUME.period))
    demo.say("$ psflow exceptions list --period " + VOLUME.period)
    demo.say(", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items())))

    project = next(p for p in volume_projects(VOLUME) if p.billing_type == "Time and Materials")
    child = time_to_bill_id(project.psa_id, VOLUME.period)
    approver = _finance_approver_of_no_time(project.number)
    demo.say(f"$ psflow approve {child} --as paula")
    demo.say(await demo.refused(child, "approve", Approval(user="paula")), "red")
    demo.say(f"$ psflow approve {child} --as {approver}")
    demo.say(await demo.send(child, "approve", Approval(user=approver)), "green")
    status = await demo.until(child, {RunState.COMPLETED}, "releasing the invoice")
    console.print(status_view(status))


def _finance_approver_of_no_time(project_number: int) -> str:
    """A finance user who approved none of the project's time (segregation of duties)."""
    approvers = {e.approver for e in volume_entries(VOLUME) if e.project_number == project_number}
    return next(u for u in ("fatima", "finn", "greta") if u not in approvers)


def _totals_table(totals: MonthEndTotals) -> Table:
    table = Table(title=f"month-end/{VOLUME.period}", box=SIMPLE_HEAD, show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    invoiced = ", ".join(f"{amount:,.2f} {cur}" for cur, amount in sorted(totals.invoiced.items()))
    for label, value in (
        ("projects", f"{totals.projects}"),
        ("invoices drafted", f"{totals.drafted}"),
        ("nothing to invoice", f"{totals.nothing_to_invoice}"),
        ("failed", f"{totals.failed_count}"),
        ("entries posted", f"{totals.posted:,}"),
        ("exceptions", f"{totals.exceptions}"),
        ("drafted totals", invoiced or "-"),
    ):
        table.add_row(label, value)
    return table
