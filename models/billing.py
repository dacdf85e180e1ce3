"""Time-to-bill: approved time and expenses in the PSA, their postings and invoices in the ERP."""

import calendar
import re
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel

PERIOD_FORMAT = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def check_period(value: str) -> str:
    """A billing period is a calendar month written YYYY-MM."""
    if not PERIOD_FORMAT.match(value):
        raise ValueError(f"period {value!r} is not a month written YYYY-MM, e.g. 2026-10")
    return value


def period_bounds(period: str) -> tuple[date, date]:
    """The first and last day of a period."""
    year, month = (int(part) for part in check_period(period).split("-"))
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def time_to_bill_id(project_id: str, period: str) -> str:
    return f"time-to-bill/{project_id}/{period}"


def month_end_id(period: str) -> str:
    return f"month-end/{period}"


def time_bill_external_id(entry_id: str) -> str:
    """External id of the ERP timeBill posted for a PSA time entry."""
    return f"psa-time-{entry_id}"


def expense_external_id(expense_id: str) -> str:
    """External id of the ERP expenseReport posted for a PSA expense."""
    return f"psa-expense-{expense_id}"


# ---- the PSA side ------------------------------------------------------------------------


class ApprovalState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


class TimeEntry(BaseModel):
    """One line of a PSA timesheet."""

    id: str
    worker_id: str
    """The HCM worker id; the ERP employee's external id is hcm-<worker_id>."""
    project_id: str
    date: date
    hours: Decimal
    role: str
    billable: bool
    notes: str = ""
    cost_center: str
    status: ApprovalState
    approver: str | None = None
    """The psflow user name of whoever approved it."""
    approved_at: datetime | None = None


class Expense(BaseModel):
    id: str
    worker_id: str
    project_id: str
    date: date
    amount: Decimal
    currency: str
    category: str
    billable: bool
    notes: str = ""
    cost_center: str
    status: ApprovalState
    approver: str | None = None
    approved_at: datetime | None = None


class TimeEntryPage(BaseModel):
    items: list[TimeEntry]
    next_page_token: str | None = None


class ExpensePage(BaseModel):
    items: list[Expense]
    next_page_token: str | None = None


class ProjectIdPage(BaseModel):
    """PSA project ids with approved time or expenses in a period."""

    items: list[str]
    next_page_token: str | None = None


class BillingMilestone(BaseModel):
    id: str
    name: str
    due_date: date
    amount: Decimal
    completed_on: date | None = None


class BillingProject(BaseModel):
    """A PSA project as billing sees it."""

    id: str
    external_id: str
    name: str
    customer_name: str
    status: str
    """active, closed or archived."""
    closed_on: date | None = None
    currency: str
    billing_type: str
    """Time and Materials or Fixed Fee."""
    rate_card: str
    erp_project_id: str
    opportunity_id: str | None = None
    milestones: list[BillingMilestone] = []


# ---- the ERP side ------------------------------------------------------------------------


class TimePosting(BaseModel):
    """One ERP timeBill: the cost actual for a time entry and, if billable, its price."""

    external_id: str
    entry_id: str
    employee_id: str
    """ERP employee internal id."""
    project_id: str
    """ERP job internal id."""
    date: date
    hours: Decimal
    role: str
    billable: bool
    rate: Decimal | None = None
    """Bill rate from the rate card; None when the time is not billed by the hour."""
    amount: Decimal = Decimal(0)
    """hours x rate, rounded to cents; 0 when not billed by the hour."""
    cost_center: str
    approver: str
    source: str
    """The business key of the workflow that posted it: time-to-bill/<project>/<period>."""
    memo: str = ""


class ExpensePosting(BaseModel):
    external_id: str
    expense_id: str
    employee_id: str
    project_id: str
    date: date
    amount: Decimal
    currency: str
    category: str
    billable: bool
    cost_center: str
    approver: str
    source: str
    memo: str = ""


class PostingOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    FAILED = "failed"


class PostingResult(BaseModel):
    """NetSuite's write response for one record of a bulk upsert."""

    external_id: str
    id: str | None = None
    outcome: PostingOutcome
    message: str | None = None


class PostedRecord(BaseModel):
    """A timeBill or expenseReport already in the ERP, as a duplicate check sees it."""

    id: str
    external_id: str
    source: str | None = None
    invoice_id: str | None = None
    billable_amount: Decimal = Decimal(0)
    """What the record bills: its amount when billable, else 0."""


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    RELEASED = "released"
    VOIDED = "voided"


class InvoiceLineKind(StrEnum):
    TIME = "time"
    MILESTONE = "milestone"
    EXPENSE = "expense"


class InvoiceLine(BaseModel):
    kind: InvoiceLineKind
    description: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal
    role: str | None = None
    milestone_id: str | None = None


class InvoiceDraftInput(BaseModel):
    """Draft an invoice for a project's unbilled billable postings in a period."""

    external_id: str
    project_id: str
    """ERP job internal id."""
    currency: str
    period: str
    source: str
    milestones: list[BillingMilestone] = []
    """Completed fixed-fee milestones to bill; ones already on a live invoice are skipped."""


class InvoiceHeader(BaseModel):
    """An invoice without its lines: what one query reads for many invoices at once."""

    id: str
    external_id: str
    number: str
    project_id: str
    customer_id: str
    currency: str
    period: str
    status: InvoiceStatus
    total: Decimal
    source: str


class Invoice(InvoiceHeader):
    lines: list[InvoiceLine]
    """Summarised: one line per role and rate, per milestone, per expense category."""
    time_count: int
    expense_count: int
    approvers: list[str]
    """Everyone who approved time or expenses on the invoice (sorted)."""


class InvoiceStatusUpdate(BaseModel):
    """What the CRM learns about a project's latest invoice."""

    opportunity_id: str
    invoice_number: str
    status: InvoiceStatus
    total: Decimal
    currency: str
    period: str


# ---- exceptions: entries that could not be billed ------------------------------------


class ExceptionState(StrEnum):
    OPEN = "open"
    RESUBMITTED = "resubmitted"
    RESOLVED = "resolved"


class EntryKind(StrEnum):
    TIME = "time"
    EXPENSE = "expense"


class EntryProblem(BaseModel):
    """Why one entry cannot be posted: a reason code and the message for a person."""

    entry_id: str
    kind: EntryKind
    reason: str
    """One of the validation rules, e.g. "inactive worker" or "no rate for role"."""
    message: str


class BillingException(BaseModel):
    id: int
    entry_id: str
    kind: EntryKind
    project_id: str
    period: str
    reason: str
    message: str
    state: ExceptionState
    workflow_id: str
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None = None
