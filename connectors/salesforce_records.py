"""Salesforce records to psflow's canonical models and back: deals and invoice status."""

from datetime import date
from decimal import Decimal
from typing import Any

from connectors.errors import RequestRejected, SystemUnavailable
from models.billing import InvoiceStatus, InvoiceStatusUpdate
from models.crm import Account, Milestone, Opportunity, ResourceLine

CENTS = Decimal("0.01")
# InvoiceStatus -> the Invoice_Status__c picklist label on Opportunity
INVOICE_STATUS_LABELS: dict[InvoiceStatus, str] = {
    InvoiceStatus.DRAFT: "Draft",
    InvoiceStatus.APPROVED: "Approved",
    InvoiceStatus.RELEASED: "Released",
    InvoiceStatus.VOIDED: "Voided",
}
# What an opportunity records about its project's latest invoice (the currency is the deal's).
INVOICE_FIELDS = (
    "Invoice_Status__c",
    "Last_Invoice_Number__c",
    "Last_Invoice_Amount__c",
    "Last_Invoiced_Period__c",
    "CurrencyIsoCode",
)


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _scaled(value: Any) -> Decimal:
    """A currency or quantity field (scale 2 in Salesforce): a JSON number such as 121600.0,
    read at that scale (121600.00)."""
    amount = _decimal(value)
    exponent = amount.as_tuple().exponent
    return amount.quantize(CENTS) if isinstance(exponent, int) and exponent > -2 else amount


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def to_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _amount(value: Decimal) -> float:
    """Money as a JSON number (a Salesforce currency field), refused if a float would round it."""
    number = float(value)
    if Decimal(repr(number)) != value:
        raise RequestRejected("crm", f"amount {value} cannot be sent exactly as a JSON number")
    return number


def invoice_status_fields(update: InvoiceStatusUpdate) -> dict[str, object]:
    """The Opportunity fields that carry a project's latest invoice."""
    return {
        "Invoice_Status__c": INVOICE_STATUS_LABELS[update.status],
        "Last_Invoice_Number__c": update.invoice_number,
        "Last_Invoice_Amount__c": _amount(update.total),
        "Last_Invoiced_Period__c": update.period,
    }


def invoice_status_record(update: InvoiceStatusUpdate) -> dict[str, object] | str:
    """An opportunity's invoice fields as one record of an sObject Collections update, or
    why it cannot be sent (an amount a JSON number would round)."""
    try:
        fields = invoice_status_fields(update)
    except RequestRejected as exc:
        return str(exc)
    return {"attributes": {"type": "Opportunity"}, "id": update.opportunity_id, **fields}


def save_outcomes(body: Any, sent: int) -> list[str | None]:
    """Each record's outcome in a collection's answer: None when saved, else Salesforce's
    words. An answer that does not match the records sent is the system's fault."""
    if not isinstance(body, list) or len(body) != sent:
        raise SystemUnavailable("crm", f"sObject Collections answered {sent} records unreadably")
    return [None if r.get("success") else _errors(r.get("errors") or []) for r in body]


def _errors(errors: list[dict[str, Any]]) -> str:
    said = [f"{e.get('statusCode', 'ERROR')}: {e.get('message', '')}" for e in errors]
    return "; ".join(said) or "UNKNOWN_EXCEPTION: not saved"


def to_invoice_status(record: dict[str, Any]) -> InvoiceStatusUpdate | None:
    """What an opportunity says about its latest invoice; None before any invoice."""
    label = record.get("Invoice_Status__c")
    if label is None:
        return None
    statuses = {text: status for status, text in INVOICE_STATUS_LABELS.items()}
    return InvoiceStatusUpdate(
        opportunity_id=record["Id"],
        invoice_number=record["Last_Invoice_Number__c"],
        status=statuses[label],
        total=_scaled(record["Last_Invoice_Amount__c"]),
        currency=record["CurrencyIsoCode"],
        period=record["Last_Invoiced_Period__c"],
    )


def required(record: dict[str, Any], field: str) -> Any:
    """A field the deal cannot do without; missing, it is a permanent refusal naming it."""
    value = record.get(field)
    if value is None:
        raise RequestRejected(
            "crm", f"opportunity {record.get('Id')} has no {field}", fields=[field]
        )
    return value


def to_account(record: dict[str, Any]) -> Account:
    """An Account record as the canonical Account."""
    return Account(
        id=record["Id"], name=record["Name"], billing_country=record.get("BillingCountry")
    )


def to_line(record: dict[str, Any]) -> ResourceLine:
    """An OpportunityLineItem as a resource line: role, hours (Quantity) and hourly rate."""
    return ResourceLine(
        role=record["Role__c"],
        hours=_scaled(record["Quantity"]),
        rate=_scaled(record["UnitPrice"]),
    )


def to_milestone(record: dict[str, Any]) -> Milestone:
    """A Project_Milestone__c record as a canonical milestone."""
    return Milestone(
        name=record["Name"],
        due_date=date.fromisoformat(record["Due_Date__c"]),
        amount=_scaled(record.get("Amount__c") or 0),
    )


def to_opportunity(
    record: dict[str, Any],
    account: Account,
    lines: list[ResourceLine],
    milestones: list[Milestone],
) -> Opportunity:
    """An Opportunity record, with its account, lines and milestones, as the canonical deal."""
    return Opportunity(
        id=record["Id"],
        name=record["Name"],
        account=account,
        owner_id=record["OwnerId"],
        stage=record["StageName"],
        is_won=bool(record["IsWon"]),
        amount=_scaled(required(record, "Amount")),
        currency=record["CurrencyIsoCode"],
        close_date=date.fromisoformat(record["CloseDate"]),
        rate_card=record.get("Rate_Card__c"),
        legal_entity=record.get("Legal_Entity__c"),
        billing_terms=record.get("Billing_Terms__c"),
        billing_type=record.get("Billing_Type__c"),
        start_date=_date(record.get("Start_Date__c")),
        erp_project_id=record.get("ERP_Project_Id__c"),
        psa_project_id=record.get("PSA_Project_Id__c"),
        lines=lines,
        milestones=milestones,
    )
