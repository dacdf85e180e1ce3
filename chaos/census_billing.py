"""The month-end's records as the PSA, ERP and CRM answer for them: every approved, valid
entry posted exactly once and, if billable, on one released invoice; one live invoice per
project and period; the CRM showing the released one.

Which entries are invalid (inactive worker, closed project, ...) is the volume's own label:
the seed built them so, and month-end must leave them to the exception list.
"""

from abc import ABC, abstractmethod
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from chaos.findings import Finding, Kind
from connectors.crm import CrmConnector
from connectors.erp import ErpConnector
from connectors.psa import PsaConnector
from models.billing import (
    Invoice,
    InvoiceStatus,
    expense_external_id,
    period_bounds,
    time_bill_external_id,
    time_to_bill_id,
)
from sandbox.erp.volume_seed import MANUAL_IMPORT
from sandbox.volume import (
    Volume,
    VolumeProject,
    volume_entries,
    volume_projects,
)

ALREADY_POSTED = "already posted"
BILLED = "T"


@dataclass
class Posting:
    """A posted time entry or expense as the ERP answers for it: NetSuite's time bill or
    expense report, Tryton's timesheet line or psflow expense; `job` its project's id."""

    external_id: str
    job: str
    billable: bool
    invoice: str | None
    source: str


@dataclass
class BillingRecords:
    period: str
    projects: list[VolumeProject]
    time: dict[str, str] = field(default_factory=dict)
    """Approved time entry id -> its PSA project, as the PSA lists them."""
    expenses: dict[str, str] = field(default_factory=dict)
    invalid: dict[str, str] = field(default_factory=dict)
    """Entry id -> the invalid kind the volume built it as."""
    time_bills: list[Posting] = field(default_factory=list)
    expense_reports: list[Posting] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    crm_invoice: dict[str, tuple[str, str] | None] = field(default_factory=dict)
    """Opportunity id -> (invoice number, status) the CRM shows, if any."""


def judge_billing(r: BillingRecords, live: set[str]) -> list[Finding]:
    """What is wrong with the period's postings and invoices; `live` are the workflow ids of
    time-to-bill runs still running (their records are not judged)."""
    job_of = {p.psa_id: p.erp_job_id for p in r.projects}
    settled = {p.psa_id for p in r.projects if time_to_bill_id(p.psa_id, r.period) not in live}
    invoices = {i.id: i for i in r.invoices}
    found: list[Finding] = []
    kinds = (
        ("time bill", r.time, r.time_bills, time_bill_external_id),
        ("expense report", r.expenses, r.expense_reports, expense_external_id),
    )
    for record, approved, postings, external_id in kinds:
        by_eid: dict[str, list[Posting]] = defaultdict(list)
        for posting in postings:
            by_eid[posting.external_id].append(posting)
        for entry, project in approved.items():
            if project in settled:
                found += _entry(
                    record,
                    entry,
                    r.invalid.get(entry),
                    by_eid.get(external_id(entry), []),
                    invoices,
                )
        wanted = {external_id(e) for e in approved}
        for posting in postings:
            if posting.external_id not in wanted and posting.source != MANUAL_IMPORT:
                detail = f"{posting.external_id} posted, but no approved entry has it"
                found.append(Finding(Kind.ORPHANED, record, posting.external_id, detail))
    found += _invoices(r, job_of, settled)
    return found


def _entry(
    record: str,
    entry: str,
    invalid: str | None,
    postings: list[Posting],
    invoices: dict[str, Invoice],
) -> list[Finding]:
    if invalid == ALREADY_POSTED:
        again = [p for p in postings if p.source != MANUAL_IMPORT]
        return [
            Finding(
                Kind.DUPLICATED,
                record,
                entry,
                f"posted again by {p.source}, over the hand-imported one",
            )
            for p in again
        ]
    if invalid:
        return []  # the exception list's, not the ERP's
    if not postings:
        return [Finding(Kind.LOST, record, entry, "approved and valid, but not in the ERP")]
    found = [
        Finding(Kind.DUPLICATED, record, entry, f"posted {len(postings)} times")
        for _ in postings[1:]
    ]
    posting = postings[0]
    if posting.billable:
        invoice = invoices.get(posting.invoice or "")
        if invoice is None or invoice.status is not InvoiceStatus.RELEASED:
            shown = f"{invoice.number} {invoice.status}" if invoice else "none"
            detail = f"billable and posted, but not on a released invoice (invoice: {shown})"
            found.append(Finding(Kind.LOST, "invoice line", entry, detail))
    return found


