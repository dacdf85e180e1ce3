"""The sagas' records as the CRM, ERP and PSA answer for them, judged against each run's
outcome: a completed run made exactly one of each; a run that did not complete left none.

Read through psflow's connectors (the systems' own APIs: REST, Tryton's JSON-RPC), after the
chaos, with no faults armed; nothing here asks Temporal or psflow's store.
"""

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from chaos.findings import Finding, Kind
from chaos.outcomes import COMPLETED, RUNNING
from connectors.crm import CrmConnector
from connectors.erp import ErpConnector
from connectors.erp_port import Erp
from connectors.psa import PsaConnector
from models.erp import ErpCustomer, ErpProject, customer_external_id
from models.opportunity_to_project import project_external_id
from models.psa import StaffingRequest

JOBS = "/services/rest/record/v1/job"
PROJECTS = "/api/v1/projects"
PSFLOW_ORIGIN = "opportunity-to-project/"
"""A customer's origin when psflow created it: the creating run's workflow id."""
ACTIVE = "active"
OPEN = "open"
READS_AT_ONCE = 8


@dataclass
class SagaRecords:
    opportunity_id: str
    account_id: str
    roles: set[str]
    """The roles sold on the deal: one staffing request each."""
    crm_erp_project_id: str | None
    crm_psa_project_id: str | None
    erp_job: ErpProject | None
    psa_projects: list[dict[str, Any]]
    """Every PSA project with the deal's external id, as the PSA lists it (any status)."""
    requests: dict[str, list[StaffingRequest]] = field(default_factory=dict)
    """PSA project id -> its staffing requests, whatever their status."""


@dataclass
class CustomerRecords:
    account_id: str
    customer: ErpCustomer | None
    jobs: int
    """Projects (jobs) under the customer in the ERP."""


def judge_saga(outcome: str, records: SagaRecords) -> list[Finding]:
    """What is wrong with a finished saga's records; a running one is judged as stuck."""
    if outcome == RUNNING:
        return []
    if outcome == COMPLETED:
        return _completed(records)
    return _left_behind(records, outcome)


def _completed(r: SagaRecords) -> list[Finding]:
    key, found = r.opportunity_id, []

    def add(kind: Kind, record: str, detail: str) -> None:
        found.append(Finding(kind, record, key, detail))

    job = r.erp_job
    if job is None:
        add(Kind.LOST, "ERP job", "completed, but the ERP has no job with its external id")
    live = [p for p in r.psa_projects if p["status"] == ACTIVE]
    if not live:
        add(Kind.LOST, "PSA project", "completed, but no active PSA project has its external id")
    for extra in live[1:]:
        add(Kind.DUPLICATED, "PSA project", f"another active project {extra['id']}")
    if live and job is not None and live[0]["erp_project_id"] != job.id:
        shown = f"{live[0]['id']} points at ERP job {live[0]['erp_project_id']}"
        add(Kind.LOST, "PSA project link", f"{shown}, not {job.id}")
    if live:
        opened = [q for q in r.requests.get(live[0]["id"], []) if q.status == OPEN]
        for role in sorted(r.roles):
            mine = [q for q in opened if q.role == role]
            if not mine:
                add(Kind.LOST, "staffing request", f"no open request for {role}")
            for again in mine[1:]:
                add(Kind.DUPLICATED, "staffing request", f"{again.id}: a second for {role}")
    wanted = (job.id if job else None, live[0]["id"] if live else None)
    if (r.crm_erp_project_id, r.crm_psa_project_id) != wanted:
        shown = f"{r.crm_erp_project_id} / {r.crm_psa_project_id}"
        add(
            Kind.LOST,
            "CRM project ids",
            f"the opportunity shows {shown}, not {wanted[0]} / {wanted[1]}",
        )
    return found


def _left_behind(r: SagaRecords, outcome: str) -> list[Finding]:
    key, found = r.opportunity_id, []

    def add(record: str, detail: str) -> None:
        found.append(Finding(Kind.ORPHANED, record, key, f"{outcome} run left {detail}"))

    if r.erp_job is not None:
        add("ERP job", f"job {r.erp_job.id}")
    for project in r.psa_projects:
        if project["status"] == ACTIVE:
            add("PSA project", f"active project {project['id']}")
        for request in r.requests.get(project["id"], []):
            if request.status == OPEN:
                add("staffing request", f"open request {request.id} ({request.role})")
    if r.crm_erp_project_id or r.crm_psa_project_id:
        add("CRM project ids", f"{r.crm_erp_project_id} / {r.crm_psa_project_id} on the deal")
    return found


def judge_customer(records: CustomerRecords, live_keys: set[str]) -> list[Finding]:
    """A customer psflow created that no job uses and no running saga may still use or undo
    is orphaned; a customer that existed before psflow is the documented `kept` case."""
    customer = records.customer
    if customer is None or not (customer.origin or "").startswith(PSFLOW_ORIGIN):
        return []
    if records.jobs or customer.origin in live_keys:
        return []
    detail = f"customer {customer.id} made by {customer.origin} has no project left"
    return [Finding(Kind.ORPHANED, "ERP customer", records.account_id, detail)]


class SagaReader(ABC):
    """Reads a deal's records in the CRM, ERP and PSA; how many projects a customer has is
    each ERP's own read (`projects_under`)."""

    def __init__(self, crm: CrmConnector, erp: Erp, psa: PsaConnector) -> None:
        self.crm, self.erp, self.psa = crm, erp, psa
        self._limit = asyncio.Semaphore(READS_AT_ONCE)

    async def saga(self, opportunity_id: str) -> SagaRecords:
        """The deal's fields, its ERP job and every PSA project with its external id."""
        async with self._limit:
            deal = await self.crm.get_opportunity(opportunity_id)
            eid = project_external_id(opportunity_id)
            job = await self.erp.get_project(eid)
            response = await self.psa.request("GET", PROJECTS, params={"external_id": eid})
            projects: list[dict[str, Any]] = response.json()["data"]
            requests = {p["id"]: await self.psa.list_staffing_requests(p["id"]) for p in projects}
        return SagaRecords(
            opportunity_id=opportunity_id,
            account_id=deal.account.id,
            roles={line.role for line in deal.lines},
            crm_erp_project_id=deal.erp_project_id,
            crm_psa_project_id=deal.psa_project_id,
            erp_job=job,
            psa_projects=projects,
            requests=requests,
        )

    async def customer(self, account_id: str) -> CustomerRecords:
        """The account's ERP customer and how many projects it has."""
        async with self._limit:
            customer = await self.erp.get_customer(customer_external_id(account_id))
            jobs = await self.projects_under(customer.id) if customer is not None else 0
        return CustomerRecords(account_id, customer, jobs)

    @abstractmethod
    async def projects_under(self, customer_id: str) -> int:
        """How many projects the ERP holds under the customer (its internal id)."""


class NetSuiteSagaReader(SagaReader):
    """SagaReader for the sandbox NetSuite: a customer's jobs by REST."""

    def __init__(self, crm: CrmConnector, erp: ErpConnector, psa: PsaConnector) -> None:
        super().__init__(crm, erp, psa)
        self.netsuite = erp

    async def projects_under(self, customer_id: str) -> int:
        """The customer's jobs, as NetSuite's record collection counts them."""
        params = {"q": f"parent ANY_OF {customer_id}", "limit": 1}
        response = await self.netsuite.request("GET", JOBS, params=params)
        return int(response.json()["totalResults"])
