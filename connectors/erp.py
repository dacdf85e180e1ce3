"""The ERP connector: NetSuite's REST record API (SuiteTalk REST, record/v1).

Customers and projects (NetSuite's `job` record) are addressed by external id (`eid:...`),
so a retried activity upserts the same record instead of creating another.

Money goes out as a JSON number: NetSuite's currency fields are numbers in its record
schema, and a float carries any amount below 10**13 with cents exactly (15 significant
digits); larger or finer amounts are refused before sending rather than rounded.
"""

import asyncio
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from connectors.base import Connector
from connectors.errors import NotFound, RequestRejected, SystemUnavailable
from models.erp import ErpCustomer, ErpCustomerInput, ErpProject, ErpProjectInput

RECORD_PATH = "/services/rest/record/v1"
# NetSuite's error code for a record that does not exist (as opposed to a wrong URL).
MISSING_RECORD_CODE = "NONEXISTENT_ID"
# psflow's billing types -> NetSuite's project billing type ids
BILLING_TYPE_IDS = {"Time and Materials": "TM", "Fixed Fee": "FFM"}
PAGE_SIZE = 1000


def money(amount: Decimal) -> float:
    """An amount as a JSON number, refusing any the float would not carry exactly."""
    value = float(amount)
    if Decimal(repr(value)) != amount:
        raise ValueError(f"amount {amount} cannot be sent exactly as a JSON number")
    return value


