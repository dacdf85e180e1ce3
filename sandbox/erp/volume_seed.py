"""Month-end volume in the ERP: `POST /__admin/seed/volume` {projects, entries, period, seed}.

sandbox.volume generates the same projects, workers and entries in every system from these
four numbers; the ERP's slice is a job per volume project (internal id erp_job_id, externalId
the project's external id, under its pre-existing customer; Closed when the project closed),
an employee per volume worker (internal id erp_employee_id, externalId hcm-<worker id>, cost
center, isInactive) and, for every entry whose invalid kind is "already posted", the time bill
someone imported by hand (externalId psa-time-<entry id>, custcol_psflow_source
"manual-import", no rate: not billed by the hour). A new seed replaces the previous volume
data, with the time bills, expense reports and invoices of volume jobs.
"""

from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from models.billing import check_period, time_bill_external_id
from sandbox import catalog
from sandbox.erp import seed as data
from sandbox.erp.billing_query import TIME_BILL
from sandbox.erp.billing_store import BillingStore
from sandbox.faults import ADMIN_PREFIX
from sandbox.records import RecordStore

if TYPE_CHECKING:
    from sandbox import volume

# Internal id ranges of volume jobs and employees (erp_job_id = 700000 + n, and so on).
VOLUME_JOBS = (700_001, 799_999)
VOLUME_EMPLOYEES = (800_001, 899_999)
MANUAL_IMPORT = "manual-import"
ALREADY_POSTED = "already posted"
BILLING_TYPE_IDS = {"Time and Materials": "TM", "Fixed Fee": "FFM"}
DEPARTMENT_OF_ROLE = {
    "Partner": "DEP-PMO",
    "Engagement Manager": "DEP-PMO",
    "Solution Architect": "DEP-ARCH",
    "Analyst": "DEP-DATA",
}
# Hourly labour cost as a share of the standard bill rate.
COST_SHARE = Decimal("0.45")


class VolumeRequest(BaseModel):
    projects: int = Field(500, ge=1, le=VOLUME_JOBS[1] - VOLUME_JOBS[0] + 1)
    entries: int = Field(100_000, ge=0)
    period: str = "2026-10"
    seed: int = 7


def _in(id: str, bounds: tuple[int, int]) -> bool:
    return id.isascii() and id.isdigit() and bounds[0] <= int(id) <= bounds[1]


def remove(store: RecordStore, billing: BillingStore) -> None:
    """Take out every volume job and employee, and the billing records of volume jobs."""
    billing.clear_jobs(*VOLUME_JOBS)
    for kind, bounds in (("job", VOLUME_JOBS), ("employee", VOLUME_EMPLOYEES)):
        for record in store.all(kind):
            if _in(str(record["id"]), bounds):
                store.delete(kind, str(record["id"]))


def _job(store: RecordStore, project: "volume.VolumeProject", created: str) -> dict[str, Any]:
    customer_id = store.id_for_external("customer", project.erp_customer_external_id)
    customer = store.get("customer", customer_id or "") or {}
    if not customer:
        raise LookupError(f"no ERP customer {project.erp_customer_external_id}")
    parent = data.ref(customer["id"], customer["companyName"])
    status = "1" if project.closed_on else "2"
    billing = BILLING_TYPE_IDS.get(project.billing_type, "TM")
    return {
        "id": project.erp_job_id,
        "externalId": project.external_id,
        "entityId": project.name,
        "companyName": project.name,
        "parent": parent,
        "customer": parent,
        "subsidiary": customer["subsidiary"],
        "currency": customer["currency"],
        "jobBillingType": data.ref(billing, data.BILLING_TYPES[billing]),
        "custentity_psflow_budget": float(project.budget),
        "entityStatus": data.ref(status, data.JOB_STATUSES[status]),
        "dateCreated": created,
        "lastModifiedDate": created,
    }


