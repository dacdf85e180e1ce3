"""ERP reads for reconciliation, many projects per request instead of one request each.

A record collection filtered with `q` (`job?q=externalId ANY_OF [a, b]`) answers ids and a
`totalResults`, never the fields: which jobs exist is counted, and only a group that comes
up short is split to find the missing ones (a few requests for a few orphans among hundreds).
"""

import asyncio
from typing import Any

from connectors.erp import ErpConnector
from connectors.netsuite import RECORD_PATH, json_object
from models.billing import Invoice

# Values per ANY_OF list: keeps the request line a few kilobytes long.
ANY_OF_MAX = 100


def _chunks(values: list[str]) -> list[list[str]]:
    return [values[at : at + ANY_OF_MAX] for at in range(0, len(values), ANY_OF_MAX)]


def _any_of(field: str, values: list[str]) -> str:
    return f"{field} ANY_OF [{', '.join(values)}]"


async def _count(erp: ErpConnector, record_type: str, query: str) -> int:
    params: dict[str, Any] = {"limit": 1, "offset": 0, "q": query}
    page = json_object(await erp.request("GET", f"{RECORD_PATH}/{record_type}", params=params))
    return int(page.get("totalResults") or 0)


async def missing_jobs(erp: ErpConnector, external_ids: list[str]) -> set[str]:
    """The external ids no ERP project (job) carries."""
    wanted = list(dict.fromkeys(e for e in external_ids if e))

    async def missing(group: list[str]) -> list[str]:
        if await _count(erp, "job", _any_of("externalId", group)) >= len(group):
            return []
        if len(group) == 1:
            return group
        half = len(group) // 2
        found = await asyncio.gather(missing(group[:half]), missing(group[half:]))
        return found[0] + found[1]

    groups = await asyncio.gather(*(missing(c) for c in _chunks(wanted)))
    return {e for group in groups for e in group}


async def invoices_by_project(
    erp: ErpConnector, project_ids: list[str]
) -> dict[str, list[Invoice]]:
    """Every invoice of these ERP projects (voided ones too), oldest first, by project id:
    one collection request per hundred projects, then one read per invoice."""
    wanted = list(dict.fromkeys(p for p in project_ids if p))
    lists = await asyncio.gather(
        *(erp.invoices_where(_any_of("job", chunk)) for chunk in _chunks(wanted))
    )
    invoices = {i.id: i for chunk in lists for i in chunk}
    found: dict[str, list[Invoice]] = {p: [] for p in wanted}
    for invoice in sorted(invoices.values(), key=lambda i: int(i.id)):
        found.setdefault(invoice.project_id, []).append(invoice)
    return found
