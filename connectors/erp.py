"""The ERP connector: NetSuite's REST record API (SuiteTalk REST, record/v1).

Customers, projects (NetSuite's `job` record), employees and resource allocations (the labour
cost forecast) are addressed by external id (`eid:...`), so a retried activity upserts the
same record instead of creating another.

An employee's laborCost is in its subsidiary's base currency (NetSuite's employee carries no
currency), so an employee whose labour cost comes in another currency is refused before
sending; the cost of an allocation (hours x that laborCost) is in the same currency.

Money goes out as a JSON number: NetSuite's currency fields are numbers in its record
schema, and a float carries any amount below 10**13 with cents exactly (15 significant
digits); larger or finer amounts are refused before sending rather than rounded.
"""

import asyncio
import math
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from connectors.base import Connector
from connectors.errors import NotFound, RequestRejected, SystemUnavailable
from models.erp import (
    ErpCustomer,
    ErpCustomerInput,
    ErpEmployee,
    ErpEmployeeInput,
    ErpProject,
    ErpProjectInput,
    LabourForecast,
    LabourForecastInput,
)

RECORD_PATH = "/services/rest/record/v1"
# NetSuite's error code for a record that does not exist (as opposed to a wrong URL).
MISSING_RECORD_CODE = "NONEXISTENT_ID"
# psflow's billing types -> NetSuite's project billing type ids
BILLING_TYPE_IDS = {"Time and Materials": "TM", "Fixed Fee": "FFM"}
PAGE_SIZE = 1000
COST_CENTER_FIELD = "custentity_psflow_cost_center"
ALLOCATION_COST_FIELD = "custrecord_psflow_cost"
# An approved assignment books the employee: NetSuite's "Hard" allocation type.
HARD_ALLOCATION_TYPE = "1"
# A full-time working day, Monday to Friday: how an open-ended allocation is laid out.
HOURS_PER_DAY = Decimal(8)


def money(amount: Decimal) -> float:
    """An amount as a JSON number, refusing any the float would not carry exactly."""
    value = float(amount)
    if Decimal(repr(value)) != amount:
        raise ValueError(f"amount {amount} cannot be sent exactly as a JSON number")
    return value


def planned_end_date(start: date, hours: Decimal) -> date:
    """The last working day (Monday to Friday) of `hours` worked full time from `start`.

    NetSuite requires an allocation's end date; an assignment without one runs this long.
    """
    day = start
    while day.weekday() >= 5:
        day += timedelta(days=1)
    remaining = max(1, math.ceil(hours / HOURS_PER_DAY)) - 1
    while remaining:
        day += timedelta(days=1)
        if day.weekday() < 5:
            remaining -= 1
    return day


