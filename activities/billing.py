"""Time-to-bill posting: one page of approved entries from the PSA, validated, into the ERP.

A page is read, checked and posted in one activity so that history carries page tokens and
counts, never the entries themselves. Every posting is an upsert by the entry's external id,
so a retried page or a rerun of the period posts nothing twice.
"""

import asyncio
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine
from temporalio import activity

from activities.billing_rules import expense_posting, expense_problem, time_posting, time_problem
from connectors.erp_port import Erp, PostingType
from connectors.psa import PsaConnector
from models.audit import AuditEntry
from models.billing import (
    BillingProject,
    EntryKind,
    EntryProblem,
    Expense,
    PostingOutcome,
    PostingResult,
    ProjectIdPage,
    TimeEntry,
    expense_external_id,
    time_bill_external_id,
)
from models.hire_to_staff import resource_external_id
from models.policy import BillingPolicy
from models.psa import RateCard
from models.time_to_bill import BillingContext, PageRequest, PostedPage, PostingTotals
from security.issuer import public_keys
from store.audit import append_audit
from store.exceptions import record_problems, resolve

TIME_BILL: PostingType = "timeBill"
EXPENSE_REPORT: PostingType = "expenseReport"


class ProjectsPageRequest(BaseModel):
    period: str
    page_token: str | None = None
    page_size: int = 100


class BillingSetup(BaseModel):
    """What a time-to-bill run starts from, read in one call: the PSA project (None when it
    does not exist), its rate card (None when the PSA has no such card), the policy in force."""

    project: BillingProject | None
    rate_card: RateCard | None = None
    policy: BillingPolicy


