"""Invoices: drafted from a project's unbilled time and expenses in a period, then approved,
released or voided.

Create with `POST /services/rest/record/v1/invoice` (204, Location), body:

    {"externalId": "...", "job": {"id": "700001"}, "currency": {"id": "1"},
     "custbody_psflow_period": "2026-10", "custbody_psflow_source": "time-to-bill/...",
     "memo": "...", "item": {"items": [{"custcol_psflow_milestone": "MS-1",
     "description": "Design sign-off", "amount": 25000.0}]}}

job and period are mandatory; currency, if given, must be the project's. The invoice takes,
as NetSuite's billable time and expense sublists would, every billable time bill of the job
dated in the period that carries a rate (time billed by the hour; fixed-fee time has none) and
every billable expense report dated in the period, none of them on another invoice, and the
milestone lines given, leaving out milestones already on a live (not voided) invoice of the
job. Lines are summarised: one per role and rate, one per milestone, one per expense
category, each {line, custcol_psflow_kind (time|milestone|expense), description, quantity,
rate, amount, custcol_psflow_role | custcol_psflow_milestone}. The invoice carries total,
custbody_psflow_time_count, custbody_psflow_expense_count, custbody_psflow_approvers (everyone
who approved the time or expenses on it, sorted), tranId "INV-000001", entity (the customer)
and custbody_psflow_status "draft". Nothing to bill answers 400 USER_ERROR (NetSuite's "at
least one line item"); an externalId already used answers 409 DUP_RCRD.

`PATCH /invoice/{id or eid:...}` with {"custbody_psflow_status": ...} moves it draft ->
approved -> released, or draft/approved -> voided; the same status again changes nothing, any
other move is 400 INVALID_VALUE. Voiding takes its time bills and expense reports off it, so
a later invoice bills them; a released invoice cannot be voided. A PATCH may also change the
externalId (to free it for a new invoice after a void); nothing else.
"""

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from models.billing import period_bounds
from sandbox.erp import seed as data
from sandbox.erp.billing_query import EXPENSE_REPORT, INVOICE, TIME_BILL
from sandbox.erp.billing_records import AMOUNT_FIELD, CENT, Lookups, hours_of, json_decimal
from sandbox.erp.billing_store import BillingStore
from sandbox.erp.errors import NetSuiteError, invalid
from sandbox.erp.fields import display_name
from sandbox.erp.fields import external_id as checked_external_id
from sandbox.records import RecordStore

STATUS_FIELD = "custbody_psflow_status"
PERIOD_FIELD = "custbody_psflow_period"
MILESTONE_FIELD = "custcol_psflow_milestone"
TRANSITIONS = {
    "draft": {"approved", "voided"},
    "approved": {"released", "voided"},
    "released": set(),
    "voided": set(),
}
CREATE_FIELDS = {"externalId", "job", "currency", PERIOD_FIELD, "custbody_psflow_source",
                  "memo", "item"}  # fmt: skip
# every property an invoice has, read-only ones included
NAMES = frozenset({
    *CREATE_FIELDS, "id", "links", "tranId", "tranDate", "entity", "subsidiary", STATUS_FIELD,
    "total", "custbody_psflow_time_count", "custbody_psflow_expense_count",
    "custbody_psflow_approvers", "dateCreated", "lastModifiedDate",
})  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _period(value: Any) -> tuple[date, date]:
    try:
        return period_bounds(value if isinstance(value, str) else "")
    except ValueError:
        raise invalid(PERIOD_FIELD, value, "Provide the billing period as YYYY-MM.") from None


def _unbilled(billing: BillingStore, kind: str, job_id: str, period: str) -> list[dict[str, Any]]:
    first, last = _period(period)
    found, _ = billing.search(
        kind,
        [
            ("customer", "ANY_OF", [job_id]),
            ("tranDate", "ON_OR_AFTER", [first.isoformat()]),
            ("tranDate", "ON_OR_BEFORE", [last.isoformat()]),
            ("isBillable", "IS", ["true"]),
            ("invoice", "EMPTY", []),
        ],
    )
    return found


