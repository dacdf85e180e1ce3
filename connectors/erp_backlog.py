"""The ERP's unbilled backlog: billable time bills and expense reports on no invoice yet."""

import asyncio
from collections import defaultdict
from decimal import Decimal

from connectors.erp import ErpConnector
from connectors.erp_reconcile import job_currencies
from connectors.netsuite import json_decimal

# A time bill is in its project's currency; an expense report names its own.
TIME = (
    "SELECT id, customer, custcol_psflow_amount FROM timebill "
    "WHERE invoice IS NULL AND isbillable = 'T' ORDER BY id"
)
EXPENSES = (
    "SELECT id, currency, amount FROM expensereport "
    "WHERE invoice IS NULL AND isbillable = 'T' ORDER BY id"
)


async def unbilled(erp: ErpConnector) -> dict[str, tuple[Decimal, int]]:
    """Currency -> (amount, records) of billable postings no invoice bills yet."""
    time_rows, expense_rows = await asyncio.gather(erp.suiteql(TIME), erp.suiteql(EXPENSES))
    job_currency = await job_currencies(erp, [str(r.get("customer") or "") for r in time_rows])
    totals: dict[str, tuple[Decimal, int]] = defaultdict(lambda: (Decimal(0), 0))
    rows = [
        (job_currency[str(r.get("customer") or "")], r.get("custcol_psflow_amount"))
        for r in time_rows
    ]
    for row in expense_rows:
        rows.append((await erp.currency_code(str(row.get("currency") or "")), row.get("amount")))
    for currency, amount in rows:
        total, count = totals[currency]
        totals[currency] = (total + json_decimal(amount or 0), count + 1)
    return dict(sorted(totals.items()))
