"""NetSuite bodies for time-to-bill: postings and invoices to record JSON, and back.

Hours go out as NetSuite's duration "H:MM" (7.5 hours is "7:30"); hours that are not a whole
number of minutes cannot be sent. Money goes out as a JSON number (see connectors.netsuite).
SuiteQL rows read a reference as its internal id and a checkbox as "T" or "F".
"""

from datetime import date
from decimal import Decimal
from typing import Any

from connectors.netsuite import (
    COST_CENTER_FIELD,
    ORIGIN_FIELD,
    json_decimal,
    money,
    reference_id,
)
from models.billing import (
    ExpensePosting,
    Invoice,
    InvoiceDraftInput,
    InvoiceLine,
    InvoiceLineKind,
    InvoiceStatus,
    PostedRecord,
    PostingOutcome,
    PostingResult,
    TimePosting,
)
from models.erp import ErpEmployee

SUITEQL_PATH = "/services/rest/query/v1/suiteql"
# NetSuite's SuiteQL table of each record type (the sandbox's, for expense reports)
SUITEQL_TABLES = {"timeBill": "timebill", "expenseReport": "expensereport"}
CENT = Decimal("0.01")
# The column holding what a record bills (a time bill's hours x rate; an expense's amount)
AMOUNT_COLUMNS = {"timeBill": "custcol_psflow_amount", "expenseReport": "amount"}
STATUS_FIELD = "custbody_psflow_status"
TIME_BILL_PREFIX = "psa-time-"
TIME_BILL_COLUMNS = (
    "id, externalid, employee, customer, trandate, hours, isbillable, rate, "
    "custcol_psflow_amount, custcol_psflow_role, custcol_psflow_cost_center, "
    "custcol_psflow_approver, custcol_psflow_source, memo"
)

EMPLOYEE_COLUMNS = (
    f"id, externalid, firstname, lastname, entityid, subsidiary, {COST_CENTER_FIELD}, "
    f"laborcost, isinactive, {ORIGIN_FIELD}"
)


def duration(hours: Decimal) -> str:
    """Hours as NetSuite's duration "H:MM"; ValueError for hours that are not whole minutes."""
    minutes = hours * 60
    if minutes != minutes.to_integral_value() or minutes <= 0:
        raise ValueError(f"hours {hours} are not a positive whole number of minutes")
    whole = int(minutes)
    return f"{whole // 60}:{whole % 60:02d}"


def hours_from_duration(value: Any) -> Decimal:
    """A duration "H:MM" (or a number of hours) in hours."""
    if isinstance(value, str) and ":" in value:
        hours, minutes = value.split(":", 1)
        return Decimal(hours) + Decimal(minutes) / 60
    return json_decimal(value)


def sql_list(values: list[str]) -> str:
    """Values as a SuiteQL IN list, each quoted."""
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


# ------------------------------------------------------------ postings


def time_bill_body(posting: TimePosting) -> dict[str, Any]:
    """The timeBill record of an upsertList, with its externalId."""
    body: dict[str, Any] = {
        "externalId": posting.external_id,
        "employee": {"id": posting.employee_id},
        "customer": {"id": posting.project_id},
        "tranDate": posting.date.isoformat(),
        "hours": duration(posting.hours),
        "isBillable": posting.billable,
        "memo": posting.memo,
        "custcol_psflow_role": posting.role,
        "custcol_psflow_cost_center": posting.cost_center,
        "custcol_psflow_approver": posting.approver,
        "custcol_psflow_source": posting.source,
    }
    if posting.rate is not None:
        body["rate"] = money(posting.rate)
        body["custcol_psflow_amount"] = money(posting.amount)
    return body


def expense_report_body(posting: ExpensePosting, currency_id: str) -> dict[str, Any]:
    """The expenseReport record of an upsertList, with its externalId."""
    return {
        "externalId": posting.external_id,
        "entity": {"id": posting.employee_id},
        "customer": {"id": posting.project_id},
        "tranDate": posting.date.isoformat(),
        "amount": money(posting.amount),
        "currency": {"id": currency_id},
        "isBillable": posting.billable,
        "memo": posting.memo,
        "custcol_psflow_category": posting.category,
        "custcol_psflow_cost_center": posting.cost_center,
        "custcol_psflow_approver": posting.approver,
        "custcol_psflow_source": posting.source,
    }


def posting_result(response: dict[str, Any]) -> PostingResult:
    """One entry of NetSuite's writeResponseList."""
    status = response.get("status") or {}
    id = response.get("internalId")
    if status.get("isSuccess"):
        outcome = PostingOutcome.CREATED if response.get("created") else PostingOutcome.UPDATED
        return PostingResult(external_id=str(response["externalId"]), id=str(id), outcome=outcome)
    details = [d for d in status.get("statusDetail") or [] if isinstance(d, dict)]
    message = "; ".join(f"{d.get('message', '')} ({d.get('code', 'UNKNOWN')})" for d in details)
    return PostingResult(
        external_id=str(response.get("externalId")),
        id=str(id) if id else None,
        outcome=PostingOutcome.FAILED,
        message=message or "refused without a reason",
    )


def refused(external_id: str, why: str) -> PostingResult:
    """A posting refused before sending."""
    return PostingResult(external_id=external_id, outcome=PostingOutcome.FAILED, message=why)


