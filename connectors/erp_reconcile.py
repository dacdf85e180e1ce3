"""ERP reads over many records at once, by SuiteQL: a query per thousand keys (and page of
answers) instead of a read per record. Reconciliation asks which projects exist and what
each project's invoices are; the report asks invoice numbers, project currencies and the
unbilled backlog. A mixin of ErpConnector.

Columns are the record's field names in lower case; `transaction` rows of type 'CustInvc'
are the invoices.
"""

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.netsuite import json_decimal
from connectors.netsuite_billing import STATUS_FIELD, sql_list
from models.billing import InvoiceHeader, InvoiceStatus

# Keys per IN list: a page of answers (1000 rows) each for one-row-per-key queries.
IN_LIST_MAX = 1000
INVOICE_COLUMNS = (
    "id, externalid, tranid, job, entity, currency, custbody_psflow_period, "
    f"{STATUS_FIELD}, total, custbody_psflow_source"
)
# A time bill is in its project's currency; an expense report names its own.
UNBILLED_TIME = (
    "SELECT id, customer, custcol_psflow_amount FROM timebill "
    "WHERE invoice IS NULL AND isbillable = 'T' ORDER BY id"
)
UNBILLED_EXPENSES = (
    "SELECT id, currency, amount FROM expensereport "
    "WHERE invoice IS NULL AND isbillable = 'T' ORDER BY id"
)


def _chunks(values: Sequence[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(v for v in values if v))
    return [unique[at : at + IN_LIST_MAX] for at in range(0, len(unique), IN_LIST_MAX)]


class ErpReadsMixin:
    """Reconciliation's and the report's reads; ErpConnector supplies suiteql and currencies."""

    if TYPE_CHECKING:

        async def suiteql(self, query: str) -> list[dict[str, Any]]: ...

        async def currency_code(self, currency_id: str) -> str: ...

    async def _rows(self, query: str, keys: Sequence[str]) -> list[dict[str, Any]]:
        """Every row of `query` (its `{keys}` filled with a quoted IN list) for every chunk."""
        pages = await asyncio.gather(
            *(self.suiteql(query.format(keys=sql_list(c))) for c in _chunks(keys))
        )
        return [row for page in pages for row in page]

    async def missing_projects(self, external_ids: list[str]) -> set[str]:
        """The external ids no ERP project (job) carries."""
        query = "SELECT externalid FROM job WHERE externalid IN ({keys})"
        found = {str(row.get("externalid") or "") for row in await self._rows(query, external_ids)}
        return {e for e in external_ids if e and e not in found}

    async def invoices_by_project(self, project_ids: list[str]) -> dict[str, list[InvoiceHeader]]:
        """Every invoice of these ERP projects (voided ones too), oldest first, by project id,
        without their lines."""
        query = (
            f"SELECT {INVOICE_COLUMNS} FROM transaction "
            "WHERE type = 'CustInvc' AND job IN ({keys}) ORDER BY id"
        )
        rows = await self._rows(query, project_ids)
        found: dict[str, list[InvoiceHeader]] = {p: [] for p in project_ids if p}
        for row in sorted(rows, key=lambda r: int(r["id"])):
            invoice = await self._header(row)
            found.setdefault(invoice.project_id, []).append(invoice)
        return found

    async def invoice_numbers(self, ids: list[str]) -> dict[str, str]:
        """ERP invoice internal id -> its number (tranId)."""
        query = "SELECT id, tranid FROM transaction WHERE id IN ({keys})"
        return {str(r["id"]): str(r.get("tranid") or "") for r in await self._rows(query, ids)}

    async def job_currencies(self, ids: Sequence[str]) -> dict[str, str]:
        """ERP project internal id -> its currency's ISO code."""
        rows = await self._rows("SELECT id, currency FROM job WHERE id IN ({keys})", ids)
        return {
            str(row["id"]): await self.currency_code(str(row.get("currency") or "")) for row in rows
        }

    async def unbilled(self) -> dict[str, tuple[Decimal, int]]:
        """Currency -> (amount, records) of billable postings no invoice bills yet."""
        time_rows, expense_rows = await asyncio.gather(
            self.suiteql(UNBILLED_TIME), self.suiteql(UNBILLED_EXPENSES)
        )
        currency_of = await self.job_currencies([str(r.get("customer") or "") for r in time_rows])
        totals: dict[str, tuple[Decimal, int]] = defaultdict(lambda: (Decimal(0), 0))
        rows = [
            (currency_of[str(r.get("customer") or "")], r.get("custcol_psflow_amount"))
            for r in time_rows
        ]
        for row in expense_rows:
            currency = await self.currency_code(str(row.get("currency") or ""))
            rows.append((currency, row.get("amount")))
        for currency, amount in rows:
            total, count = totals[currency]
            totals[currency] = (total + json_decimal(amount or 0), count + 1)
        return dict(sorted(totals.items()))

    async def _header(self, row: dict[str, Any]) -> InvoiceHeader:
        return InvoiceHeader(
            id=str(row["id"]),
            external_id=str(row.get("externalid") or ""),
            number=str(row.get("tranid") or ""),
            project_id=str(row.get("job") or ""),
            customer_id=str(row.get("entity") or ""),
            currency=await self.currency_code(str(row.get("currency") or "")),
            period=str(row.get("custbody_psflow_period") or ""),
            status=InvoiceStatus(row.get(STATUS_FIELD) or "draft"),
            total=json_decimal(row.get("total")),
            source=str(row.get("custbody_psflow_source") or ""),
        )
