"""ERP reads over many records at once, by SuiteQL: a query per thousand keys (and page of
answers) instead of a read per record. Reconciliation asks which projects exist and what
each project's invoices are; the report asks invoice numbers and project currencies.

Columns are the record's field names in lower case; `transaction` rows of type 'CustInvc'
are the invoices.
"""

import asyncio
from collections.abc import Sequence
from typing import Any

from connectors.erp import ErpConnector
from connectors.netsuite import json_decimal
from connectors.netsuite_billing import STATUS_FIELD, sql_list
from models.billing import InvoiceHeader, InvoiceStatus

# Keys per IN list: a page of answers (1000 rows) each for one-row-per-key queries.
IN_LIST_MAX = 1000
INVOICE_COLUMNS = (
    "id, externalid, tranid, job, entity, currency, custbody_psflow_period, "
    f"{STATUS_FIELD}, total, custbody_psflow_source"
)


def _chunks(values: Sequence[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(v for v in values if v))
    return [unique[at : at + IN_LIST_MAX] for at in range(0, len(unique), IN_LIST_MAX)]


async def _rows(erp: ErpConnector, query: str, keys: Sequence[str]) -> list[dict[str, Any]]:
    """Every row of `query` (its `{keys}` filled with a quoted IN list) for every chunk."""
    pages = await asyncio.gather(
        *(erp.suiteql(query.format(keys=sql_list(c))) for c in _chunks(keys))
    )
    return [row for page in pages for row in page]


async def missing_jobs(erp: ErpConnector, external_ids: list[str]) -> set[str]:
    """The external ids no ERP project (job) carries."""
    rows = await _rows(erp, "SELECT externalid FROM job WHERE externalid IN ({keys})", external_ids)
    found = {str(row.get("externalid") or "") for row in rows}
    return {e for e in external_ids if e and e not in found}


async def invoices_by_project(
    erp: ErpConnector, project_ids: list[str]
) -> dict[str, list[InvoiceHeader]]:
    """Every invoice of these ERP projects (voided ones too), oldest first, by project id,
    without their lines."""
    query = (
        f"SELECT {INVOICE_COLUMNS} FROM transaction "
        "WHERE type = 'CustInvc' AND job IN ({keys}) ORDER BY id"
    )
    rows = await _rows(erp, query, project_ids)
    found: dict[str, list[InvoiceHeader]] = {p: [] for p in project_ids if p}
    for row in sorted(rows, key=lambda r: int(r["id"])):
        invoice = await _header(erp, row)
        found.setdefault(invoice.project_id, []).append(invoice)
    return found


async def invoice_numbers(erp: ErpConnector, ids: Sequence[str]) -> dict[str, str]:
    """ERP invoice internal id -> its number (tranId)."""
    query = "SELECT id, tranid FROM transaction WHERE id IN ({keys})"
    return {str(r["id"]): str(r.get("tranid") or "") for r in await _rows(erp, query, ids)}


async def job_currencies(erp: ErpConnector, ids: Sequence[str]) -> dict[str, str]:
    """ERP project internal id -> its currency's ISO code."""
    rows = await _rows(erp, "SELECT id, currency FROM job WHERE id IN ({keys})", ids)
    return {str(row["id"]): await erp.currency_code(str(row.get("currency") or "")) for row in rows}


async def _header(erp: ErpConnector, row: dict[str, Any]) -> InvoiceHeader:
    return InvoiceHeader(
        id=str(row["id"]),
        external_id=str(row.get("externalid") or ""),
        number=str(row.get("tranid") or ""),
        project_id=str(row.get("job") or ""),
        customer_id=str(row.get("entity") or ""),
        currency=await erp.currency_code(str(row.get("currency") or "")),
        period=str(row.get("custbody_psflow_period") or ""),
        status=InvoiceStatus(row.get(STATUS_FIELD) or "draft"),
        total=json_decimal(row.get("total")),
        source=str(row.get("custbody_psflow_source") or ""),
    )