def _object(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    if not isinstance(body, dict):
        raise TypeError(f"expected a JSON object, got {type(body).__name__}")
    return body


def _reference_id(record: dict[str, Any], field: str) -> str:
    value = record.get(field)
    return str(value["id"]) if isinstance(value, dict) and "id" in value else ""


def _decimal(value: Any) -> Decimal:
    """A JSON number as the Decimal it was written from (its shortest repr)."""
    return Decimal(str(value)) if value is not None else Decimal(0)


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


def _employee(record: dict[str, Any]) -> ErpEmployee:
    full_name = f"{record.get('firstName') or ''} {record.get('lastName') or ''}".strip()
    return ErpEmployee(
        id=str(record["id"]),
        external_id=str(record.get("externalId") or ""),
        name=full_name or str(record.get("entityId") or ""),
        subsidiary_id=_reference_id(record, "subsidiary"),
        cost_center=str(record.get(COST_CENTER_FIELD) or ""),
        labor_cost=_decimal(record.get("laborCost")),
        inactive=bool(record.get("isInactive")),
        origin=record.get("custentity_psflow_origin") or None,
    )


def _forecast(record: dict[str, Any]) -> LabourForecast:
    end = record.get("endDate")
    return LabourForecast(
        id=str(record["id"]),
        external_id=str(record.get("externalId") or ""),
        hours=_decimal(record.get("allocationAmount")),
        cost=_decimal(record.get(ALLOCATION_COST_FIELD)),
        end_date=date.fromisoformat(end) if isinstance(end, str) else None,
    )


class ErpConnector(Connector):
    """Customers, projects, employees and labour forecasts in NetSuite, by external id."""

    system = "erp"
    token_path = "/services/rest/auth/oauth2/v1/token"

    def __init__(self, client: httpx.AsyncClient, concurrency: int = 5) -> None:
        super().__init__(client, concurrency)
        # reference list -> business key (currency symbol, term name) -> internal id
        self._references: dict[str, dict[str, str]] = {}
        # subsidiary internal id -> its base currency's internal id
        self._base_currencies: dict[str, str] = {}

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

    # ------------------------------------------------------------ employees

    async def get_employee(self, external_id: str) -> ErpEmployee | None:
        """The employee with this external id, or None when there is none."""
        record = await self._get_by_external_id("employee", external_id)
        return _employee(record) if record is not None else None

    async def upsert_employee(self, data: ErpEmployeeInput) -> ErpEmployee:
        """Create or update the employee with `data.external_id`.

        `data.labor_cost` must be in the subsidiary's base currency (`data.currency` says
        which it is): otherwise RequestRejected naming `currency`, before anything is sent.
        The origin is written only on create, as for customers; the employee's active state is
        left alone (see `set_employee_inactive`).
        """
        await self._check_base_currency(data.subsidiary_id, data.currency)
        existing = await self._get_by_external_id("employee", data.external_id)
        body: dict[str, Any] = {
            "firstName": data.first_name,
            "lastName": data.last_name,
            "email": data.email,
            "subsidiary": {"id": data.subsidiary_id},
            "department": {"id": data.department_id},
            COST_CENTER_FIELD: data.cost_center,
            "laborCost": money(data.labor_cost),
        }
        if existing is None:
            body["custentity_psflow_origin"] = data.origin
        await self.request("PUT", self._eid_url("employee", data.external_id), json=body)
        return _employee(await self._read_back("employee", data.external_id))

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

        An employee with resource allocations is refused by NetSuite: RequestRejected
        (permanent, status 400).
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
        end = data.end_date or planned_end_date(data.start_date, data.hours)
        body: dict[str, Any] = {
            "allocationResource": {"id": str(employee["id"])},
            "project": {"id": str(project["id"])},
            "allocationAmount": money(data.hours),
            "allocationUnit": {"id": "HOURS"},
            "allocationType": {"id": HARD_ALLOCATION_TYPE},
            "startDate": data.start_date.isoformat(),
            "endDate": end.isoformat(),
            ALLOCATION_COST_FIELD: money(data.cost),
        }
        url = self._eid_url("resourceAllocation", data.external_id)
        await self.request("PUT", url, json=body)
        return _forecast(await self._read_back("resourceAllocation", data.external_id))

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
        return [_forecast(_object(r)) for r in responses]

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
        if not external_id:
            return None  # no key, no record (NetSuite would refuse the URL itself)
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

    async def _check_base_currency(self, subsidiary_id: str, currency: str) -> None:
        """Refuse an amount the employee record would read in another currency."""
        if subsidiary_id not in self._base_currencies:
            url = f"{RECORD_PATH}/subsidiary/{quote(subsidiary_id, safe='')}"
            try:
                subsidiary = _object(await self.request("GET", url))
            except NotFound as exc:
                if not self._is_missing_record(exc):
                    raise
                raise RequestRejected(
                    self.system, f"no subsidiary {subsidiary_id} in the ERP", fields=["subsidiary"]
                ) from None
            self._base_currencies[subsidiary_id] = _reference_id(subsidiary, "currency")
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
        records = [_object(r) for r in responses]
        return {str(r[key_field]): str(r["id"]) for r in records if r.get(key_field)}

    async def _list_ids(self, record_type: str, query: str | None = None) -> list[str]:
        """Every id of a record type, page by page; `query` filters as NetSuite's `q`."""
        ids: list[str] = []
        offset = 0
        while True:
            params: dict[str, Any] = {"limit": PAGE_SIZE, "offset": offset}
            if query is not None:
                params["q"] = query
            page = _object(await self.request("GET", f"{RECORD_PATH}/{record_type}", params=params))
            ids += [str(item["id"]) for item in page.get("items", [])]
            if not page.get("hasMore"):
                return ids
            offset += PAGE_SIZE
