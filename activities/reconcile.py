"""Reconciliation: read the systems a page at a time, store what differs, start repairs.

Each check stores its findings in psflow's store under the run's id and hands the workflow
only counts and the ids it may repair, so the history stays small whatever the volume.
"""

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import Client

from activities.reconcile_rules import (
    in_scope,
    invoice_drift,
    missing_project,
    psa_without_erp,
    unposted_time,
)
from application.repairs import NO_REPAIR, start_repair
from connectors.crm import CrmConnector
from connectors.crm_query import closed_won_opportunities
from connectors.erp_port import Erp
from connectors.psa import PsaConnector
from models.billing import (
    EntryKind,
    ExceptionState,
    Invoice,
    InvoiceStatusUpdate,
    TimeEntry,
    time_bill_external_id,
)
from models.opportunity_to_project import (
    project_external_id,
)
from models.reconcile import (
    CheckPage,
    CheckRequest,
    Finding,
    FindingKind,
    InvoiceRepairRequest,
    InvoiceRepairResult,
    OpportunityLinks,
    ReconcilePolicy,
    RepairOutcome,
    RepairRequest,
    RepairTarget,
)
from store.exceptions import list_exceptions
from store.findings import record_findings, set_repair

ENTRY_PAGE = 1000
NOT_ALLOWED = "not repaired: policy does not allow it ([reconcile] repair)"
OVER_LIMIT = "not repaired: over this run's limit ([reconcile] max_repairs)"
WRITTEN = "written to CRM"