def _employee(worker: "volume.VolumeWorker", created: str) -> dict[str, Any]:
    first, _, last = worker.name.partition(" ")
    sub_id, sub_name, currency = catalog.LEGAL_ENTITIES[worker.legal_entity]
    dep_id, dep_name = catalog.DEPARTMENTS[DEPARTMENT_OF_ROLE.get(worker.role, "DEP-CONS")]
    rates = catalog.RATE_CARDS[f"STD-{currency}-2026"][2]
    cost = (rates.get(worker.role, Decimal(100)) * COST_SHARE).quantize(Decimal("0.01"))
    return {
        "id": worker.erp_employee_id,
        "externalId": f"hcm-{worker.worker_id}",
        "entityId": worker.name,
        "firstName": first,
        "lastName": last or first,
        "email": f"{first}.{last}.{worker.worker_id}@{data.EMAIL_DOMAIN}".lower(),
        "title": worker.role,
        "subsidiary": data.ref(sub_id, sub_name),
        "department": data.ref(dep_id, dep_name),
        "custentity_psflow_cost_center": worker.cost_center,
        "laborCost": float(cost),
        "isInactive": worker.inactive,
        "dateCreated": created,
        "lastModifiedDate": created,
    }


def _manual_time_bill(
    entry: "volume.VolumeEntry",
    job: dict[str, Any],
    employee: dict[str, Any],
    created: str,
) -> dict[str, Any]:
    minutes = int(entry.hours * 60)
    record = {
        "externalId": time_bill_external_id(entry.id),
        "employee": data.ref(employee["id"], employee["entityId"]),
        "customer": data.ref(job["id"], job["companyName"]),
        "hours": f"{minutes // 60}:{minutes % 60:02d}",
        "tranDate": entry.date.isoformat(),
        "isBillable": entry.billable,
        "memo": entry.notes,
        "custcol_psflow_role": entry.role,
        "custcol_psflow_cost_center": entry.cost_center,
        "custcol_psflow_approver": entry.approver,
        "custcol_psflow_source": MANUAL_IMPORT,
        "dateCreated": created,
        "lastModifiedDate": created,
    }
    return {k: v for k, v in record.items() if v is not None}


def seed(store: RecordStore, billing: BillingStore, request: VolumeRequest) -> dict[str, Any]:
    """Replace the volume data with the generated set; counts of what was created."""
    from sandbox import volume  # imported when asked: the module is the PSA's, and large

    check_period(request.period)
    spec = volume.Volume(**request.model_dump())
    remove(store, billing)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    jobs = {p.number: _job(store, p, created) for p in volume.volume_projects(spec)}
    for job in jobs.values():
        store.insert("job", job["id"], job, job["externalId"])
    employees = {w.worker_id: _employee(w, created) for w in volume.volume_workers(spec)}
    for employee in employees.values():
        store.insert("employee", employee["id"], employee, employee["externalId"])
    manual = [
        _manual_time_bill(e, jobs[e.project_number], employees[e.worker_id], created)
        for e in volume.volume_entries(spec)
        if e.invalid == ALREADY_POSTED
    ]
    billing.insert_many(TIME_BILL, manual)
    return {
        "volume": asdict(spec),
        "jobs": len(jobs),
        "closedJobs": sum(1 for j in jobs.values() if j["entityStatus"]["id"] == "1"),
        "employees": len(employees),
        "inactiveEmployees": sum(1 for e in employees.values() if e["isInactive"]),
        "timeBills": len(manual),
    }


def volume_router(store: RecordStore, billing: BillingStore) -> APIRouter:
    """The ERP's own admin route for month-end volume."""
    router = APIRouter(prefix=ADMIN_PREFIX, tags=["sandbox admin"])

    @router.post("/seed/volume")
    def seed_volume(request: VolumeRequest) -> dict[str, Any]:
        """Replace any earlier volume data with the set generated from these numbers."""
        return seed(store, billing, request)

    return router