def _invoices(r: BillingRecords, job_of: dict[str, str], settled: set[str]) -> list[Finding]:
    found: list[Finding] = []
    by_job: dict[str, list[Invoice]] = defaultdict(list)
    for invoice in r.invoices:
        if invoice.period == r.period and invoice.status is not InvoiceStatus.VOIDED:
            by_job[invoice.project_id].append(invoice)
    for project in r.projects:
        if project.psa_id not in settled:
            continue
        key = f"{project.psa_id}/{r.period}"
        live = by_job.get(job_of[project.psa_id], [])
        for extra in live[1:]:
            found.append(
                Finding(Kind.DUPLICATED, "invoice", key, f"a second live invoice {extra.number}")
            )
        for invoice in live:
            if invoice.status is not InvoiceStatus.RELEASED:
                detail = f"invoice {invoice.number} left {invoice.status} with no run to finish it"
                found.append(Finding(Kind.ORPHANED, "invoice", key, detail))
        released = [i for i in live if i.status is InvoiceStatus.RELEASED]
        shown = r.crm_invoice.get(project.opportunity_id)
        if released and shown != (released[-1].number, InvoiceStatus.RELEASED.value):
            detail = f"the CRM shows {shown or 'no invoice'}, not {released[-1].number} released"
            found.append(Finding(Kind.LOST, "CRM invoice status", key, detail))
    return found


class BillingReader(ABC):
    """Reads the period's approved entries (PSA) and invoice status (CRM) of the volume's
    projects; their postings and invoices are each ERP's own read (`read_erp`)."""

    def __init__(self, crm: CrmConnector, psa: PsaConnector) -> None:
        self.crm, self.psa = crm, psa

    async def read(self, volume: Volume) -> BillingRecords:
        """Approved entries (PSA), postings and invoices (ERP), invoice status (CRM)."""
        records = BillingRecords(volume.period, self.projects(volume))
        records.invalid = self.invalid(volume)
        for project in records.projects:
            for kind, approved in (("time", records.time), ("expenses", records.expenses)):
                found = await self._approved(project.psa_id, volume.period, kind)
                approved |= {entry: project.psa_id for entry in found}
            shown = await self.crm.invoice_status(project.opportunity_id)
            records.crm_invoice[project.opportunity_id] = (
                (shown.invoice_number, shown.status.value) if shown else None
            )
        await self.read_erp(records)
        return records

    def projects(self, volume: Volume) -> list[VolumeProject]:
        """The volume's projects, `erp_job_id` their ERP project's id."""
        return volume_projects(volume)

    def invalid(self, volume: Volume) -> dict[str, str]:
        """Entry id -> why month-end must leave it to the exception list."""
        return {e.id: e.invalid for e in volume_entries(volume) if e.invalid}

    @abstractmethod
    async def read_erp(self, records: BillingRecords) -> None:
        """Fill in the postings and invoices of `records.projects` in `records.period`."""

    async def _approved(self, project_id: str, period: str, kind: str) -> list[str]:
        """The ids of the project's approved time entries or expenses in the period."""
        ids: list[str] = []
        token: str | None = None
        while True:
            if kind == "time":
                page: Any = await self.psa.time_entries(project_id, period, token)
            else:
                page = await self.psa.expenses(project_id, period, token)
            ids += [item.id for item in page.items]
            token = page.next_page_token
            if token is None:
                return ids


class NetSuiteBillingReader(BillingReader):
    """BillingReader for the sandbox NetSuite: postings by SuiteQL, invoices by REST."""

    def __init__(self, crm: CrmConnector, erp: ErpConnector, psa: PsaConnector) -> None:
        super().__init__(crm, psa)
        self.erp = erp

    async def read_erp(self, records: BillingRecords) -> None:
        """Time bills, expense reports and invoices of the projects' jobs."""
        jobs = [p.erp_job_id for p in records.projects]
        records.time_bills = await self._postings("timebill", jobs, records.period)
        records.expense_reports = await self._postings("expensereport", jobs, records.period)
        query = f"job ANY_OF [{', '.join(jobs)}]"
        records.invoices = await self.erp.invoices_where(query)

    async def _postings(self, table: str, jobs: list[str], period: str) -> list[Posting]:
        first, last = period_bounds(period)
        rows = await self.erp.suiteql(
            f"SELECT id, externalid, customer, isbillable, invoice, custcol_psflow_source "
            f"FROM {table} WHERE customer IN ({', '.join(jobs)}) "
            f"AND trandate BETWEEN '{first.isoformat()}' AND '{last.isoformat()}'"
        )
        return [
            Posting(
                external_id=str(row.get("externalid") or ""),
                job=str(row.get("customer") or ""),
                billable=row.get("isbillable") == BILLED,
                invoice=str(row["invoice"]) if row.get("invoice") else None,
                source=str(row.get("custcol_psflow_source") or ""),
            )
            for row in rows
        ]
