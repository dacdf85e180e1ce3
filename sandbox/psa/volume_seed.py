"""The PSA's slice of the month-end volume: projects, resources, time entries and expenses."""

import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, time, timedelta
from time import perf_counter
from typing import Any

from fastapi import APIRouter

from sandbox import catalog
from sandbox.faults import ADMIN_PREFIX
from sandbox.psa.change_orders import record_key
from sandbox.psa.ids import (
    ASSIGNMENT,
    CHANGE_ORDER,
    FORECAST_REVISION,
    PROJECT,
    RESOURCE,
    STAFFING_REQUEST,
)
from sandbox.psa.seed_resources import cost_rate
from sandbox.psa.time_schemas import VolumeSeedCounts, VolumeSeedInput
from sandbox.psa.timesheets import EXPENSE, TIME, TimesheetStore
from sandbox.records import RecordStore
from sandbox.volume import (
    INVALID_KINDS,
    Volume,
    VolumeEntry,
    VolumeExpense,
    VolumeProject,
    VolumeWorker,
    volume_entries,
    volume_expenses,
    volume_projects,
    volume_workers,
)

VOLUME_PROJECT = "PRJ-V"
VOLUME_RESOURCE = "RES-V"


def _project(p: VolumeProject, erp_project_id: str) -> dict[str, Any]:
    milestones = [
        {
            "id": m.id,
            "name": m.name,
            "due_date": m.due_date.isoformat(),
            "amount": f"{m.amount:.2f}",
            "completed_on": m.completed_on and m.completed_on.isoformat(),
        }
        for m in p.milestones
    ]
    return {
        "id": p.psa_id,
        "external_id": p.external_id,
        "name": p.name,
        "customer_name": catalog.ACCOUNTS[p.account_index][0],
        "erp_project_id": erp_project_id,
        "status": "closed" if p.closed_on else "active",
        "currency": p.currency,
        "budget": f"{p.budget:.2f}",
        "billing_type": p.billing_type,
        "rate_card": p.rate_card,
        "start_date": p.start_date.isoformat(),
        "milestones": milestones,
        "opportunity_id": p.opportunity_id,
        "closed_on": p.closed_on and p.closed_on.isoformat(),
        "flags": [],
    }


def _resource(w: VolumeWorker, available_from: str) -> dict[str, Any]:
    currency = catalog.LEGAL_ENTITIES[w.legal_entity][2]
    first, _, last = w.name.lower().partition(" ")
    return {
        "id": f"{VOLUME_RESOURCE}{w.worker_id}",
        "external_id": w.worker_id,
        "name": w.name,
        "email": f"{first}.{last}.{w.worker_id}@northwind.example",
        "role": w.role,
        "skills": [],
        "location": catalog.LOCATIONS[w.legal_entity][0],
        "legal_entity": w.legal_entity,
        "cost_center": w.cost_center,
        "cost_rate": str(cost_rate(w.role, currency)),
        "currency": currency,
        "calendar": "Standard 40h",
        "available_from": available_from,
        "active": not w.inactive,
    }


def _approval(record: VolumeEntry | VolumeExpense) -> dict[str, str | None]:
    """The approval fields of a generated record: approved the next day at 17:00 UTC."""
    fields: dict[str, str | None] = {"status": str(record.status), "approver": record.approver}
    if record.status == "approved":
        day = datetime.combine(record.date + timedelta(days=1), time(17), UTC)
        return fields | {"approved_at": day.isoformat(), "rejection_reason": None}
    reason = "Please check the project and hours" if record.status == "rejected" else None
    return fields | {"approved_at": None, "rejection_reason": reason}


def _entry_rows(
    entries: Iterator[VolumeEntry], projects: list[str], seen: Counter[str]
) -> Iterator[tuple[Any, ...]]:
    for e in entries:
        seen[e.status] += 1
        if e.invalid:
            seen[e.invalid] += 1
        record = {
            "id": e.id,
            "worker_id": e.worker_id,
            "project_id": projects[e.project_number - 1],
            "date": e.date.isoformat(),
            "hours": f"{e.hours:.2f}",
            "role": e.role,
            "billable": int(e.billable),
            "notes": e.notes,
            "cost_center": e.cost_center,
        }
        yield TimesheetStore.row(TIME, record | _approval(e), volume=True)


