"""Which entries may be posted, and at what price: pure rules over what the systems answered."""

from datetime import date
from decimal import Decimal

from models.billing import (
    EntryKind,
    EntryProblem,
    Expense,
    ExpensePosting,
    PostedRecord,
    TimeEntry,
    TimePosting,
)
from models.erp import ErpEmployee
from models.hire_to_staff import resource_external_id
from models.psa import RateCard
from models.time_to_bill import BillingContext

TIME_AND_MATERIALS = "Time and Materials"
CENT = Decimal("0.01")


def bill_rate(card: RateCard, role: str, day: date) -> Decimal | None:
    """The card's rate for a role on a day, honouring effective dates."""
    for rate in card.rates:
        if rate.role != role:
            continue
        if rate.effective_from and day < rate.effective_from:
            continue
        if rate.effective_to and day > rate.effective_to:
            continue
        return rate.rate
    return None


def billed_by_the_hour(context: BillingContext, entry: TimeEntry) -> bool:
    return entry.billable and context.project.billing_type == TIME_AND_MATERIALS


def _common_problem(
    entry: TimeEntry | Expense,
    kind: EntryKind,
    context: BillingContext,
    employee: ErpEmployee | None,
    posted: PostedRecord | None,
) -> EntryProblem | None:
    def problem(reason: str, message: str) -> EntryProblem:
        return EntryProblem(entry_id=entry.id, kind=kind, reason=reason, message=message)

    if posted is not None and posted.source != context.source:
        return problem(
            "already posted",
            f"already in the ERP as record {posted.id}, "
            f"posted by {posted.source or 'someone else'}",
        )
    project = context.project
    if project.status == "archived" or (project.closed_on and entry.date > project.closed_on):
        closed = f"on {project.closed_on}" if project.closed_on else "(archived)"
        return problem(
            "closed project", f"project {project.id} closed {closed}; dated {entry.date}"
        )
    if employee is None:
        return problem(
            "unknown worker",
            f"worker {entry.worker_id} has no ERP employee "
            f"{resource_external_id(entry.worker_id)}: run hire-to-staff for them first",
        )
    if employee.inactive:
        return problem(
            "inactive worker",
            f"worker {entry.worker_id} ({employee.name}) is inactive in the ERP, "
            "which takes no postings for inactive employees",
        )
    if entry.cost_center not in context.cost_centers:
        return problem(
            "unknown cost center",
            f"cost center {entry.cost_center} is not one of {', '.join(context.cost_centers)}",
        )
    return None


def time_problem(
    entry: TimeEntry,
    context: BillingContext,
    employee: ErpEmployee | None,
    posted: PostedRecord | None,
) -> EntryProblem | None:
    """Why a time entry cannot be posted, or None."""
    found = _common_problem(entry, EntryKind.TIME, context, employee, posted)
    # A role the contract's rate card does not price is not staffed on it, billable or not.
    if found is None:
        if bill_rate(context.rate_card, entry.role, entry.date) is None:
            return EntryProblem(
                entry_id=entry.id,
                kind=EntryKind.TIME,
                reason="no rate for role",
                message=f"rate card {context.rate_card.code} has no rate for {entry.role} "
                f"on {entry.date}",
            )
    return found


def expense_problem(
    expense: Expense,
    context: BillingContext,
    employee: ErpEmployee | None,
    posted: PostedRecord | None,
) -> EntryProblem | None:
    """Why an expense cannot be posted, or None."""
    found = _common_problem(expense, EntryKind.EXPENSE, context, employee, posted)
    if found is None and expense.currency != context.project.currency:
        return EntryProblem(
            entry_id=expense.id,
            kind=EntryKind.EXPENSE,
            reason="currency mismatch",
            message=f"expense in {expense.currency}, project bills in {context.project.currency}",
        )
    return found


def time_posting(
    entry: TimeEntry, context: BillingContext, employee: ErpEmployee, external_id: str
) -> TimePosting:
    """The ERP timeBill for a valid entry, priced by the rate card if billed by the hour."""
    rate = bill_rate(context.rate_card, entry.role, entry.date)
    hourly = billed_by_the_hour(context, entry) and rate is not None
    return TimePosting(
        external_id=external_id,
        entry_id=entry.id,
        employee_id=employee.id,
        project_id=context.project.erp_project_id,
        date=entry.date,
        hours=entry.hours,
        role=entry.role,
        billable=hourly,
        rate=rate if hourly else None,
        amount=(entry.hours * rate).quantize(CENT) if hourly and rate else Decimal(0),
        cost_center=entry.cost_center,
        approver=entry.approver or "",
        source=context.source,
        memo=entry.notes,
    )


def expense_posting(
    expense: Expense, context: BillingContext, employee: ErpEmployee, external_id: str
) -> ExpensePosting:
    return ExpensePosting(
        external_id=external_id,
        expense_id=expense.id,
        employee_id=employee.id,
        project_id=context.project.erp_project_id,
        date=expense.date,
        amount=expense.amount,
        currency=expense.currency,
        category=expense.category,
        billable=expense.billable,
        cost_center=expense.cost_center,
        approver=expense.approver or "",
        source=context.source,
        memo=expense.notes,
    )
