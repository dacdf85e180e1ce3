"""Time-to-bill in Tryton: postings and invoices, a mixin of TrytonErpConnector.

Time goes to the project's timesheet as timesheet lines (role, bill rate and amount kept on
each), expenses to psflow's expense record; both through the psflow module's `psflow_post`,
which upserts by external id and answers one result per row, a refused row failing alone.
An invoice is drafted by `account.invoice.psflow_draft` (the period's unbilled billable time,
one line per role and rate; the milestones; one line per expense category) and moved by
`psflow_move`: approved is Tryton's validated, released is posted (numbered, its accounting
move written), voided is cancelled, which frees its time and expenses for the next invoice.
A posted invoice is voided by a credit note, which keeps them billed.
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.erp_port import PostingType
from connectors.errors import NotFound, NothingToBill, RequestRejected, SystemUnavailable
from connectors.tryton_records import KEY, decimal_value
from connectors.tryton_rpc import TrytonRpc
from models.billing import (
    ExpensePosting,
    Invoice,
    InvoiceDraftInput,
    InvoiceHeader,
    InvoiceLine,
    InvoiceLineKind,
    InvoiceStatus,
    PostedRecord,
    PostingOutcome,
    PostingResult,
    TimePosting,
)

# rows per psflow_post call and ids per search: one transaction, one answer each
CHUNK = 1000
POSTING_MODELS: dict[PostingType, tuple[str, str]] = {
    "timeBill": ("timesheet.line", "psflow_amount"),
    "expenseReport": ("psflow.expense", "amount"),
}
HEADER_FIELDS = [
    "id", KEY, "number", "rec_name", "psflow_project", "party", "currency.code",
    "psflow_period", "psflow_status", "total_amount", "psflow_source",
]  # fmt: skip
INVOICE_FIELDS = [
    *HEADER_FIELDS, "psflow_time_count", "psflow_expense_count", "psflow_approvers", "lines",
]  # fmt: skip
LINE_FIELDS = [
    "psflow_kind", "description", "quantity", "unit_price", "amount", "psflow_role",
    "psflow_milestone",
]  # fmt: skip
CENT = Decimal("0.01")


def internal_id(value: str) -> int | None:
    """A Tryton id written as psflow carries it (a string of ASCII digits), else None."""
    return int(value) if value.isascii() and value.isdigit() else None


def header_from_record(record: dict[str, Any]) -> InvoiceHeader:
    return InvoiceHeader(
        id=str(record["id"]),
        external_id=record.get(KEY) or "",
        number=record.get("number") or record.get("rec_name") or "",
        project_id=str(record.get("psflow_project") or ""),
        customer_id=str(record.get("party") or ""),
        currency=(record.get("currency.") or {}).get("code") or "",
        period=record.get("psflow_period") or "",
        status=InvoiceStatus(record.get("psflow_status") or "draft"),
        total=decimal_value(record.get("total_amount")) or Decimal(0),
        source=record.get("psflow_source") or "",
    )


def line_from_record(record: dict[str, Any]) -> InvoiceLine:
    return InvoiceLine(
        kind=InvoiceLineKind(record.get("psflow_kind") or "time"),
        description=record.get("description") or "",
        quantity=Decimal(str(record.get("quantity") or 0)).quantize(CENT),
        rate=decimal_value(record.get("unit_price")) or Decimal(0),
        amount=decimal_value(record.get("amount")) or Decimal(0),
        role=record.get("psflow_role") or None,
        milestone_id=record.get("psflow_milestone") or None,
    )


def chunks(values: Sequence[Any]) -> list[list[Any]]:
    return [list(values[at : at + CHUNK]) for at in range(0, len(values), CHUNK)]


class TrytonBillingMixin:
    """Postings, the duplicate check and invoices; the connector has the records."""

    rpc: TrytonRpc
    system: str

    if TYPE_CHECKING:

        async def _company_currency(self, company_id: int) -> str: ...

    # ------------------------------------------------------------ postings

    async def posted_records(
        self, record_type: PostingType, external_ids: list[str]
    ) -> dict[str, PostedRecord]:
        """Which of these external ids Tryton already holds, with their source, invoice and
        billable amount."""
        model, amount = POSTING_MODELS[record_type]
        fields = ["id", KEY, "psflow_source", "psflow_billable", amount, "invoice_line.invoice"]
        found: dict[str, PostedRecord] = {}
        for chunk in chunks(list(dict.fromkeys(e for e in external_ids if e))):
            rows = await self.rpc.model(
                model, "search_read", [(KEY, "in", chunk)], 0, None, None, fields
            )
            for row in rows:
                invoice = (row.get("invoice_line.") or {}).get("invoice")
                billable = decimal_value(row.get(amount)) or Decimal(0)
                found[row[KEY]] = PostedRecord(
                    id=str(row["id"]),
                    external_id=row[KEY],
                    source=row.get("psflow_source") or None,
                    invoice_id=str(invoice) if invoice else None,
                    billable_amount=billable if row.get("psflow_billable") else Decimal(0),
                )
        return found

    async def upsert_time_bills(self, postings: list[TimePosting]) -> list[PostingResult]:
        """Upsert each posting as a timesheet line by its external id; one result each."""
        rows = [
            {
                KEY: p.external_id, "project": internal_id(p.project_id),
                "employee": internal_id(p.employee_id), "date": p.date, "hours": p.hours,
                "description": p.memo, "role": p.role, "rate": p.rate, "amount": p.amount,
                "billable": p.billable, "cost_center": p.cost_center, "approver": p.approver,
                "source": p.source,
            }
            for p in postings
        ]  # fmt: skip
        return await self._post("timesheet.line", rows)

    async def upsert_expense_reports(self, postings: list[ExpensePosting]) -> list[PostingResult]:
        """Upsert each posting as a psflow expense by its external id; one result each. An
        expense in another currency than its project's company is refused."""
        rows = [
            {
                KEY: p.external_id, "project": internal_id(p.project_id),
                "employee": internal_id(p.employee_id), "date": p.date, "amount": p.amount,
                "currency": p.currency, "category": p.category, "description": p.memo,
                "billable": p.billable, "cost_center": p.cost_center, "approver": p.approver,
                "source": p.source,
            }
            for p in postings
        ]  # fmt: skip
        return await self._post("psflow.expense", rows)

    async def _post(self, model: str, rows: list[dict[str, Any]]) -> list[PostingResult]:
        results: list[PostingResult] = []
        for chunk in chunks(rows):
            answers = await self.rpc.model(model, "psflow_post", chunk)
            if not isinstance(answers, list) or len(answers) != len(chunk):
                raise SystemUnavailable(self.system, f"{model}.psflow_post answered {answers!r}")
            results += [
                PostingResult(
                    external_id=a["external_id"],
                    id=str(a["id"]) if a.get("id") else None,
                    outcome=PostingOutcome(a["outcome"]),
                    message=a.get("message") or None,
                )
                for a in answers
            ]
        return results

    # ------------------------------------------------------------ invoices

    async def draft_invoice(self, data: InvoiceDraftInput) -> Invoice:
        """Draft the invoice with `data.external_id`, or answer the live one that has it.
        Nothing to bill is NothingToBill; a currency other than the project's company's is
        RequestRejected naming `currency`."""
        project = internal_id(data.project_id)
        rows = await self.rpc.model(
            "project.work", "search_read", [("id", "=", project or 0), ("type", "=", "project")],
            0, 1, None, ["company"], active_test=False,
        )  # fmt: skip
        if not rows:
            raise NotFound(self.system, f"no project {data.project_id}", fields=["project_id"])
        kept = await self._company_currency(int(rows[0]["company"]))
        if data.currency != kept:
            raise RequestRejected(
                self.system,
                f"the invoice is asked in {data.currency}; Tryton invoices project "
                f"{data.project_id} in its company's currency, {kept}",
                fields=["currency"],
            )
        milestones = [
            {"id": m.id, "name": m.name, "amount": m.amount} for m in data.milestones
        ]  # fmt: skip
        values = {
            KEY: data.external_id, "project": project, "period": data.period,
            "source": data.source, "milestones": milestones,
        }  # fmt: skip
        drafted = await self.rpc.model("account.invoice", "psflow_draft", values)
        if drafted is None:
            raise NothingToBill(
                self.system,
                f"nothing unbilled for project {data.project_id} in {data.period}",
                fields=["lines"],
            )
        invoice = await self.get_invoice(data.external_id)
        if invoice is None:
            raise SystemUnavailable(self.system, f"invoice {data.external_id} vanished")
        return invoice

    async def get_invoice(self, external_id: str) -> Invoice | None:
        """The invoice with this external id, with its lines, or None."""
        if not external_id:
            return None
        rows = await self.rpc.model(
            "account.invoice", "search_read", [(KEY, "=", external_id)], 0, 1, None,
            INVOICE_FIELDS,
        )  # fmt: skip
        if not rows:
            return None
        record = rows[0]
        lines = await self.rpc.model("account.invoice.line", "read", record["lines"], LINE_FIELDS)
        approvers = [a for a in (record.get("psflow_approvers") or "").split(",") if a]
        return Invoice(
            **header_from_record(record).model_dump(),
            lines=[line_from_record(line) for line in lines],
            time_count=record.get("psflow_time_count") or 0,
            expense_count=record.get("psflow_expense_count") or 0,
            approvers=approvers,
        )

    async def move_invoice(self, external_id: str, status: InvoiceStatus) -> str | None:
        """Move the invoice to `status` with one call and answer its number once it has one
        (Tryton numbers an invoice when it posts it); the same status again changes nothing,
        an impossible move is RequestRejected, an unknown invoice NotFound."""
        number = await self.rpc.model("account.invoice", "psflow_move", external_id, status.value)
        if number is None:
            raise NotFound(self.system, f"no invoice {external_id}", fields=["external_id"])
        return str(number) or None

    async def set_invoice_status(self, external_id: str, status: InvoiceStatus) -> Invoice:
        """Move the invoice to `status` and read it back."""
        await self.move_invoice(external_id, status)
        moved = await self.get_invoice(external_id)
        if moved is None:
            raise SystemUnavailable(self.system, f"invoice {external_id} vanished")
        return moved
