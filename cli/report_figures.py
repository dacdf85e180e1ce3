"""The business KPIs `psflow report` shows, computed over a period.

Temporal's visibility gives run times, failures and waits (only this deployment's task
queue); the store gives releases (audit log), dead letters and findings; the PSA and the ERP
give approval times and the unbilled backlog.
"""

import math
import re
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine
from temporalio.client import Client

from config import Settings
from connectors.erp_port import Erp
from connectors.psa import PsaConnector
from models.billing import time_bill_external_id
from store.audit import audit_entries
from store.dead_letters import list_dead_letters
from store.findings import list_findings
from workflows import search_attributes as sa
from workflows.opportunity_to_project import WRITE_BACK

# opportunity-to-project's last step: a completed run that reached it made a live project.
ACTIVATED_STEP = WRITE_BACK
FAILED = "ExecutionStatus IN ('Failed', 'TimedOut', 'Terminated')"
# time-to-bill's "released" audit entry: "invoice <number>: <total> <currency>".
RELEASED_INVOICE = re.compile(r"invoice (?P<number>\S+):")


class Durations(BaseModel):
    count: int = 0
    median_seconds: float | None = None
    p90_seconds: float | None = None
    max_seconds: float | None = None

    @classmethod
    def of(cls, values: list[timedelta]) -> "Durations":
        seconds = sorted(v.total_seconds() for v in values)
        if not seconds:
            return cls()
        p90 = seconds[math.ceil(0.9 * len(seconds)) - 1]  # nearest rank
        return cls(
            count=len(seconds),
            median_seconds=statistics.median(seconds),
            p90_seconds=p90,
            max_seconds=seconds[-1],
        )


class Latency(Durations):
    invoices: int = 0


class Backlog(BaseModel):
    currency: str
    amount: Decimal
    records: int


class Waiting(BaseModel):
    workflow: str
    waiting_for: str
    count: int
    oldest_since: datetime
    median_age_seconds: float


class FindingCount(BaseModel):
    kind: str
    found: int
    runs: int
    repaired: int


class Report(BaseModel):
    since: datetime
    until: datetime
    project_activation: Durations
    time_to_invoice: Latency
    unbilled_backlog: list[Backlog]
    approvals_waiting: list[Waiting]
    failed_syncs: dict[str, int]
    dead_letters: dict[str, int]
    """By state."""
    reconciliation: list[FindingCount]


def _at(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _window(settings: Settings, since: datetime, until: datetime) -> str:
    return (
        f"CloseTime >= '{_at(since)}' AND CloseTime < '{_at(until)}' "
        f"AND TaskQueue = '{settings.temporal.task_queue}'"
    )


async def project_activation(
    client: Client, settings: Settings, since: datetime, until: datetime
) -> Durations:
    """Start to close of opportunity-to-project runs that completed with a live project."""
    query = (
        "WorkflowType = 'opportunity-to-project' AND ExecutionStatus = 'Completed' AND "
        + _window(settings, since, until)
    )
    values = [
        e.close_time - e.start_time
        async for e in client.list_workflows(query)
        if e.close_time and e.typed_search_attributes.get(sa.STEP) == ACTIVATED_STEP
    ]
    return Durations.of(values)


async def failed_syncs(
    client: Client, settings: Settings, since: datetime, until: datetime
) -> dict[str, int]:
    """Runs that failed, timed out or were terminated in the period, by workflow."""
    query = f"{FAILED} AND {_window(settings, since, until)}"
    counts = Counter([e.workflow_type async for e in client.list_workflows(query)])
    return dict(sorted(counts.items()))


async def approvals_waiting(client: Client, settings: Settings, now: datetime) -> list[Waiting]:
    """Running workflows waiting for a person now, by workflow and what they wait for."""
    query = (
        f"ExecutionStatus = 'Running' AND {sa.WAITING_FOR.name} IN ('approval', 'correction') "
        f"AND TaskQueue = '{settings.temporal.task_queue}'"
    )
    groups: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    async for e in client.list_workflows(query):
        kind = e.typed_search_attributes.get(sa.WAITING_FOR)
        since = e.typed_search_attributes.get(sa.WAITING_SINCE)
        if kind and since:
            groups[(e.workflow_type, kind)].append(since)
    return [
        Waiting(
            workflow=workflow,
            waiting_for=kind,
            count=len(times),
            oldest_since=min(times),
            median_age_seconds=statistics.median((now - t).total_seconds() for t in times),
        )
        for (workflow, kind), times in sorted(groups.items())
    ]


async def time_to_invoice(
    engine: Engine, psa: PsaConnector, erp: Erp, since: datetime, until: datetime
) -> Latency:
    """For each invoice released in the period (audit log), approval to release of each
    time entry on that invoice (a period rerun after a resubmission has several)."""
    released: dict[str, dict[str, datetime]] = defaultdict(dict)
    """time-to-bill workflow id -> invoice number -> when it was released"""
    for release in audit_entries(engine, kind="released", since=since):
        found = RELEASED_INVOICE.match(release.detail)
        if found and release.at < until and release.workflow_id.startswith("time-to-bill/"):
            released[release.workflow_id][found["number"]] = release.at
    values: list[timedelta] = []
    for workflow_id, release_of in released.items():
        project_id, _, period = workflow_id.removeprefix("time-to-bill/").rpartition("/")
        entries, token = [], None
        while True:
            page = await psa.time_entries(project_id, period, token, 1000)
            entries += page.items
            token = page.next_page_token
            if not token:
                break
        posted = await erp.posted_records(
            "timeBill", [time_bill_external_id(e.id) for e in entries]
        )
        number_of = await erp.invoice_numbers(sorted({r.invoice_id or "" for r in posted.values()}))
        for entry in entries:
            record = posted.get(time_bill_external_id(entry.id))
            number = number_of.get(record.invoice_id or "") if record else None
            released_at = release_of.get(number or "")
            if released_at and entry.approved_at:
                values.append(released_at - entry.approved_at)
    latency = Durations.of(values)
    return Latency(**latency.model_dump(), invoices=sum(map(len, released.values())))


def dead_letters(engine: Engine, since: datetime, until: datetime) -> dict[str, int]:
    """Dead letters of runs that failed in the period, by state (open, retried, discarded)."""
    letters = [d for d in list_dead_letters(engine, since=since) if d.failed_at < until]
    return dict(sorted(Counter(d.state.value for d in letters).items()))


def reconciliation(engine: Engine, since: datetime, until: datetime) -> list[FindingCount]:
    """Findings stored in the period, by kind: how many, over how many runs, repaired."""
    by_kind: dict[str, list[Any]] = defaultdict(list)
    for finding in list_findings(engine, since=since, until=until):
        by_kind[finding.kind.value].append(finding)
    return [
        FindingCount(
            kind=kind,
            found=len(found),
            runs=len({f.run_id for f in found}),
            repaired=sum(1 for f in found if (f.repair or "").startswith(("started", "written"))),
        )
        for kind, found in sorted(by_kind.items())
    ]
