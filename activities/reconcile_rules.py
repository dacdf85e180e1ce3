"""What counts as drift between the systems: pure comparisons, no I/O."""

from datetime import date, datetime, timedelta
from decimal import Decimal

from models.billing import InvoiceHeader, InvoiceStatus, TimeEntry
from models.reconcile import REPAIRS, Finding, FindingKind, OpportunityLinks, RepairTarget


def periods_back(now: datetime, months: int) -> list[str]:
    """This month and the `months - 1` before it, oldest first (YYYY-MM)."""
    year, month = now.year, now.month
    found = []
    for _ in range(max(months, 1)):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(found))


def in_scope(opportunity: OpportunityLinks, since: date | None) -> bool:
    """Deals closed before `since` were provisioned before psflow and are not checked."""
    if since is None:
        return True
    return opportunity.close_date is not None and opportunity.close_date >= since


def missing_project(
    opportunity: OpportunityLinks, erp_found: bool, psa_found: bool
) -> Finding | None:
    """A closed-won deal must have both an ERP and a PSA project."""
    missing = [name for name, found in (("ERP", erp_found), ("PSA", psa_found)) if not found]
    if not missing:
        return None
    return Finding(
        kind=FindingKind.MISSING_PROJECT,
        business_key=opportunity.id,
        detail=f"closed-won deal {opportunity.name!r} "
        f"(closed {opportunity.close_date or 'on an unknown day'}) "
        f"has no {' and no '.join(missing)} project",
        suggested_repair=f"psflow start opportunity-to-project {opportunity.id}",
        target=RepairTarget(kind=FindingKind.MISSING_PROJECT, business_key=opportunity.id),
    )


def psa_without_erp(project_id: str, external_id: str, name: str) -> Finding:
    """An active PSA project whose ERP job (same external id) does not exist."""
    opportunity = external_id.removeprefix("psflow-") if external_id.startswith("psflow-") else ""
    repair = (
        f"psflow start opportunity-to-project {opportunity} (it creates the ERP project)"
        if opportunity.startswith("006")
        else "create the ERP project (job) by hand, or archive the PSA project"
    )
    return Finding(
        kind=FindingKind.PSA_WITHOUT_ERP,
        business_key=project_id,
        detail=f"PSA project {project_id} {name!r} has no ERP project with external id "
        f"{external_id}",
        suggested_repair=repair,
    )


def unposted_time(
    project_id: str,
    period: str,
    entries: list[TimeEntry],
    posted: set[str],
    excepted: set[str],
    now: datetime,
    hours: float,
) -> Finding | None:
    """Approved entries older than `hours` that the ERP does not hold; entries already known
    as billing exceptions are left to `psflow exceptions`."""
    cutoff = now - timedelta(hours=hours)
    late = [
        e
        for e in entries
        if e.approved_at is not None
        and e.approved_at <= cutoff
        and e.id not in posted
        and e.id not in excepted
    ]
    if not late:
        return None
    oldest = min(e.approved_at for e in late if e.approved_at is not None)
    total = sum((e.hours for e in late), Decimal(0))
    key = f"{project_id}/{period}"
    return Finding(
        kind=FindingKind.UNPOSTED_TIME,
        business_key=key,
        detail=f"{len(late)} approved time entries ({total} h) are not in the ERP "
        f"{_hours(hours)} after approval; the oldest was approved {oldest:%Y-%m-%d %H:%M}",
        suggested_repair=f"psflow start time-to-bill {key}",
        target=RepairTarget(kind=FindingKind.UNPOSTED_TIME, business_key=key),
    )


def _hours(hours: float) -> str:
    return f"{int(hours)} h" if float(hours).is_integer() else f"{hours} h"


def invoice_drift(opportunity: OpportunityLinks, invoices: list[InvoiceHeader]) -> Finding | None:
    """The CRM must show the ERP's latest released invoice, with the ERP's status.

    Drafts and approvals in progress are not drift: time-to-bill writes the CRM on release.
    """
    crm_number, crm_status = opportunity.invoice_number, opportunity.invoice_status
    released = [i for i in invoices if i.status == InvoiceStatus.RELEASED]
    latest = released[-1] if released else None
    named = next((i for i in invoices if i.number == crm_number), None) if crm_number else None
    shown = f"invoice {crm_number} {crm_status or 'with no status'}" if crm_number else "no invoice"
    if crm_number and named is None:
        detail = f"the CRM shows {shown}, which the ERP does not have"
        fix = latest
    elif named is not None and (crm_status or "").lower() != named.status.value:
        detail = f"the CRM shows {shown}; the ERP has it {named.status.value}"
        fix = named
    elif latest is not None and (named is None or invoices.index(latest) > invoices.index(named)):
        detail = f"the CRM shows {shown}; the ERP released {latest.number}"
        fix = latest
    else:
        return None
    target = None
    if fix is not None:
        target = RepairTarget(
            kind=FindingKind.INVOICE_STATUS,
            business_key=opportunity.id,
            invoice_external_id=fix.external_id,
        )
    return Finding(
        kind=FindingKind.INVOICE_STATUS,
        business_key=opportunity.id,
        detail=f"{opportunity.name}: {detail}",
        suggested_repair=(
            f"{REPAIRS[FindingKind.INVOICE_STATUS]} ({fix.number} {fix.status.value})"
            if fix is not None
            else "clear the invoice fields on the opportunity by hand"
        ),
        target=target,
    )