class ReconcileActivities:
    def __init__(
        self,
        crm: CrmConnector,
        erp: Erp,
        psa: PsaConnector,
        engine: Engine,
        client: Client,
        policy: ReconcilePolicy,
    ) -> None:
        self._crm, self._erp, self._psa = crm, erp, psa
        self._engine = engine
        self._client = client
        self._policy = policy

    @activity.defn(name="reconcile.policy")
    async def policy(self) -> ReconcilePolicy:
        """Which kinds psflow repairs, the unposted-time threshold, the repair limit."""
        return self._policy

    # ---- checks ----------------------------------------------------------------------

    @activity.defn(name="reconcile.check_opportunities")
    async def check_opportunities(self, request: CheckRequest) -> CheckPage:
        """Closed-won deals with no ERP or PSA project, one page of them."""
        since = request.policy.closed_won_since
        page, next_token = await self._opportunities(request, lambda o: in_scope(o, since))
        # The ERP is asked once for the page's deals it has no project id for.
        unlinked = [project_external_id(o.id) for o in page if not o.erp_project_id]
        no_job, in_psa = await asyncio.gather(
            self._erp.missing_projects(unlinked),
            asyncio.gather(*(self._has_psa(o) for o in page)),
        )
        findings = [
            finding
            for opportunity, psa in zip(page, in_psa, strict=True)
            if (finding := missing_project(opportunity, self._in_erp(opportunity, no_job), psa))
            is not None
        ]
        return await self._store(request, findings, next_token)

    @activity.defn(name="reconcile.check_invoice_status")
    async def check_invoice_status(self, request: CheckRequest) -> CheckPage:
        """Deals whose CRM invoice status or number differs from the ERP's, one page."""
        # Every deal with an ERP project, whenever it closed: its invoices are psflow's.
        page, next_token = await self._opportunities(request, lambda o: bool(o.erp_project_id))
        invoices = await self._erp.invoices_by_project([o.erp_project_id or "" for o in page])
        drift = [invoice_drift(o, invoices.get(o.erp_project_id or "", [])) for o in page]
        findings = [found for found in drift if found is not None]
        return await self._store(request, findings, next_token)

    @activity.defn(name="reconcile.check_psa_projects")
    async def check_psa_projects(self, request: CheckRequest) -> CheckPage:
        """Active PSA projects with no ERP project of the same external id, one page."""
        projects = sorted(await self._psa.list_projects(status="active"), key=lambda p: p.id)
        start = int(request.page_token or 0)
        page = projects[start : start + max(request.policy.page_size, 1)]
        missing = await self._erp.missing_projects([p.external_id for p in page])
        findings = [
            psa_without_erp(p.id, p.external_id, p.name) for p in page if p.external_id in missing
        ]
        end = start + len(page)
        return await self._store(request, findings, str(end) if end < len(projects) else None)

    @activity.defn(name="reconcile.check_unposted_time")
    async def check_unposted_time(self, request: CheckRequest) -> CheckPage:
        """Projects of one period with approved time not in the ERP, one page of projects:
        the PSA read per project, the ERP asked once for every late entry of the page."""
        period = request.period or ""
        ids = await self._psa.billing_projects(
            period, request.page_token, max(request.policy.page_size, 1)
        )
        cutoff = request.now - timedelta(hours=request.policy.unposted_after_hours)
        entries = await asyncio.gather(*(self._approved_time(p, period, cutoff) for p in ids.items))
        late = [time_bill_external_id(e.id) for found in entries for e in found]
        posted = await self._erp.posted_records("timeBill", late)
        excepted = await asyncio.to_thread(self._excepted, period)
        findings = [
            found
            for project_id, project_entries in zip(ids.items, entries, strict=True)
            if (
                found := unposted_time(
                    project_id,
                    period,
                    project_entries,
                    {e.id for e in project_entries if time_bill_external_id(e.id) in posted},
                    excepted,
                    request.now,
                    request.policy.unposted_after_hours,
                )
            )
            is not None
        ]
        return await self._store(request, findings, ids.next_page_token)

    # ---- repairs ---------------------------------------------------------------------

    @activity.defn(name="reconcile.repair")
    async def repair(self, request: RepairRequest) -> RepairOutcome:
        """Start the workflow that repairs a finding (or find it running), or write the
        ERP's invoice status to the CRM; the outcome is stored with the finding."""
        target = request.target
        if target.kind == FindingKind.INVOICE_STATUS:
            outcome = await self._write_invoice_status(
                target.business_key, target.invoice_external_id
            )
            repaired = outcome.startswith(WRITTEN)
        else:
            outcome, repaired = await self._start(request)
        await asyncio.to_thread(
            set_repair, self._engine, request.run_id, target.kind, target.business_key, outcome
        )
        return RepairOutcome(target=target, outcome=outcome, repaired=repaired)

    async def _start(self, request: RepairRequest) -> tuple[str, bool]:
        """Start the repair by business key through the application layer."""
        target = request.target
        workflow = (
            "opportunity-to-project"
            if target.kind == FindingKind.MISSING_PROJECT
            else "time-to-bill"
        )
        return await start_repair(
            self._client,
            workflow,
            target.business_key,
            request.requested_by,
            activity.info().task_queue,
        )

    @activity.defn(name="reconcile.repair_invoice_statuses")
    async def repair_invoice_statuses(self, request: InvoiceRepairRequest) -> InvoiceRepairResult:
        """Write the ERP's invoice status of every target to the CRM, 200 opportunities to a
        request (sObject Collections); each outcome is stored with its finding."""
        targets = request.targets
        invoices = await asyncio.gather(*(self._invoice(t.invoice_external_id) for t in targets))
        found = [(t.business_key, i) for t, i in zip(targets, invoices, strict=True) if i]
        refusals = iter(await self._crm.set_invoice_statuses([_status_update(*f) for f in found]))
        outcomes = []
        for target, invoice in zip(targets, invoices, strict=True):
            if invoice is None:
                outcome = _no_invoice(target.invoice_external_id)
            elif (refused := next(refusals)) is not None:
                outcome = f"not repaired: the CRM refused it: {refused}; {NO_REPAIR}"
            else:
                outcome = _written(invoice)
            repaired = outcome.startswith(WRITTEN)
            outcomes.append(RepairOutcome(target=target, outcome=outcome, repaired=repaired))
        await asyncio.to_thread(self._set_repairs, request.run_id, outcomes)
        return InvoiceRepairResult(outcomes=outcomes)

    async def _write_invoice_status(self, opportunity_id: str, external_id: str | None) -> str:
        invoice = await self._invoice(external_id)
        if invoice is None:
            return _no_invoice(external_id)
        await self._crm.set_invoice_status(_status_update(opportunity_id, invoice))
        return _written(invoice)

    async def _invoice(self, external_id: str | None) -> Invoice | None:
        return await self._erp.get_invoice(external_id) if external_id else None

    def _set_repairs(self, run_id: str, outcomes: list[RepairOutcome]) -> None:
        for done in outcomes:
            set_repair(
                self._engine, run_id, done.target.kind, done.target.business_key, done.outcome
            )

    # ---- helpers ---------------------------------------------------------------------

    async def _opportunities(
        self, request: CheckRequest, wanted: Callable[[OpportunityLinks], bool]
    ) -> tuple[list[OpportunityLinks], str | None]:
        """One page of the closed-won deals `wanted` picks, and the token of the next."""
        every = [o for o in await closed_won_opportunities(self._crm) if wanted(o)]
        start = int(request.page_token or 0)
        end = start + max(request.policy.page_size, 1)
        return every[start:end], str(end) if end < len(every) else None

    @staticmethod
    def _in_erp(opportunity: OpportunityLinks, no_job: set[str]) -> bool:
        return bool(opportunity.erp_project_id) or project_external_id(opportunity.id) not in no_job

    async def _has_psa(self, opportunity: OpportunityLinks) -> bool:
        if opportunity.psa_project_id:
            return True
        return await self._psa.find_project(project_external_id(opportunity.id)) is not None

    async def _approved_time(
        self, project_id: str, period: str, cutoff: datetime
    ) -> list[TimeEntry]:
        """The project's approved entries of the period approved at or before `cutoff`."""
        entries: list[TimeEntry] = []
        token: str | None = None
        while True:
            page = await self._psa.time_entries(project_id, period, token, ENTRY_PAGE)
            entries += [e for e in page.items if e.approved_at and e.approved_at <= cutoff]
            token = page.next_page_token
            if not token:
                return entries

    def _excepted(self, period: str) -> set[str]:
        """Time entries of the period open as billing exceptions (left to psflow exceptions)."""
        known = list_exceptions(self._engine, period=period)
        return {
            e.entry_id
            for e in known
            if e.kind == EntryKind.TIME and e.state != ExceptionState.RESOLVED
        }

    async def _store(
        self, request: CheckRequest, findings: list[Finding], next_token: str | None
    ) -> CheckPage:
        """Store the page's findings with what the run will do about each; hand back the
        repair targets the run still has room for."""
        allowed = set(request.policy.repair)
        targets: list[RepairTarget] = []
        for finding in findings:
            if finding.target is None:
                finding.repair = NO_REPAIR
            elif finding.kind not in allowed:
                finding.repair = NOT_ALLOWED
            elif len(targets) >= request.room:
                finding.repair = OVER_LIMIT
            else:
                finding.repair = "repair pending"
                targets.append(finding.target)
        await asyncio.to_thread(
            record_findings, self._engine, request.run_id, request.now, findings
        )
        return CheckPage(found=len(findings), targets=targets, next_page_token=next_token)


def _status_update(opportunity_id: str, invoice: Invoice) -> InvoiceStatusUpdate:
    """What the CRM records of an opportunity's latest invoice."""
    return InvoiceStatusUpdate(
        opportunity_id=opportunity_id,
        invoice_number=invoice.number,
        status=invoice.status,
        total=invoice.total,
        currency=invoice.currency,
        period=invoice.period,
    )


def _no_invoice(external_id: str | None) -> str:
    return f"not repaired: the ERP has no invoice {external_id}; {NO_REPAIR}"


def _written(invoice: Invoice) -> str:
    return f"{WRITTEN}: {invoice.number} {invoice.status.value}"