def _object(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    if not isinstance(body, dict):
        raise TypeError(f"expected a JSON object, got {type(body).__name__}")
    return body


def _reference_id(record: dict[str, Any], field: str) -> str:
    value = record.get(field)
    return str(value["id"]) if isinstance(value, dict) and "id" in value else ""


def _customer(record: dict[str, Any]) -> ErpCustomer:
    return ErpCustomer(
        id=str(record["id"]),
        external_id=str(record.get("externalId") or ""),
        company_name=str(record.get("companyName") or ""),
        origin=record.get("custentity_psflow_origin") or None,
    )


def _project(record: dict[str, Any]) -> ErpProject:
    return ErpProject(
        id=str(record["id"]),
        external_id=str(record.get("externalId") or ""),
        name=str(record.get("companyName") or record.get("entityId") or ""),
        customer_id=_reference_id(record, "parent"),
    )


class ErpConnector(Connector):
    """Customers and projects in NetSuite, by external id."""

    system = "erp"
    token_path = "/services/rest/auth/oauth2/v1/token"

    def __init__(self, client: httpx.AsyncClient, concurrency: int = 5) -> None:
        super().__init__(client, concurrency)
        # reference list -> business key (currency symbol, term name) -> internal id
        self._references: dict[str, dict[str, str]] = {}

    def error_message(self, response: httpx.Response) -> tuple[str, list[str]]:
        """NetSuite's title and each detail with its error code; fields from o:errorPath."""
        try:
            body = response.json()
        except ValueError:
            return super().error_message(response)
        if not isinstance(body, dict) or not isinstance(body.get("o:errorDetails"), list):
            return super().error_message(response)
        details = [d for d in body["o:errorDetails"] if isinstance(d, dict)]
        parts = [f"{d.get('detail', '')} ({d.get('o:errorCode', 'UNKNOWN')})" for d in details]
        fields = [str(d["o:errorPath"]) for d in details if d.get("o:errorPath")]
        title = str(body.get("title") or response.reason_phrase)
        return f"{title}: {'; '.join(parts)}" if parts else title, fields

    # ------------------------------------------------------------ customers

    async def get_customer(self, external_id: str) -> ErpCustomer | None:
        """The customer with this external id, or None when there is none."""
        record = await self._get_by_external_id("customer", external_id)
        return _customer(record) if record is not None else None

    async def upsert_customer(self, data: ErpCustomerInput) -> ErpCustomer:
        """Create or update the customer with `data.external_id`.

        The origin (custentity_psflow_origin) is written only when the customer is created, so
        an existing customer keeps its own: origin == your business key means you created it.
        """
        existing = await self.get_customer(data.external_id)
        body: dict[str, Any] = {
            "companyName": data.company_name,
            "subsidiary": {"id": data.subsidiary_id},
            "currency": {"id": await self._currency_id(data.currency)},
            "terms": {"id": await self._term_id(data.terms)},
        }
        if existing is None:
            body["custentity_psflow_origin"] = data.origin
        await self.request("PUT", self._eid_url("customer", data.external_id), json=body)
        return _customer(await self._read_back("customer", data.external_id))

    async def delete_customer(self, external_id: str) -> bool:
        """Delete the customer; False when it was already gone.

        A customer with projects is refused by NetSuite: RequestRejected (permanent).
        """
        return await self._delete("customer", external_id)

    # ------------------------------------------------------------ projects

    async def get_project(self, external_id: str) -> ErpProject | None:
        """The project (NetSuite job) with this external id, or None when there is none."""
        record = await self._get_by_external_id("job", external_id)
        return _project(record) if record is not None else None

    async def upsert_project(self, data: ErpProjectInput) -> ErpProject:
        """Create or update the project with `data.external_id` under customer `customer_id`."""
        body: dict[str, Any] = {
            "companyName": data.name,
            "parent": {"id": data.customer_id},
            "subsidiary": {"id": data.subsidiary_id},
            "currency": {"id": await self._currency_id(data.currency)},
            "jobBillingType": {"id": BILLING_TYPE_IDS.get(data.billing_type, data.billing_type)},
            "custentity_psflow_budget": money(data.budget),
        }
        await self.request("PUT", self._eid_url("job", data.external_id), json=body)
        return _project(await self._read_back("job", data.external_id))

    async def delete_project(self, external_id: str) -> bool:
        """Delete the project; False when it was already gone."""
        return await self._delete("job", external_id)

    # ------------------------------------------------------------ records

    @staticmethod
    def _eid_url(record_type: str, external_id: str) -> str:
        return f"{RECORD_PATH}/{record_type}/eid:{quote(external_id, safe='')}"

    @staticmethod
    def _is_missing_record(exc: NotFound) -> bool:
        """A 404 for a record NetSuite does not have, not for a wrong URL or token endpoint."""
        return f"({MISSING_RECORD_CODE})" in exc.message

    async def _get_by_external_id(
        self, record_type: str, external_id: str
    ) -> dict[str, Any] | None:
        try:
            response = await self.request("GET", self._eid_url(record_type, external_id))
        except NotFound as exc:
            if self._is_missing_record(exc):
                return None
            raise
        return _object(response)

    async def _read_back(self, record_type: str, external_id: str) -> dict[str, Any]:
        record = await self._get_by_external_id(record_type, external_id)
        if record is None:
            # Written a moment ago: gone again means someone else is working on it.
            raise SystemUnavailable(
                self.system, f"{record_type} eid:{external_id} vanished right after its upsert"
            )
        return record

    async def _delete(self, record_type: str, external_id: str) -> bool:
        try:
            await self.request("DELETE", self._eid_url(record_type, external_id))
        except NotFound as exc:
            if self._is_missing_record(exc):
                return False
            raise
        return True

    # ------------------------------------------------------------ reference lists

    async def _currency_id(self, code: str) -> str:
        return await self._reference("currency", "symbol", code)

    async def _term_id(self, name: str) -> str:
        return await self._reference("term", "name", name)

    async def _reference(self, record_type: str, key_field: str, key: str) -> str:
        """A reference record's internal id by its business key, the list read once."""
        if record_type not in self._references:
            self._references[record_type] = await self._read_reference_list(record_type, key_field)
        found = self._references[record_type].get(key)
        if found is None:
            field = "currency" if record_type == "currency" else "terms"
            raise RequestRejected(
                self.system, f"no {record_type} '{key}' in the ERP", fields=[field]
            )
        return found

    async def _read_reference_list(self, record_type: str, key_field: str) -> dict[str, str]:
        ids = await self._list_ids(record_type)
        responses = await asyncio.gather(
            *(self.request("GET", f"{RECORD_PATH}/{record_type}/{id}") for id in ids)
        )
        records = [_object(r) for r in responses]
        return {str(r[key_field]): str(r["id"]) for r in records if r.get(key_field)}

    async def _list_ids(self, record_type: str) -> list[str]:
        ids: list[str] = []
        offset = 0
        while True:
            page = _object(
                await self.request(
                    "GET",
                    f"{RECORD_PATH}/{record_type}",
                    params={"limit": PAGE_SIZE, "offset": offset},
                )
            )
            ids += [str(item["id"]) for item in page.get("items", [])]
            if not page.get("hasMore"):
                return ids
            offset += PAGE_SIZE
