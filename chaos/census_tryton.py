"""The census's reads of a Tryton ERP, for the same judges as the sandbox NetSuite's
(chaos/census_sagas.py, census_billing.py): as Tryton's admin, who sees every company's
records, through TrytonErpConnector's own reads where it has them and JSON-RPC where not.

Tryton books an employee's time and expenses only in the employee's own company: an approved
entry of a worker lent from another company is refused and left to the exception list
(tests/test_tryton_month_end.py), so the census counts it with the volume's invalid entries.
"""

from dataclasses import replace
from typing import Any

import httpx

from chaos.census_billing import BillingReader, BillingRecords, Posting
from chaos.census_sagas import SagaReader
from chaos.plan import Plan
from connectors.crm import CrmConnector
from connectors.psa import PsaConnector
from connectors.tryton import TrytonErpConnector
from connectors.tryton_records import KEY
from connectors.tryton_rpc import TrytonRpc
from models.billing import period_bounds
from sandbox import catalog
from sandbox.volume import (
    Volume,
    VolumeProject,
    volume_entries,
    volume_expenses,
    volume_projects,
    volume_workers,
)
from stack.tryton import ADMIN_PASSWORD
from stack.tryton_volume import TrytonVolume, subsidiary_of

ADMIN = "admin"
LENT = "worker of another company"
"""Why Tryton refuses an entry the volume built valid."""
POSTING_FIELDS = [KEY, "work", "psflow_billable", "invoice_line.invoice", "psflow_source"]
READ_TIMEOUT = 60.0


def admin_erp(url: str) -> TrytonErpConnector:
    """A TrytonErpConnector as Tryton's admin, on the database's JSON-RPC URL."""
    client = httpx.AsyncClient(base_url=url, timeout=READ_TIMEOUT)
    return TrytonErpConnector(TrytonRpc(client, ADMIN, ADMIN_PASSWORD))


class TrytonSagaReader(SagaReader):
    """SagaReader for Tryton: a customer's projects are the project works naming its party."""

    def __init__(self, crm: CrmConnector, erp: TrytonErpConnector, psa: PsaConnector) -> None:
        super().__init__(crm, erp, psa)
        self.tryton = erp

    async def projects_under(self, customer_id: str) -> int:
        """Projects of the party, closed ones too."""
        domain = [("party", "=", int(customer_id)), ("type", "=", "project")]
        count = await self.tryton.rpc.model(
            "project.work", "search_count", domain, active_test=False
        )
        return int(count)


class TrytonBillingReader(BillingReader):
    """BillingReader for Tryton: timesheet lines, psflow expenses and invoices of the volume's
    projects, which carry Tryton's ids (`project_ids`: volume project number -> id)."""

    def __init__(
        self,
        crm: CrmConnector,
        erp: TrytonErpConnector,
        psa: PsaConnector,
        project_ids: dict[int, str],
    ) -> None:
        super().__init__(crm, psa)
        self.erp, self.project_ids = erp, project_ids

    def projects(self, volume: Volume) -> list[VolumeProject]:
        return with_erp_ids(volume, self.project_ids)

    def invalid(self, volume: Volume) -> dict[str, str]:
        """The volume's invalid entries, and the entries and expenses Tryton refuses."""
        invalid = super().invalid(volume)
        return invalid | {item: LENT for item in lent(volume) if item not in invalid}

    async def read_erp(self, records: BillingRecords) -> None:
        """Timesheet lines and expenses dated in the period, and every psflow invoice."""
        rpc = self.erp.rpc
        ids = [int(p.erp_job_id) for p in records.projects]
        first, last = period_bounds(records.period)
        dated = [("date", ">=", first), ("date", "<=", last)]
        works = await rpc.model(
            "project.work", "search_read", [("id", "in", ids)], 0, None, None,
            ["timesheet_works"], active_test=False,
        )  # fmt: skip
        project_of = {w: str(row["id"]) for row in works for w in row["timesheet_works"]}
        lines = await rpc.model(
            "timesheet.line", "search_read", [("work", "in", list(project_of)), *dated],
            0, None, None, POSTING_FIELDS,
        )  # fmt: skip
        records.time_bills = [_posting(row, project_of[row["work"]]) for row in lines]
        expenses = await rpc.model(
            "psflow.expense", "search_read", [("work", "in", ids), *dated], 0, None, None,
            POSTING_FIELDS,
        )  # fmt: skip
        records.expense_reports = [_posting(row, str(row["work"])) for row in expenses]
        headers = await self.erp.invoices_by_project([p.erp_job_id for p in records.projects])
        for header in (h for found in headers.values() for h in found):
            invoice = await self.erp.get_invoice(header.external_id)
            if invoice is not None:
                records.invoices.append(invoice)


def with_erp_ids(volume: Volume, project_ids: dict[int, str]) -> list[VolumeProject]:
    """The volume's projects, each with its Tryton id (volume project number -> id)."""
    return [replace(p, erp_job_id=project_ids[p.number]) for p in volume_projects(volume)]


def lent(volume: Volume) -> set[str]:
    """The volume's time entries and expenses whose worker is employed in another company
    than the project's: Tryton refuses to book them."""
    company = {
        w.worker_id: catalog.LEGAL_ENTITIES[w.legal_entity][0] for w in volume_workers(volume)
    }
    project_company = {p.number: subsidiary_of(p) for p in volume_projects(volume)}
    made = [(e.id, e.worker_id, e.project_number) for e in volume_entries(volume)]
    made += [(x.id, x.worker_id, x.project_number) for x in volume_expenses(volume)]
    return {item for item, worker, project in made if company[worker] != project_company[project]}


def _posting(row: dict[str, Any], project_id: str) -> Posting:
    invoice = (row.get("invoice_line.") or {}).get("invoice")
    return Posting(
        external_id=str(row.get(KEY) or ""),
        job=project_id,
        billable=bool(row.get("psflow_billable")),
        invoice=str(invoice) if invoice else None,
        source=str(row.get("psflow_source") or ""),
    )


def tryton_notes(plan: Plan, seeded: TrytonVolume, period: BillingRecords) -> list[str]:
    """What a run against Tryton does differently, for the report's notes."""
    approved = [*period.time, *period.expenses]
    refused = sum(1 for entry in approved if period.invalid.get(entry) == LENT)
    notes = [
        "ERP: a trytond of the run's own on a fresh copy of the prepared database; the "
        "sandbox NetSuite took no call",
        f"429 storms, lost answers and slowed steps on "
        f"{' and '.join(s.upper() for s in plan.fault_systems)} only: a trytond has no fault "
        "routes",
        f"{refused} approved entries and expenses of workers lent from another company: Tryton "
        "refuses them, so they are the exception list's, not judged lost",
    ]
    if plan.outage_system == "erp":
        notes.insert(
            1,
            f"ERP outage: trytond SIGKILLed for {plan.outage_seconds:.0f} s, then "
            "started again on its database",
        )
    if seeded.refused:
        notes.append(
            f"{len(seeded.refused)} hand imports Tryton refused at the seed "
            "(employees of another company)"
        )
    return notes
