"""The demo's Tryton chapter: a month-end closed with Tryton as the ERP, its invoices read
back from Tryton's books."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.box import SIMPLE_HEAD
from rich.table import Table

from cli.output import CliError, console
from cli.state import store_of
from cli.tryton_seed import seed_with_tryton
from config import Settings
from connectors import systems
from models.billing import InvoiceHeader, InvoiceStatus, month_end_id, time_to_bill_id
from models.people import Approval
from models.status import RunState
from models.time_to_bill import MonthEndTotals
from sandbox.volume import Volume, volume_entries, volume_projects
from stack.tryton import TrytonServer, prepare_template, running_tryton
from store.exceptions import list_exceptions

if TYPE_CHECKING:  # cli.demo imports this module
    from cli.demo import Demo

VOLUME = Volume(projects=4, entries=400, period="2026-11", seed=11)
FINANCE = ("fatima", "finn", "greta")


async def month_end_in_tryton(demo: "Demo", number: int, tryton_dir: Path) -> None:
    demo.chapter(
        f"{number}. The same month-end, with Tryton as the ERP",
        f"Tryton, the open-source ERP, stands in for NetSuite: a second worker has it as its "
        f"ERP. {VOLUME.entries} time entries for {VOLUME.period} over {VOLUME.projects} "
        "projects are posted as timesheet lines, invoiced and released by finance; then the "
        "invoices are read back from Tryton's books.",
    )
    with console.status("preparing Tryton's database (the first time about 45 s)"):
        await asyncio.to_thread(prepare_template, tryton_dir)
    with running_tryton(tryton_dir) as server:
        demo.say(f"$ psflow sandbox up --erp tryton   # trytond at {server.url}")
        async with _worker_on(demo, server) as tryton:
            erp = systems.tryton_erp(tryton.settings)
            try:
                ids = await _seed(tryton)
                await _close_month(tryton)
                invoices = await erp.invoices_by_project(list(ids.values()))
            finally:
                await erp.aclose()
    console.print(_invoice_table(invoices, ids))
    released = [
        i for found in invoices.values() for i in found if i.status is InvoiceStatus.RELEASED
    ]
    if not released:
        raise CliError("demo: no invoice was released in Tryton")
    demo.say(f"{len(released)} invoices posted in Tryton, numbered by Tryton", "green")


@asynccontextmanager
async def _worker_on(demo: "Demo", server: TrytonServer) -> AsyncIterator["Demo"]:
    """A worker of its own task queue whose ERP is this Tryton; the chapter's Demo on it."""
    from cli.demo import Demo
    from worker import run_worker

    settings = tryton_settings(demo.settings, server)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, client=demo.client, stop=stop))
    chapter = Demo(demo.client, settings, sessions=demo.sessions)
    try:
        yield chapter
    finally:
        chapter.close()
        stop.set()
        await worker


def tryton_settings(settings: Settings, server: TrytonServer) -> Settings:
    """The settings with Tryton as the ERP and a task queue of its own."""
    erp = settings.erp.model_copy(update=server.erp_settings())
    temporal = settings.temporal.model_copy(
        update={"task_queue": f"{settings.temporal.task_queue}-tryton"}
    )
    return settings.model_copy(update={"erp": erp, "temporal": temporal})


async def _seed(demo: "Demo") -> dict[int, str]:
    """The volume in Tryton, then in the PSA (with Tryton's project ids) and the CRM; volume
    project number -> Tryton project id."""
    body = {
        "projects": VOLUME.projects, "entries": VOLUME.entries, "period": VOLUME.period,
        "seed": VOLUME.seed,
    }  # fmt: skip
    demo.say(f"$ psflow sandbox seed --time-entries {VOLUME.entries} --projects "
             f"{VOLUME.projects} --period {VOLUME.period} --seed {VOLUME.seed}")  # fmt: skip
    answers, seeded = await seed_with_tryton(demo.settings, body)
    for answer in answers:
        if answer.error:
            system = answer.system.value.upper()
            raise CliError(f"demo: seeding the {system} failed: {answer.error}")
    assert seeded is not None  # no error: Tryton was seeded
    return seeded.project_ids


async def _close_month(demo: "Demo") -> None:
    """month-end for the period, then each drafted invoice approved and released."""
    workflow_id = await demo.start(VOLUME.period, "fatima", workflow="month-end")
    if workflow_id != month_end_id(VOLUME.period):
        raise CliError(f"demo: unexpected month-end id {workflow_id}")
    await demo.until(workflow_id, {RunState.COMPLETED}, "posting to Tryton and drafting")
    handle = demo.client.get_workflow_handle(workflow_id, result_type=MonthEndTotals)
    totals = await handle.result()
    demo.say(
        f"{totals.posted} entries posted, {totals.exceptions} exceptions, "
        f"{totals.drafted} invoices drafted in Tryton"
    )
    found = list_exceptions(store_of(demo.settings), period=VOLUME.period)
    demo.say(f"$ psflow exceptions list --period {VOLUME.period}")
    reasons = Counter(e.reason for e in found)
    demo.say(", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items())))
    demo.say(
        "Tryton books an employee's time only in the employee's own company: the time of "
        "people lent from another company is refused by the ERP and left to the list."
    )
    for project in volume_projects(VOLUME):
        child = time_to_bill_id(project.psa_id, VOLUME.period)
        status = await demo.until(
            child, {RunState.WAITING, RunState.COMPLETED}, f"waiting for {child}"
        )
        if status.state is RunState.COMPLETED:
            continue  # nothing to invoice
        approver = _finance_approver_of_no_time(project.number)
        demo.say(f"$ psflow approve {child} --as {approver}")
        demo.say(await demo.send(child, "approve", Approval(user=approver)), "green")
        await demo.until(child, {RunState.COMPLETED}, "releasing the invoice in Tryton")


def _finance_approver_of_no_time(project_number: int) -> str:
    approvers = {e.approver for e in volume_entries(VOLUME) if e.project_number == project_number}
    return next(u for u in FINANCE if u not in approvers)


def _invoice_table(invoices: dict[str, list[InvoiceHeader]], ids: dict[int, str]) -> Table:
    table = Table("project", "Tryton invoice", "status", "total", box=SIMPLE_HEAD)
    names = {v: f"PRJ-V{k:05d}" for k, v in ids.items()}
    for project_id, found in invoices.items():
        for invoice in found:
            total = f"{invoice.total:,.2f} {invoice.currency}"
            table.add_row(names.get(project_id, project_id), invoice.number, invoice.status, total)
    return table
