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
from connectors.erp import ErpConnector
from connectors.erp_billing import PostingType
from connectors.psa import PsaConnector
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
from models.time_to_bill import BillingContext, PageRequest, PostedPage
from store.exceptions import record_problems, resolve

TIME_BILL: PostingType = "timeBill"
EXPENSE_REPORT: PostingType = "expenseReport"


class ProjectsPageRequest(BaseModel):
    period: str
    page_token: str | None = None
    page_size: int = 100


class BillingActivities:
    def __init__(self, psa: PsaConnector, erp: ErpConnector, engine: Engine) -> None:
        self._psa = psa
        self._erp = erp
        self._engine = engine

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
        page = await self._post(context, request.kind, entries)
        page.next_page_token = token
        return page

    async def _post(
        self, context: BillingContext, kind: EntryKind, entries: Sequence[TimeEntry | Expense]
    ) -> PostedPage:
        if not entries:
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
        await asyncio.to_thread(self._remember, context, kind, problems, posted_ids)
        by_id = {e.id: e for e in entries}
        counted = [by_id[i] for i in posted_ids]
        return PostedPage(
            read=len(entries),
            created=len(done),
            unchanged=len(unchanged),
            exceptions=len(problems),
            quantity=sum(
                (e.hours if isinstance(e, TimeEntry) else e.amount for e in counted), Decimal(0)
            ),
            amount=sum((p.amount for p in done if p.billable), found),
        )

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