class BillingActivities:
    def __init__(self, psa: PsaConnector, erp: Erp, engine: Engine, policy: BillingPolicy) -> None:
        self._psa = psa
        self._erp = erp
        self._engine = engine
        self._policy = policy

    @activity.defn(name="billing.projects_with_approved_time")
    async def projects_with_approved_time(self, request: ProjectsPageRequest) -> ProjectIdPage:
        """One page of PSA project ids with approved time or expenses in the period."""
        return await self._psa.billing_projects(
            request.period, request.page_token, request.page_size
        )

    @activity.defn(name="billing.billing_project")
    async def billing_project(self, project_id: str) -> BillingProject | None:
        """The PSA project with its billing type, currency, rate card and milestones."""
        return await self._psa.billing_project(project_id)

    @activity.defn(name="billing.setup")
    async def setup(self, project_id: str) -> BillingSetup:
        """The project, its rate card and the billing policy (billing_project, get_rate_card
        and policy.billing_policy in one activity)."""
        project = await self._psa.billing_project(project_id)
        card = await self._psa.get_rate_card(project.rate_card) if project else None
        keys = await asyncio.to_thread(public_keys, self._engine)
        policy = self._policy.model_copy(update={"proof_keys": keys})
        return BillingSetup(project=project, rate_card=card, policy=policy)

    @activity.defn(name="billing.post_page")
    async def post_page(self, request: PageRequest) -> PostedPage:
        """Read one page of approved entries, post the valid ones, record the rest as exceptions."""
        context = request.context
        if request.kind is EntryKind.TIME:
            time_page = await self._psa.time_entries(
                context.project.id, context.period, request.page_token, request.page_size
            )
            entries: Sequence[TimeEntry | Expense] = time_page.items
            token = time_page.next_page_token
        else:
            expense_page = await self._psa.expenses(
                context.project.id, context.period, request.page_token, request.page_size
            )
            entries, token = expense_page.items, expense_page.next_page_token
        page = await self._post(context, request.kind, entries, request.audit_as)
        page.next_page_token = token
        return page

    async def _post(
        self,
        context: BillingContext,
        kind: EntryKind,
        entries: Sequence[TimeEntry | Expense],
        audit_as: str | None,
    ) -> PostedPage:
        if not entries:
            if audit_as:
                await asyncio.to_thread(self._audit, audit_as, kind, PostedPage())
            return PostedPage()
        is_time = kind is EntryKind.TIME
        external_id: Callable[[str], str] = (
            time_bill_external_id if is_time else expense_external_id
        )
        employees = await self._erp.employees_by_external_id(
            sorted({resource_external_id(e.worker_id) for e in entries})
        )
        posted = await self._erp.posted_records(
            TIME_BILL if is_time else EXPENSE_REPORT, [external_id(e.id) for e in entries]
        )
        problems: list[EntryProblem] = []
        postings: list[Any] = []
        unchanged: list[str] = []
        for entry in entries:
            eid = external_id(entry.id)
            employee = employees.get(resource_external_id(entry.worker_id))
            if isinstance(entry, TimeEntry):
                problem = time_problem(entry, context, employee, posted.get(eid))
            else:
                problem = expense_problem(entry, context, employee, posted.get(eid))
            if problem:
                problems.append(problem)
            elif eid in posted:
                unchanged.append(entry.id)
            else:
                assert employee is not None  # the rules refuse entries without one
                if isinstance(entry, TimeEntry):
                    postings.append(time_posting(entry, context, employee, eid))
                else:
                    postings.append(expense_posting(entry, context, employee, eid))
        results: list[PostingResult] = []
        if postings:
            if is_time:
                results = await self._erp.upsert_time_bills(postings)
            else:
                results = await self._erp.upsert_expense_reports(postings)
        failed = {r.external_id: r for r in results if r.outcome is PostingOutcome.FAILED}
        for posting in postings:
            refused = failed.get(posting.external_id)
            if refused:
                entry_id = posting.entry_id if is_time else posting.expense_id
                problems.append(
                    EntryProblem(
                        entry_id=entry_id,
                        kind=kind,
                        reason="refused by the ERP",
                        message=refused.message or "the ERP refused the record",
                    )
                )
        done = [p for p in postings if p.external_id not in failed]
        posted_ids = [p.entry_id if is_time else p.expense_id for p in done] + unchanged
        # Found posted (by an earlier attempt or run of this period): billed all the same.
        found = sum((posted[external_id(i)].billable_amount for i in unchanged), Decimal(0))
        by_id = {e.id: e for e in entries}
        counted = [by_id[i] for i in posted_ids]
        page = PostedPage(
            read=len(entries),
            created=len(done),
            unchanged=len(unchanged),
            exceptions=len(problems),
            quantity=sum(
                (e.hours if isinstance(e, TimeEntry) else e.amount for e in counted), Decimal(0)
            ),
            amount=sum((p.amount for p in done if p.billable), found),
        )
        await asyncio.to_thread(self._remember, context, kind, problems, posted_ids)
        if audit_as:
            await asyncio.to_thread(self._audit, audit_as, kind, page)
        return page

    def _audit(self, step: str, kind: EntryKind, page: PostedPage) -> None:
        """The page's audit row, as the step's own: at the activity's first schedule, so a
        retry that gets this far again adds no second row."""
        info = activity.info()
        assert info.workflow_id is not None  # billing pages are only posted from TimeToBill
        unit = "hours" if kind is EntryKind.TIME else "in expenses"
        detail = f"{step}: {PostingTotals().add(page).summary(unit)}"
        entry = AuditEntry(
            at=info.scheduled_time,
            workflow_id=info.workflow_id,
            kind="posted",
            user=None,
            detail=detail,
        )
        append_audit(self._engine, entry)

    def _remember(
        self,
        context: BillingContext,
        kind: EntryKind,
        problems: list[EntryProblem],
        posted_ids: list[str],
    ) -> None:
        workflow_id = activity.info().workflow_id
        assert workflow_id is not None  # billing pages are only posted from TimeToBill
        record_problems(self._engine, problems, context.project.id, context.period, workflow_id)
        resolve(self._engine, kind, posted_ids)
