"""Reads over many Tryton records at once, for reconciliation and the report: one search per
thousand keys, a mixin of TrytonErpConnector."""

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING

from connectors.tryton_billing import HEADER_FIELDS, chunks, header_from_record, internal_id
from connectors.tryton_records import KEY, decimal_value
from connectors.tryton_rpc import TrytonRpc
from models.billing import InvoiceHeader

# billable and on no invoice yet
UNBILLED = [("psflow_billable", "=", True), ("invoice_line", "=", None)]


class TrytonReadsMixin:
    """missing_projects, invoices_by_project, invoice_numbers, unbilled."""

    rpc: TrytonRpc

    if TYPE_CHECKING:

        async def _company_currency(self, company_id: int) -> str: ...

    async def missing_projects(self, external_ids: list[str]) -> set[str]:
        """The external ids no Tryton project carries."""
        found: set[str] = set()
        for chunk in chunks(list(dict.fromkeys(e for e in external_ids if e))):
            rows = await self.rpc.model(
                "project.work", "search_read", [(KEY, "in", chunk)], 0, None, None, [KEY],
                active_test=False,
            )  # fmt: skip
            found |= {row[KEY] for row in rows}
        return {e for e in external_ids if e and e not in found}

    async def invoices_by_project(self, project_ids: list[str]) -> dict[str, list[InvoiceHeader]]:
        """Every psflow invoice of these projects (voided ones too), oldest first, by project
        id, without their lines."""
        found: dict[str, list[InvoiceHeader]] = {p: [] for p in project_ids if p}
        ids = [i for p in found if (i := internal_id(p)) is not None]
        for chunk in chunks(ids):
            rows = await self.rpc.model(
                "account.invoice", "search_read", [("psflow_project", "in", chunk)], 0, None,
                [("id", "ASC")], HEADER_FIELDS,
            )  # fmt: skip
            for row in rows:
                invoice = header_from_record(row)
                found.setdefault(invoice.project_id, []).append(invoice)
        return found

    async def invoice_numbers(self, ids: list[str]) -> dict[str, str]:
        """Tryton invoice id -> its number (a draft's: its name until it is posted)."""
        numbers: dict[str, str] = {}
        wanted = [i for v in dict.fromkeys(ids) if (i := internal_id(v)) is not None]
        for chunk in chunks(wanted):
            rows = await self.rpc.model(
                "account.invoice", "search_read", [("id", "in", chunk)], 0, None, None,
                ["id", "number", "rec_name"],
            )  # fmt: skip
            numbers |= {str(r["id"]): r.get("number") or r.get("rec_name") or "" for r in rows}
        return numbers

    async def unbilled(self) -> dict[str, tuple[Decimal, int]]:
        """Currency -> (amount, records) of billable time and expenses on no invoice yet."""
        time = await self.rpc.model(
            "timesheet.line", "search_read", UNBILLED, 0, None, None, ["company", "psflow_amount"]
        )
        expenses = await self.rpc.model(
            "psflow.expense", "search_read", UNBILLED, 0, None, None, ["currency.code", "amount"]
        )
        rows = [(await self._company_currency(int(r["company"])), r["psflow_amount"]) for r in time]
        rows += [((r.get("currency.") or {}).get("code") or "", r["amount"]) for r in expenses]
        totals: dict[str, tuple[Decimal, int]] = defaultdict(lambda: (Decimal(0), 0))
        for currency, amount in rows:
            total, count = totals[currency]
            totals[currency] = (total + (decimal_value(amount) or Decimal(0)), count + 1)
        return dict(sorted(totals.items()))
