"""Inputs, progress and results of time-to-bill and month-end."""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, field_validator

from models.billing import BillingProject, EntryKind, Invoice, check_period
from models.policy import BillingPolicy
from models.psa import RateCard

TIME_APPROVED_SIGNAL = "time_approved"
LISTED = 50
"""Project ids a month-end's totals list per kind (failed, cancelled); the rest are counted."""


class Phase(StrEnum):
    TIME = "time"
    EXPENSES = "expenses"
    INVOICE = "invoice"


class BillingContext(BaseModel):
    """What every page of a project's period is validated and priced against."""

    project: BillingProject
    rate_card: RateCard
    cost_centers: list[str]
    period: str
    source: str
    """The business key postings carry: time-to-bill/<project>/<period>."""


class PageRequest(BaseModel):
    context: BillingContext
    kind: EntryKind
    page_token: str | None = None
    page_size: int = 1000
    audit_as: str | None = None
    """The step whose audit row the page writes (its counts and money); None: no row."""


class PostedPage(BaseModel):
    """What one page did: counts and money only, so history stays small at any volume."""

    read: int = 0
    created: int = 0
    """Newly posted to the ERP by this call."""
    unchanged: int = 0
    """Posted already by an earlier attempt or run of the same period."""
    exceptions: int = 0
    quantity: Decimal = Decimal(0)
    """Hours (time) or money (expenses) posted."""
    amount: Decimal = Decimal(0)
    """Billable value posted."""
    next_page_token: str | None = None


class PostingTotals(BaseModel):
    read: int = 0
    created: int = 0
    unchanged: int = 0
    exceptions: int = 0
    quantity: Decimal = Decimal(0)
    amount: Decimal = Decimal(0)

    def add(self, page: PostedPage) -> "PostingTotals":
        return PostingTotals(
            read=self.read + page.read,
            created=self.created + page.created,
            unchanged=self.unchanged + page.unchanged,
            exceptions=self.exceptions + page.exceptions,
            quantity=self.quantity + page.quantity,
            amount=self.amount + page.amount,
        )

    def summary(self, unit: str) -> str:
        posted = self.created + self.unchanged
        return (
            f"{posted} posted ({self.created} new), {self.exceptions} exceptions, "
            f"{self.quantity} {unit}, billable {self.amount}"
        )


class BillingProgress(BaseModel):
    """Carried from one run to the next when a long period continues as new."""

    phase: Phase = Phase.TIME
    page_token: str | None = None
    time: PostingTotals = PostingTotals()
    expenses: PostingTotals = PostingTotals()
    invoice_key: str
    late_time_entries: list[str] = []
    """Entries approved after the period's time was read: the run does not bill them."""


class TimeToBillInput(BaseModel):
    project_id: str
    period: str
    progress: BillingProgress | None = None

    @field_validator("period")
    @classmethod
    def _valid_period(cls, value: str) -> str:
        return check_period(value)


class TimeApproved(BaseModel):
    """The PSA approved a time entry of the period: what ingress signals the running workflow."""

    event_id: str
    time_entry_id: str
    worker_id: str | None = None
    hours: Decimal | None = None
    approver: str | None = None


class InvoiceSummary(BaseModel):
    number: str
    external_id: str
    status: str
    total: Decimal
    currency: str

    @classmethod
    def of(cls, invoice: Invoice) -> "InvoiceSummary":
        return cls(
            number=invoice.number,
            external_id=invoice.external_id,
            status=invoice.status.value,
            total=invoice.total,
            currency=invoice.currency,
        )


class Outcome(StrEnum):
    RELEASED = "released"
    NOTHING_TO_INVOICE = "nothing to invoice"
    REJECTED = "rejected"


class TimeToBillResult(BaseModel):
    project_id: str
    period: str
    outcome: Outcome
    time: PostingTotals
    expenses: PostingTotals
    invoice: InvoiceSummary | None = None
    reason: str | None = None
    late_time_entries: int = 0
    """Time entries approved after the run read the period's time: the next run bills them."""


class ReadyState(StrEnum):
    DRAFTED = "drafted"
    NOTHING_TO_INVOICE = "nothing to invoice"
    FAILED = "failed"
    ALREADY_RUNNING = "already running"
    CANCELLED = "cancelled"
    """Cancelled by a person: no invoice of the run stands; its postings wait for a rerun."""


class ProjectReady(BaseModel):
    """A child's word to its month-end: posting is done and the invoice drafted (or not).

    A child cancelled after its draft was reported sends a second word, CANCELLED with the
    (now void) invoice."""

    project_id: str
    state: ReadyState
    posted: int = 0
    exceptions: int = 0
    invoice: InvoiceSummary | None = None
    error: str | None = None


class MonthEndTotals(BaseModel):
    projects: int = 0
    drafted: int = 0
    nothing_to_invoice: int = 0
    already_running: int = 0
    failed: list[str] = []
    """Project ids whose run failed before drafting (capped; see `failed_count`)."""
    failed_count: int = 0
    cancelled: list[str] = []
    """Project ids whose run was cancelled (capped; see `cancelled_count`): neither failed
    nor invoiced; a rerun of the project's period bills what they posted."""
    cancelled_count: int = 0
    posted: int = 0
    exceptions: int = 0
    invoiced: dict[str, Decimal] = {}
    """Drafted invoice totals per currency."""

    def add(self, report: ProjectReady) -> "MonthEndTotals":
        totals = self.model_copy(deep=True)
        totals.projects += 1
        totals.posted += report.posted
        totals.exceptions += report.exceptions
        if report.state is ReadyState.DRAFTED and report.invoice:
            totals.drafted += 1
            currency = report.invoice.currency
            totals.invoiced[currency] = totals.invoiced.get(currency, Decimal(0)) + (
                report.invoice.total
            )
        elif report.state is ReadyState.NOTHING_TO_INVOICE:
            totals.nothing_to_invoice += 1
        elif report.state is ReadyState.ALREADY_RUNNING:
            totals.already_running += 1
        elif report.state is ReadyState.CANCELLED:
            totals.count_cancelled(report.project_id)
        else:
            totals.failed_count += 1
            if len(totals.failed) < LISTED:
                totals.failed.append(f"{report.project_id}: {report.error}")
        return totals

    def withdraw(self, report: ProjectReady) -> "MonthEndTotals":
        """A project counted as drafted whose run was cancelled since: its draft is void."""
        totals = self.model_copy(deep=True)
        if report.invoice:
            totals.drafted -= 1
            currency = report.invoice.currency
            left = totals.invoiced.get(currency, Decimal(0)) - report.invoice.total
            if left:
                totals.invoiced[currency] = left
            else:
                totals.invoiced.pop(currency, None)
        totals.count_cancelled(report.project_id)
        return totals

    def count_cancelled(self, project_id: str) -> None:
        self.cancelled_count += 1
        if len(self.cancelled) < LISTED:
            self.cancelled.append(project_id)


class MonthEndInput(BaseModel):
    period: str
    page_token: str | None = None
    totals: MonthEndTotals = MonthEndTotals()
    run: int = 1
    """Which run of the month-end this is (continue-as-new counts up)."""

    @field_validator("period")
    @classmethod
    def _valid_period(cls, value: str) -> str:
        return check_period(value)


@dataclass(frozen=True)
class ProjectRead:
    """What a time-to-bill run's read step found (a workflow's own value, never a payload)."""

    project: BillingProject
    policy: BillingPolicy
    rate_card: RateCard