def _milestones_billed(billing: BillingStore, job_id: str) -> set[str]:
    """Milestone ids on the job's live (not voided) invoices."""
    invoices, _ = billing.search(
        INVOICE, [("job", "ANY_OF", [job_id]), (STATUS_FIELD, "ANY_OF_NOT", ["voided"])]
    )
    return {
        str(line[MILESTONE_FIELD])
        for invoice in invoices
        for line in invoice["item"]["items"]
        if line.get(MILESTONE_FIELD)
    }


def _milestone_lines(body: dict[str, Any], billed: set[str]) -> list[dict[str, Any]]:
    item = body.get("item") or {"items": []}
    items = item.get("items") if isinstance(item, dict) else None
    if not isinstance(items, list):
        raise invalid("item", item, 'Provide milestone lines as {"items": [...]}.')
    lines = []
    for item in items:
        milestone = item.get(MILESTONE_FIELD) if isinstance(item, dict) else None
        amount = item.get("amount") if isinstance(item, dict) else None
        if not isinstance(milestone, str) or not milestone:
            raise invalid(MILESTONE_FIELD, milestone, "Each line names its milestone.")
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
            raise invalid("amount", amount, "Provide a number greater than zero.")
        if milestone in billed:
            continue
        billed.add(milestone)
        value = json_decimal(amount)
        description = str(item.get("description") or milestone)
        lines.append(_line("milestone", description, Decimal(1), value, value, milestone))
    return lines


def _line(
    kind: str, description: str, quantity: Decimal, rate: Decimal, amount: Decimal, key: str | None
) -> dict[str, Any]:
    line: dict[str, Any] = {
        "custcol_psflow_kind": kind,
        "description": description,
        "quantity": float(quantity),
        "rate": float(rate),
        "amount": float(amount),
    }
    if kind == "time":
        line["custcol_psflow_role"] = key
    elif kind == "milestone":
        line[MILESTONE_FIELD] = key
    return line


def _time_lines(bills: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, Decimal], list[dict[str, Any]]] = defaultdict(list)
    for bill in bills:
        role = str(bill.get("custcol_psflow_role") or "Time")
        groups[role, json_decimal(bill["rate"])].append(bill)
    lines = []
    for (role, rate), group in sorted(groups.items()):
        hours = sum((hours_of(b["hours"]) for b in group), Decimal(0)).quantize(CENT)
        amount = sum((json_decimal(b.get(AMOUNT_FIELD)) for b in group), Decimal(0))
        lines.append(_line("time", f"{role} at {rate:.2f} an hour", hours, rate, amount, role))
    return lines


