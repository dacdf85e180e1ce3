"""The ERP connector: NetSuite's REST record API (SuiteTalk REST, record/v1).

Customers, projects (NetSuite's `job` record, in connectors.erp_projects), employees and
resource allocations (the labour cost forecast) are addressed by external id (`eid:...`), so a
retried activity upserts the same record instead of creating another.

An employee's laborCost is in its subsidiary's base currency (NetSuite's employee carries no
currency), so an employee whose labour cost comes in another currency is refused before
sending; the cost of an allocation (hours x that laborCost) is in the same currency.

The record bodies, in both directions, and money as a JSON number are in connectors.netsuite.
"""

import asyncio
from typing import Any
from urllib.parse import quote

import httpx

from connectors.base import Connector
from connectors.erp_billing import ErpBillingMixin
from connectors.erp_projects import ErpProjectsMixin
from connectors.erp_reconcile import ErpReadsMixin
from connectors.errors import NotFound, RecordInUse, RequestRejected, SystemUnavailable
from connectors.netsuite import (
    DEPENDENTS_CODE,
    MISSING_RECORD_CODE,
    PAGE_SIZE,
    RECORD_PATH,
    customer_body,
    customer_from_record,
    employee_body,
    employee_from_record,
    forecast_body,
    forecast_from_record,
    json_object,
    money,
    planned_end_date,
    reference_id,
)
from models.erp import (
    ErpCustomer,
    ErpCustomerInput,
    ErpEmployee,
    ErpEmployeeInput,
    LabourForecast,
    LabourForecastInput,
)

# money and planned_end_date are re-exported: callers import them from here.
__all__ = ["ErpConnector", "money", "planned_end_date"]


