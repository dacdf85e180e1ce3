"""The month-end volume (sandbox/volume.py) in a Tryton ERP: what sandbox/erp/volume_seed.py
puts in the sandbox NetSuite, written through TrytonErpConnector's own methods.

A project per volume project (external id the volume's, under its pre-existing customer, in
the company of the customer's legal entity; Done when the project closed), an employee
hcm-<worker id> per volume worker (company of its legal entity, labour cost, cost center;
inactive ones inactive) and, for every entry of the invalid kind "already posted", the
timesheet line someone imported by hand (source "manual-import", no rate: never invoiced).

Tryton gives the ids: the seed answers them, and the PSA is seeded with the project ids
(`erp_project_ids` of its volume request). Seeding the same volume again adds nothing and
changes no value (projects are upserted with the same values, the rest left as found). Unlike
the sandbox's seed it replaces nothing (posted invoices stay in the books): a database takes
one volume, and a project of another volume under the same external id is refused. Closing a
project has no connector method (its delete_project closes only a project with time): the
seed writes the status itself.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import httpx

from connectors.tryton import TrytonErpConnector
from models.billing import PostingOutcome, TimePosting, time_bill_external_id
from models.erp import ErpEmployee, ErpEmployeeInput, ErpProject, ErpProjectInput
from models.hire_to_staff import resource_external_id
from sandbox import catalog
from sandbox.erp.volume_seed import COST_SHARE, DEPARTMENT_OF_ROLE, MANUAL_IMPORT
from sandbox.volume import (
    ALREADY_POSTED,
    Volume,
    VolumeProject,
    VolumeWorker,
    volume_entries,
    volume_projects,
    volume_workers,
)

ORIGIN = "volume-seed"


@dataclass(frozen=True)
class TrytonVolume:
    """What the seed left in Tryton: its ids, and the hand imports Tryton refused."""

    project_ids: dict[int, str]
    """Volume project number -> Tryton project id (the PSA project's erp_project_id)."""
    employee_ids: dict[str, str]
    """Worker id -> Tryton employee id."""
    already_posted: int
    """Hand-imported timesheet lines in Tryton."""
    refused: dict[str, str] = field(default_factory=dict)
    """Entry id -> why Tryton took no hand import of it (an employee of another company)."""


def subsidiary_of(project: VolumeProject) -> str:
    """The subsidiary (Tryton company) of the project's customer's legal entity."""
    return catalog.LEGAL_ENTITIES[catalog.ACCOUNTS[project.account_index][2]][0]


def labour_cost(worker: VolumeWorker) -> Decimal:
    """The worker's hourly cost, as the sandbox NetSuite's volume seed sets it."""
    currency = catalog.LEGAL_ENTITIES[worker.legal_entity][2]
    rates = catalog.RATE_CARDS[f"STD-{currency}-2026"][2]
    return (rates.get(worker.role, Decimal(100)) * COST_SHARE).quantize(Decimal("0.01"))


def volume_body(volume: Volume, project_ids: dict[int, str]) -> dict[str, object]:
    """A sandbox's volume request naming Tryton's project ids (`erp_project_ids`)."""
    return {
        "projects": volume.projects, "entries": volume.entries, "period": volume.period,
        "seed": volume.seed, "erp_project_ids": project_ids,
    }  # fmt: skip


async def seed_linked(
    volume: Volume, erp: TrytonErpConnector, sandbox_urls: Iterable[str]
) -> TrytonVolume:
    """The volume in Tryton, then in each sandbox (the PSA, the CRM: their base URLs) with
    Tryton's project ids."""
    seeded = await seed_tryton_volume(volume, erp)
    body = volume_body(volume, seeded.project_ids)
    async with httpx.AsyncClient(timeout=600) as http:
        for url in sandbox_urls:
            (await http.post(f"{url}/__admin/seed/volume", json=body)).raise_for_status()
    return seeded


async def seed_tryton_volume(volume: Volume, erp: TrytonErpConnector) -> TrytonVolume:
    """Create (or find) the volume's projects, employees and hand imports in Tryton."""
    projects = await _projects(volume, erp)
    employees = await _employees(volume, erp)
    posted, refused = await _already_posted(volume, erp, projects, employees)
    return TrytonVolume(projects, employees, posted, refused)


async def _projects(volume: Volume, erp: TrytonErpConnector) -> dict[int, str]:
    customers: dict[str, str] = {}
    ids: dict[int, str] = {}
    for project in volume_projects(volume):
        key = project.erp_customer_external_id
        if key not in customers:
            customer = await erp.get_customer(key)
            if customer is None:
                raise LookupError(f"no Tryton customer {key}")
            customers[key] = customer.id
        ids[project.number] = (await _project(erp, project, customers[key])).id
        if project.closed_on is not None:
            await _close(erp, ids[project.number])
    return ids


async def _project(erp: TrytonErpConnector, project: VolumeProject, customer: str) -> ErpProject:
    wanted = ErpProjectInput(
        external_id=project.external_id,
        name=project.name,
        customer_id=customer,
        subsidiary_id=subsidiary_of(project),
        currency=project.currency,
        budget=project.budget,
        billing_type=project.billing_type,
    )
    found = await erp.get_project(project.external_id)
    if found is not None and found.name != project.name:
        raise ValueError(
            f"Tryton's project {project.external_id} is {found.name!r}, of another volume: "
            "seed a fresh database"
        )
    return await erp.upsert_project(wanted)


async def _close(erp: TrytonErpConnector, project_id: str) -> None:
    """Status Done, as the sandbox NetSuite's job is Closed (Tryton wants 100 % progress)."""
    done = await erp.rpc.model("project.work.status", "search", [("progress", "=", 1)], 0, 1, None)
    closed = {"status": done[0], "progress": 1.0}
    (row,) = await erp.rpc.model("project.work", "read", [int(project_id)], ["status"])
    if row["status"] != done[0]:
        await erp.rpc.model("project.work", "write", [int(project_id)], closed)


def _employee_input(worker: VolumeWorker) -> ErpEmployeeInput:
    first, _, last = worker.name.partition(" ")
    subsidiary, _, currency = catalog.LEGAL_ENTITIES[worker.legal_entity]
    department, _ = catalog.DEPARTMENTS[DEPARTMENT_OF_ROLE.get(worker.role, "DEP-CONS")]
    return ErpEmployeeInput(
        external_id=resource_external_id(worker.worker_id),
        first_name=first,
        last_name=last or first,
        subsidiary_id=subsidiary,
        department_id=department,
        cost_center=worker.cost_center,
        labor_cost=labour_cost(worker),
        currency=currency,
        origin=ORIGIN,
    )


async def _employees(volume: Volume, erp: TrytonErpConnector) -> dict[str, str]:
    workers = volume_workers(volume)
    keys = [resource_external_id(w.worker_id) for w in workers]
    found = await erp.employees_by_external_id(keys)
    ids: dict[str, str] = {}
    for worker, key in zip(workers, keys, strict=True):
        wanted = _employee_input(worker)
        employee = found.get(key)
        if employee is None or not _same(employee, wanted):
            employee = await erp.upsert_employee(wanted)
        if employee.inactive != worker.inactive:
            await erp.set_employee_inactive(key, worker.inactive)
        ids[worker.worker_id] = employee.id
    return ids


def _same(employee: ErpEmployee, wanted: ErpEmployeeInput) -> bool:
    return (
        employee.name == f"{wanted.first_name} {wanted.last_name}"
        and employee.subsidiary_id == wanted.subsidiary_id
        and employee.cost_center == wanted.cost_center
        and employee.labor_cost == wanted.labor_cost
    )


async def _already_posted(
    volume: Volume, erp: TrytonErpConnector, projects: dict[int, str], employees: dict[str, str]
) -> tuple[int, dict[str, str]]:
    postings = [
        TimePosting(
            external_id=time_bill_external_id(e.id),
            entry_id=e.id,
            employee_id=employees[e.worker_id],
            project_id=projects[e.project_number],
            date=e.date,
            hours=e.hours,
            role=e.role,
            billable=e.billable,
            cost_center=e.cost_center,
            approver=e.approver or "",
            source=MANUAL_IMPORT,
            memo=e.notes,
        )
        for e in volume_entries(volume)
        if e.invalid == ALREADY_POSTED
    ]
    there = await erp.posted_records("timeBill", [p.external_id for p in postings])
    missing = [p for p in postings if p.external_id not in there]
    results = await erp.upsert_time_bills(missing) if missing else []
    by_key = {p.external_id: p.entry_id for p in missing}
    refused = {
        by_key[r.external_id]: r.message or ""
        for r in results
        if r.outcome is PostingOutcome.FAILED
    }
    return len(postings) - len(refused), refused