def _expense_lines(expenses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[str, Decimal] = defaultdict(Decimal)
    counts: dict[str, int] = defaultdict(int)
    for expense in expenses:
        category = str(expense.get("custcol_psflow_category") or "Expenses")
        groups[category] += json_decimal(expense["amount"])
        counts[category] += 1
    return [
        _line("expense", f"{category} ({counts[category]})", Decimal(1), total, total, None)
        for category, total in sorted(groups.items())
    ]


def create(store: RecordStore, billing: BillingStore, body: dict[str, Any]) -> str:
    """Draft the invoice `body` asks for and put its time and expenses on it; its id."""
    unknown = sorted(set(body) - CREATE_FIELDS - {"id", "links"})
    if unknown:
        raise NetSuiteError(400, f"Invalid field name: {unknown[0]}.", "INVALID_FLD", unknown[0])
    external_id = body.get("externalId")
    if external_id is not None:
        checked_external_id(external_id)
    if not body.get("job") or not body.get(PERIOD_FIELD):
        missing = "job" if not body.get("job") else PERIOD_FIELD
        detail = f"Please enter value(s) for: {missing}."
        raise NetSuiteError(400, detail, "USER_ERROR", missing)
    lookups = Lookups(store)
    job = lookups.reference("job", "job", body["job"])
    period = body[PERIOD_FIELD]
    _period(period)
    currency = body.get("currency")
    if currency is not None and str((currency or {}).get("id")) != job["currency"]["id"]:
        why = f"The project's currency is {job['currency']['refName']}."
        raise invalid("currency", (currency or {}).get("id"), why)
    with billing.transaction():
        if external_id is not None and billing.id_for_external(INVOICE, external_id):
            detail = f"An invoice with external ID {external_id} already exists."
            raise NetSuiteError(409, detail, "DUP_RCRD", "externalId")
        milestones = _milestone_lines(body, _milestones_billed(billing, job["id"]))
        bills = [b for b in _unbilled(billing, TIME_BILL, job["id"], period) if "rate" in b]
        expenses = _unbilled(billing, EXPENSE_REPORT, job["id"], period)
        lines = [*_time_lines(bills), *milestones, *_expense_lines(expenses)]
        if not lines:
            detail = (
                "You must enter at least one line item for this transaction: nothing is "
                f"unbilled for project {job['id']} in {period}."
            )
            raise NetSuiteError(400, detail, "USER_ERROR", "item")
        for number, line in enumerate(lines, 1):
            line["line"] = number
        approvers = {r.get("custcol_psflow_approver") for r in [*bills, *expenses]}
        now = _now()
        record = {
            "externalId": external_id,
            "tranDate": now[:10],
            "entity": job["parent"],
            "job": data.ref(job["id"], display_name(job)),
            "currency": job["currency"],
            "subsidiary": job["subsidiary"],
            PERIOD_FIELD: period,
            STATUS_FIELD: "draft",
            "custbody_psflow_source": body.get("custbody_psflow_source"),
            "memo": body.get("memo"),
            "total": float(sum((json_decimal(line["amount"]) for line in lines), Decimal(0))),
            "custbody_psflow_time_count": len(bills),
            "custbody_psflow_expense_count": len(expenses),
            "custbody_psflow_approvers": sorted(a for a in approvers if a),
            "item": {"items": lines},
            "dateCreated": now,
            "lastModifiedDate": now,
        }
        id = billing.save_invoice(None, record)
        billing.link(TIME_BILL, [b["id"] for b in bills], id)
        billing.link(EXPENSE_REPORT, [e["id"] for e in expenses], id)
    return id


def change(billing: BillingStore, current: dict[str, Any], body: dict[str, Any]) -> None:
    """Move the invoice to the status in `body` (and/or set its externalId)."""
    unknown = sorted(set(body) - {STATUS_FIELD, "externalId", "id", "links"})
    if unknown:
        detail = f"The sandbox changes an invoice's {STATUS_FIELD} and externalId only."
        raise NetSuiteError(400, detail, "INVALID_FLD", unknown[0])
    record = dict(current)
    status, wanted = current[STATUS_FIELD], body.get(STATUS_FIELD, current[STATUS_FIELD])
    if wanted != status and wanted not in TRANSITIONS[status]:
        why = (
            f"Invoice {current['tranId']} is {status}; an invoice moves draft -> approved -> "
            "released, or from draft or approved to voided; a released one cannot be voided."
        )
        raise invalid(STATUS_FIELD, wanted, why)
    record[STATUS_FIELD] = wanted
    if "externalId" in body and body["externalId"] != current.get("externalId"):
        record["externalId"] = checked_external_id(body["externalId"])
        if billing.id_for_external(INVOICE, record["externalId"]):
            raise invalid("externalId", record["externalId"], "Another invoice has it.")
    if record == current:
        return
    record["lastModifiedDate"] = _now()
    with billing.transaction():
        billing.save_invoice(current["id"], record)
        if wanted == "voided" and status != "voided":
            billing.unlink(current["id"])