class ErpConnector(ErpProjectsMixin, ErpBillingMixin, ErpReadsMixin, Connector):
    """Customers, projects, employees and labour forecasts in NetSuite, by external id."""

    system = "erp"
    token_path = "/services/rest/auth/oauth2/v1/token"

    def __init__(self, client: httpx.AsyncClient, concurrency: int = 5) -> None:
        super().__init__(client, concurrency)
        # reference list -> business key (currency symbol, term name) -> internal id
        self._references: dict[str, dict[str, str]] = {}
        # subsidiary internal id -> its base currency's internal id
        self._base_currencies: dict[str, str] = {}
        # external id -> (when read, monotonic seconds; the active employee read then)
        self._active_employees: dict[str, tuple[float, ErpEmployee]] = {}

    def error_message(self, response: httpx.Response) -> tuple[str, list[str]]:
        """NetSuite's title and each detail with its error code; the fields at fault from
        o:errorPath, o:errorQueryParam or o:errorHeader."""
        try:
            body = response.json()
        except ValueError:
            return super().error_message(response)
        if not isinstance(body, dict) or not isinstance(body.get("o:errorDetails"), list):
            return super().error_message(response)
        details = [d for d in body["o:errorDetails"] if isinstance(d, dict)]
        parts = [f"{d.get('detail', '')} ({d.get('o:errorCode', 'UNKNOWN')})" for d in details]
        where = ("o:errorPath", "o:errorQueryParam", "o:errorHeader")
        fields = [str(d[key]) for d in details for key in where if d.get(key)]
        title = str(body.get("title") or response.reason_phrase)
        return f"{title}: {'; '.join(parts)}" if parts else title, fields

    # ------------------------------------------------------------ customers

    async def get_customer(self, external_id: str) -> ErpCustomer | None:
        """The customer with this external id, or None when there is none."""
        record = await self._get_by_external_id("customer", external_id)
        return customer_from_record(record) if record is not None else None

    async def upsert_customer(self, data: ErpCustomerInput) -> ErpCustomer:
        """Create or update the customer with `data.external_id`.

        The origin (custentity_psflow_origin) is written only when the customer is created, so
        an existing customer keeps its own: origin == your business key means you created it.
        """
        existing = await self.get_customer(data.external_id)
        currency_id = await self._currency_id(data.currency)
        term_id = await self._term_id(data.terms)
        body = customer_body(data, currency_id, term_id, create=existing is None)
        await self.request("PUT", self._eid_url("customer", data.external_id), json=body)
        return customer_from_record(await self._read_back("customer", data.external_id))

    async def delete_customer(self, external_id: str) -> bool:
        """Delete the customer; False when it was already gone.

        A customer with projects is refused by NetSuite: RecordInUse (permanent); any other
        refusal is the RequestRejected it is.
        """
        return await self._delete("customer", external_id)

    # ------------------------------------------------------------ employees

    async def get_employee(self, external_id: str) -> ErpEmployee | None:
        """The employee with this external id, or None when there is none."""
        record = await self._get_by_external_id("employee", external_id)
        return employee_from_record(record) if record is not None else None

    async def upsert_employee(self, data: ErpEmployeeInput) -> ErpEmployee:
        """Create or update the employee with `data.external_id`.

        `data.labor_cost` must be in the subsidiary's base currency (`data.currency` says
        which it is): otherwise RequestRejected naming `currency`, before anything is sent.
        The origin is written only on create, as for customers; the employee's active state is
        left alone (see `set_employee_inactive`).
        """
        await self._check_base_currency(data.subsidiary_id, data.currency)
        existing = await self._get_by_external_id("employee", data.external_id)
        body = employee_body(data, create=existing is None)
        await self.request("PUT", self._eid_url("employee", data.external_id), json=body)
        return employee_from_record(await self._read_back("employee", data.external_id))

    async def set_employee_inactive(self, external_id: str, inactive: bool) -> bool:
        """Mark the employee inactive (or active again); True if that changed anything.

        An employee that does not exist is NotFound (permanent).
        """
        record = await self._get_by_external_id("employee", external_id)
        if record is None:
            raise NotFound(
                self.system, f"no employee eid:{external_id}", status=404, fields=["externalId"]
            )
        if bool(record.get("isInactive")) == inactive:
            return False
        url = self._eid_url("employee", external_id)
        await self.request("PATCH", url, json={"isInactive": inactive})
        return True

    async def delete_employee(self, external_id: str) -> bool:
        """Delete the employee; False when it was already gone.

        An employee with resource allocations is refused by NetSuite: RecordInUse
        (permanent, status 400); any other refusal is the RequestRejected it is.
        """
        return await self._delete("employee", external_id)

    # ------------------------------------------------------------ labour forecasts

    async def upsert_labour_forecast(self, data: LabourForecastInput) -> LabourForecast:
        """Create or update the resource allocation with `data.external_id`: the employee
        planned on the project for `data.hours`, costing `data.cost` (hours x laborCost, in
        the employee's subsidiary currency).

        The project and the employee are found by their external ids; a missing one is
        RequestRejected naming `project` or `allocationResource`. NetSuite requires an end
        date: without one, the allocation ends on `planned_end_date`. An inactive employee is
        refused by NetSuite (RequestRejected naming allocationResource).
        """
        project, employee = await asyncio.gather(
            self._get_by_external_id("job", data.project_external_id),
            self._get_by_external_id("employee", data.employee_external_id),
        )
        if project is None:
            raise RequestRejected(
                self.system, f"no project eid:{data.project_external_id}", fields=["project"]
            )
        if employee is None:
            raise RequestRejected(
                self.system,
                f"no employee eid:{data.employee_external_id}",
                fields=["allocationResource"],
            )
        body = forecast_body(data, str(project["id"]), str(employee["id"]))
        url = self._eid_url("resourceAllocation", data.external_id)
        await self.request("PUT", url, json=body)
        return forecast_from_record(await self._read_back("resourceAllocation", data.external_id))

    async def delete_labour_forecast(self, external_id: str) -> bool:
        """Delete the resource allocation; False when it was already gone."""
        return await self._delete("resourceAllocation", external_id)

    async def list_labour_forecasts(self, employee_external_id: str) -> list[LabourForecast]:
        """Every resource allocation of the employee, oldest first; [] for no such employee."""
        employee = await self._get_by_external_id("employee", employee_external_id)
        if employee is None:
            return []
        ids = await self._list_ids(
            "resourceAllocation", query=f"allocationResource ANY_OF {employee['id']}"
        )
        responses = await asyncio.gather(
            *(self.request("GET", f"{RECORD_PATH}/resourceAllocation/{id}") for id in ids)
        )
        return [forecast_from_record(json_object(r)) for r in responses]

    # ------------------------------------------------------------ records

    @staticmethod
    def _eid_url(record_type: str, external_id: str) -> str:
        return f"{RECORD_PATH}/{record_type}/eid:{quote(external_id, safe='')}"

    @staticmethod
    def _is_missing_record(exc: NotFound) -> bool:
        """A 404 for a record NetSuite does not have, not for a wrong URL or token endpoint."""
        return f"({MISSING_RECORD_CODE})" in exc.message

    async def _get_by_external_id(
        self, record_type: str, external_id: str, *, expand: bool = False
    ) -> dict[str, Any] | None:
        """The record, its sublists inline when `expand`; None when there is none."""
        if not external_id:
            return None  # no key, no record (NetSuite would refuse the URL itself)
        params = {"expandSubResources": "true"} if expand else None
        try:
            response = await self.request(
                "GET", self._eid_url(record_type, external_id), params=params
            )
        except NotFound as exc:
            if self._is_missing_record(exc):
                return None
            raise
        return json_object(response)

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
        except RequestRejected as exc:
            if exc.status == 400 and f"({DEPENDENTS_CODE})" in exc.message:
                raise RecordInUse(
                    self.system, exc.message.removeprefix(f"{self.system}: "), status=400
                ) from None
            raise
        return True

    # ------------------------------------------------------------ reference lists

    async def _check_base_currency(self, subsidiary_id: str, currency: str) -> None:
        """Refuse an amount the employee record would read in another currency."""
        if subsidiary_id not in self._base_currencies:
            url = f"{RECORD_PATH}/subsidiary/{quote(subsidiary_id, safe='')}"
            try:
                subsidiary = json_object(await self.request("GET", url))
            except NotFound as exc:
                if not self._is_missing_record(exc):
                    raise
                raise RequestRejected(
                    self.system, f"no subsidiary {subsidiary_id} in the ERP", fields=["subsidiary"]
                ) from None
            self._base_currencies[subsidiary_id] = reference_id(subsidiary, "currency")
        if await self._currency_id(currency) != self._base_currencies[subsidiary_id]:
            raise RequestRejected(
                self.system,
                f"labour cost in {currency} is not in the base currency of subsidiary "
                f"{subsidiary_id}, which NetSuite reads laborCost in",
                fields=["currency"],
            )

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
        records = [json_object(r) for r in responses]
        return {str(r[key_field]): str(r["id"]) for r in records if r.get(key_field)}

    async def _list_ids(self, record_type: str, query: str | None = None) -> list[str]:
        """Every id of a record type, page by page; `query` filters as NetSuite's `q`."""
        ids: list[str] = []
        offset = 0
        while True:
            params: dict[str, Any] = {"limit": PAGE_SIZE, "offset": offset}
            if query is not None:
                params["q"] = query
            page = json_object(
                await self.request("GET", f"{RECORD_PATH}/{record_type}", params=params)
            )
            ids += [str(item["id"]) for item in page.get("items", [])]
            if not page.get("hasMore"):
                return ids
            offset += PAGE_SIZE