def _expense_rows(
    expenses: Iterator[VolumeExpense], projects: list[str], seen: Counter[str]
) -> Iterator[tuple[Any, ...]]:
    for x in expenses:
        seen[x.status] += 1
        record = {
            "id": x.id,
            "worker_id": x.worker_id,
            "project_id": projects[x.project_number - 1],
            "date": x.date.isoformat(),
            "amount": f"{x.amount:.2f}",
            "currency": x.currency,
            "category": x.category,
            "billable": int(x.billable),
            "notes": x.notes,
            "cost_center": x.cost_center,
        }
        yield TimesheetStore.row(EXPENSE, record | _approval(x), volume=True)


def remove_volume(store: RecordStore, sheets: TimesheetStore) -> None:
    """Remove every generated project, resource, time entry and expense, and whatever was
    made on a generated project since (staffing, assignments, change orders, forecasts)."""
    sheets.clear(volume_only=True)
    for kind, prefix in ((PROJECT, VOLUME_PROJECT), (RESOURCE, VOLUME_RESOURCE)):
        for record in store.all(kind):
            if record["id"].startswith(prefix):
                store.delete(kind, record["id"])
    for kind in (STAFFING_REQUEST, ASSIGNMENT, CHANGE_ORDER, FORECAST_REVISION):
        for record in store.all(kind):
            if str(record.get("project_id", "")).startswith(VOLUME_PROJECT):
                store.delete(kind, record_key(kind, record))


def seed_volume(
    store: RecordStore,
    sheets: TimesheetStore,
    v: Volume,
    erp_project_ids: Mapping[int, str] | None = None,
) -> VolumeSeedCounts:
    """Replace earlier volume data with the volume v describes; each project's ERP project id
    is `erp_project_ids[number]` when given, else the sandbox NetSuite's job id."""
    started = perf_counter()
    remove_volume(store, sheets)
    projects = volume_projects(v)
    erp_ids = erp_project_ids or {p.number: p.erp_job_id for p in projects}
    for p in projects:
        if store.id_for_external(PROJECT, p.external_id) is None:
            record = _project(p, erp_ids[p.number])
            store.insert(PROJECT, p.psa_id, record, external_id=p.external_id)
    available = (projects[0].start_date - timedelta(days=365)).isoformat()
    workers = [w for w in volume_workers(v) if store.id_for_external(RESOURCE, w.worker_id) is None]
    for w in workers:
        store.insert(
            RESOURCE, f"{VOLUME_RESOURCE}{w.worker_id}", _resource(w, available), w.worker_id
        )
    ids = [p.psa_id for p in projects]
    entry_counts: Counter[str] = Counter()
    expense_counts: Counter[str] = Counter()
    entries = sheets.insert_many(TIME, _entry_rows(volume_entries(v), ids, entry_counts))
    expenses = sheets.insert_many(EXPENSE, _expense_rows(volume_expenses(v), ids, expense_counts))
    statuses = ("approved", "submitted", "rejected")
    return VolumeSeedCounts(
        period=v.period,
        projects=len(projects),
        resources=len(workers),
        time_entries=entries,
        expenses=expenses,
        time_entries_by_status={s: entry_counts[s] for s in statuses},
        expenses_by_status={s: expense_counts[s] for s in statuses},
        invalid={kind: entry_counts[kind] for kind in INVALID_KINDS},
        seconds=round(perf_counter() - started, 2),
    )


def volume_admin_router(
    store: RecordStore, sheets: TimesheetStore, lock: threading.RLock
) -> APIRouter:
    """POST /__admin/seed/volume: the PSA's slice of a generated month-end."""
    router = APIRouter(prefix=ADMIN_PREFIX, tags=["sandbox admin"])

    @router.post("/seed/volume")
    def seed_volume_data(data: VolumeSeedInput) -> VolumeSeedCounts:
        """Replace any earlier volume data with the generated set for (projects, entries,
        period, seed): projects PRJ-V00001 onwards, a resource per volume worker, their
        time entries and expenses. Answers how many of each, per status and invalid kind.
        The projects' ERP ids are the sandbox NetSuite's unless `erp_project_ids` gives them."""
        volume = Volume(**data.model_dump(exclude={"erp_project_ids"}))
        with lock:
            return seed_volume(store, sheets, volume, data.erp_project_ids)

    return router
