"""Invoices in the ERP and their status in the CRM."""

from pydantic import BaseModel
from temporalio import activity

from connectors.crm import CrmConnector
from connectors.crm_status_batch import InvoiceStatusBatcher
from connectors.erp_port import Erp
from connectors.errors import NotFound, NothingToBill
from models.billing import Invoice, InvoiceDraftInput, InvoiceStatus, InvoiceStatusUpdate
from models.status import CompensationOutcome
from models.undo import UndoReport


class Drafted(BaseModel):
    """The drafted invoice, or None when the period has nothing left to bill."""

    invoice: Invoice | None = None


class InvoiceStatusChange(BaseModel):
    external_id: str
    status: InvoiceStatus


class InvoicingActivities:
    def __init__(self, erp: Erp, crm: CrmConnector) -> None:
        self._erp = erp
        self._statuses = InvoiceStatusBatcher(crm)

    @activity.defn(name="erp.draft_invoice")
    async def draft_invoice(self, draft: InvoiceDraftInput) -> Drafted:
        """Draft the invoice for the period's unbilled billable postings and milestones (the
        live one with its external id if an earlier attempt drafted it)."""
        try:
            return Drafted(invoice=await self._erp.draft_invoice(draft))
        except NothingToBill:
            return Drafted()

    @activity.defn(name="erp.move_invoice")
    async def move_invoice(self, change: InvoiceStatusChange) -> str | None:
        """Approve or release the invoice: one call (repeating a move already made changes
        nothing). Its number when the move gave it one (Tryton's, on release), else None."""
        return await self._erp.move_invoice(change.external_id, change.status)

    @activity.defn(name="erp.set_invoice_status")
    async def set_invoice_status(self, change: InvoiceStatusChange) -> Invoice:
        """As move_invoice, reading the invoice before and after: runs drafted before the
        one-call release still call it."""
        return await self._erp.set_invoice_status(change.external_id, change.status)

    @activity.defn(name="erp.void_invoice")
    async def void_invoice(self, external_id: str) -> CompensationOutcome | UndoReport:
        """Void a draft or approved invoice, freeing its postings for the next invoice. One
        released meanwhile (a cancel that came while it was being released) is kept."""
        invoice = await self._erp.get_invoice(external_id)
        if invoice is None:
            return CompensationOutcome.ALREADY_GONE
        if invoice.status is InvoiceStatus.RELEASED:
            reason = f"invoice {invoice.number} was released: it takes a credit memo, not a void"
            return UndoReport(outcome=CompensationOutcome.KEPT, reason=reason)
        try:
            await self._erp.move_invoice(external_id, InvoiceStatus.VOIDED)
        except NotFound:
            return CompensationOutcome.ALREADY_GONE
        return CompensationOutcome.UNDONE

    @activity.defn(name="crm.set_invoice_status")
    async def invoice_status_to_crm(self, update: InvoiceStatusUpdate) -> None:
        """Write the invoice's number, status and total on the opportunity, in one CRM
        request with the other releases of the moment."""
        await self._statuses.write(update)
