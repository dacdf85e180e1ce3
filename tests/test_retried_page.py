"""A posting page retried after the ERP stored it: the run still counts what it bills."""

from temporalio.client import Client

from config import Settings
from models.billing import time_to_bill_id
from models.time_to_bill import Outcome
from sandbox.volume import Volume
from store.audit import audit_entries
from store.db import open_engine
from tests.billing_support import pick_project, posted_entry_ids, seed_volume
from tests.support import Sandbox, Systems
from tests.test_time_to_bill import TM, release, start
from workflows.time_to_bill import POST_EXPENSES, POST_TIME, TimeToBill


async def test_a_page_posted_by_an_attempt_that_never_returned_is_counted_as_billed(
    client: Client, worker: Settings, sandbox: Sandbox, systems: Systems
) -> None:
    volume = Volume(projects=4, entries=240, period="2026-08", seed=8)
    seed_volume(sandbox, volume)
    month = pick_project(volume, billing_type=TM, with_invalid=False)
    assert month.time_total > 0 and month.expense_total > 0
    # The ERP stores the first page of each kind, but its answer is lost on the way back:
    # the retried attempt finds every entry of the page already posted.
    for record in ("timeBill", "expenseReport"):
        path = f"*/record/v1/{record}/upsertList"
        sandbox.fault("erp", path=path, method="POST", status=504, after=True)

    handle = await start(client, worker, month.project.psa_id, volume.period)
    result = await release(worker, handle)

    assert sandbox.armed_faults("erp") == []  # both answers were lost, both pages retried
    assert result.outcome is Outcome.RELEASED
    assert (result.time.amount, result.expenses.amount) == (month.time_total, month.expense_total)
    assert result.time.created + result.time.unchanged == len(month.valid)
    posted = await posted_entry_ids(systems, month, volume.period)
    assert sum(posted.values()) == len(month.valid)
    status = await handle.query(TimeToBill.status)
    details = {s.name: s.detail or "" for s in status.steps}
    assert details[POST_TIME].endswith(f"billable {month.time_total}")
    assert details[POST_EXPENSES].endswith(f"billable {month.expense_total}")
    engine = open_engine(worker.resolved_store_url)
    workflow_id = time_to_bill_id(month.project.psa_id, volume.period)
    audited = [e.detail for e in audit_entries(engine, workflow_id, kind="posted")]
    assert audited == [
        f"{POST_TIME}: {details[POST_TIME]}",
        f"{POST_EXPENSES}: {details[POST_EXPENSES]}",
    ]
