"""Employees in Tryton (company.employee): a mixin of TrytonErpConnector.

A Tryton employee is a party working for a company: psflow upserts the person's party
(external id `person-<employee external id>`), then the employee. The hourly labour cost is
timesheet_cost's cost price, dated: a changed cost adds a price from today (or corrects
today's). An employee is inactive when its end date is past, so "inactive" sets the end date
to yesterday and "active again" clears it.
"""

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.errors import NotFound
from connectors.tryton_records import (
    EMPLOYEE_FIELDS,
    KEY,
    employee_from_record,
    employee_values,
    person_external_id,
)
from connectors.tryton_rpc import TrytonRpc
from models.erp import ErpEmployee, ErpEmployeeInput


class TrytonEmployeesMixin:
    """get_employee, upsert_employee, set_employee_inactive; the connector has the rest."""

    rpc: TrytonRpc
    system: str
    _companies: dict[str, tuple[int, str]]

    if TYPE_CHECKING:

        async def _find(
            self, model: str, external_id: str, fields: list[str]
        ) -> dict[str, Any] | None: ...

        async def _company_in(self, subsidiary_id: str, currency: str, what: str) -> int: ...

        async def _load_companies(self) -> None: ...

    async def get_employee(self, external_id: str) -> ErpEmployee | None:
        """The employee with this external id (active or not), or None when there is none."""
        record = await self._find("company.employee", external_id, EMPLOYEE_FIELDS)
        return await self._employee(record) if record is not None else None

    async def upsert_employee(self, data: ErpEmployeeInput) -> ErpEmployee:
        """Create or update the employee with `data.external_id` and its labour cost.

        `data.labor_cost` must be in the company's currency (Tryton's cost price is): else
        RequestRejected naming `currency`, before anything is sent. The origin is written only
        on create; the active state is left alone (see `set_employee_inactive`).
        """
        company_id = await self._company_in(data.subsidiary_id, data.currency, "the labour cost")
        person = {
            KEY: person_external_id(data.external_id),
            "name": f"{data.first_name} {data.last_name}",
        }
        [party_id] = await self.rpc.model("party.party", "psflow_upsert", [person])
        values = employee_values(data, party_id, company_id)
        [employee_id] = await self.rpc.model(
            "company.employee", "psflow_upsert", [values], company=company_id
        )
        await self._set_cost_price(employee_id, data.labor_cost)
        record = await self._find("company.employee", data.external_id, EMPLOYEE_FIELDS)
        if record is None:
            raise NotFound(self.system, f"employee {data.external_id} vanished after its upsert")
        return await self._employee(record)

    async def set_employee_inactive(self, external_id: str, inactive: bool) -> bool:
        """Mark the employee inactive (or active again); True if that changed anything.

        An employee that does not exist is NotFound (permanent).
        """
        record = await self._find("company.employee", external_id, EMPLOYEE_FIELDS)
        if record is None:
            raise NotFound(self.system, f"no employee {external_id}", status=404, fields=[KEY])
        if (not record["active"]) == inactive:
            return False
        changes: dict[str, Any] = {"end_date": None}
        if inactive:
            changes["end_date"] = dt.date.today() - dt.timedelta(days=1)
            start = record.get("start_date")
            if start is not None and start > changes["end_date"]:
                changes["start_date"] = changes["end_date"]  # ended before it began
        await self.rpc.model("company.employee", "write", [record["id"]], changes)
        return True

    async def _set_cost_price(self, employee_id: int, cost: Decimal) -> None:
        """The employee's cost price from today is `cost` (unchanged: nothing written)."""
        prices = await self.rpc.model(
            "company.employee_cost_price", "search_read", [("employee", "=", employee_id)],
            0, 1, [("date", "DESC")], ["id", "date", "cost_price"],
        )  # fmt: skip
        today = dt.date.today()
        if prices and prices[0]["cost_price"] == cost:
            return
        if prices and prices[0]["date"] == today:
            await self.rpc.model(
                "company.employee_cost_price", "write", [prices[0]["id"]], {"cost_price": cost}
            )
            return
        await self.rpc.model(
            "company.employee_cost_price", "create",
            [{"employee": employee_id, "date": today, "cost_price": cost}],
        )  # fmt: skip

    async def _employee(self, record: dict[str, Any]) -> ErpEmployee:
        company_id = int(record["company"])
        if not any(c == company_id for c, _ in self._companies.values()):
            await self._load_companies()
        subsidiary = next((sub for sub, (c, _) in self._companies.items() if c == company_id), "")
        return employee_from_record(record, subsidiary)