def employee_from_row(row: dict[str, Any]) -> ErpEmployee:
    """A SuiteQL employee row (EMPLOYEE_COLUMNS) as an ErpEmployee."""
    full_name = f"{row.get('firstname') or ''} {row.get('lastname') or ''}".strip()
    return ErpEmployee(
        id=str(row["id"]),
        external_id=str(row.get("externalid") or ""),
        name=full_name or str(row.get("entityid") or ""),
        subsidiary_id=str(row.get("subsidiary") or ""),
        cost_center=str(row.get(COST_CENTER_FIELD) or ""),
        labor_cost=json_decimal(row.get("laborcost")),
        inactive=row.get("isinactive") == "T",
        origin=row.get(ORIGIN_FIELD) or None,
    )


def _at_cents(amount: Decimal) -> Decimal:
    """Money read from a JSON number (42992.5) at the scale it was posted at (42992.50)."""
    exponent = amount.as_tuple().exponent
    return amount.quantize(CENT) if isinstance(exponent, int) and exponent > -2 else amount


def posted_columns(record_type: str) -> str:
    """What the duplicate check reads of a posted record: who posted it, its invoice, and what
    it bills (so a page found posted by an earlier attempt still counts its billable value)."""
    amount = AMOUNT_COLUMNS[record_type]
    return f"id, externalid, custcol_psflow_source, invoice, isbillable, {amount}"


def posted_record(row: dict[str, Any], record_type: str) -> PostedRecord:
    """A SuiteQL row of `posted_columns(record_type)` as a PostedRecord."""
    invoice = row.get("invoice")
    amount = _at_cents(json_decimal(row.get(AMOUNT_COLUMNS[record_type])))
    return PostedRecord(
        id=str(row["id"]),
        external_id=str(row["externalid"]),
        source=row.get("custcol_psflow_source") or None,
        invoice_id=str(invoice) if invoice else None,
        billable_amount=amount if row.get("isbillable") == "T" else Decimal(0),
    )


def time_posting(row: dict[str, Any]) -> TimePosting:
    """A SuiteQL row of TIME_BILL_COLUMNS as the TimePosting it records."""
    external_id = str(row.get("externalid") or "")
    rate = row.get("rate")
    return TimePosting(
        external_id=external_id,
        entry_id=external_id.removeprefix(TIME_BILL_PREFIX),
        employee_id=str(row.get("employee") or ""),
        project_id=str(row.get("customer") or ""),
        date=date.fromisoformat(str(row["trandate"])),
        hours=hours_from_duration(row.get("hours")),
        role=str(row.get("custcol_psflow_role") or ""),
        billable=row.get("isbillable") == "T",
        rate=json_decimal(rate) if rate is not None else None,
        amount=json_decimal(row.get("custcol_psflow_amount")),
        cost_center=str(row.get("custcol_psflow_cost_center") or ""),
        approver=str(row.get("custcol_psflow_approver") or ""),
        source=str(row.get("custcol_psflow_source") or ""),
        memo=str(row.get("memo") or ""),
    )


# ------------------------------------------------------------ invoices


def invoice_body(data: InvoiceDraftInput, currency_id: str) -> dict[str, Any]:
    """The invoice to POST: the sandbox adds the project's unbilled time and expenses."""
    milestones = [
        {
            "custcol_psflow_milestone": m.id,
            "description": m.name,
            "amount": money(m.amount),
        }
        for m in data.milestones
    ]
    return {
        "externalId": data.external_id,
        "job": {"id": data.project_id},
        "currency": {"id": currency_id},
        "custbody_psflow_period": data.period,
        "custbody_psflow_source": data.source,
        "item": {"items": milestones},
    }


def _line(line: dict[str, Any]) -> InvoiceLine:
    return InvoiceLine(
        kind=InvoiceLineKind(line.get("custcol_psflow_kind", "time")),
        description=str(line.get("description") or ""),
        quantity=json_decimal(line.get("quantity")),
        rate=json_decimal(line.get("rate")),
        amount=json_decimal(line.get("amount")),
        role=line.get("custcol_psflow_role"),
        milestone_id=line.get("custcol_psflow_milestone"),
    )


def invoice_from_record(record: dict[str, Any], currency: str) -> Invoice:
    """A NetSuite invoice record as an Invoice; `currency` is its currency's ISO code."""
    items = (record.get("item") or {}).get("items") or []
    return Invoice(
        id=str(record["id"]),
        external_id=str(record.get("externalId") or ""),
        number=str(record.get("tranId") or ""),
        project_id=reference_id(record, "job"),
        customer_id=reference_id(record, "entity"),
        currency=currency,
        period=str(record.get("custbody_psflow_period") or ""),
        status=InvoiceStatus(record.get(STATUS_FIELD, "draft")),
        total=json_decimal(record.get("total")),
        lines=[_line(line) for line in items if isinstance(line, dict)],
        time_count=int(record.get("custbody_psflow_time_count") or 0),
        expense_count=int(record.get("custbody_psflow_expense_count") or 0),
        approvers=sorted(str(a) for a in record.get("custbody_psflow_approvers") or []),
        source=str(record.get("custbody_psflow_source") or ""),
    )
