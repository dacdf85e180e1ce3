"""Employees in Tryton (company.employee): a mixin of TrytonErpConnector.

A Tryton employee is a party working for a company: psflow upserts the person's party
(external id `person-<employee external id>`), then the employee. The hourly labour cost is
timesheet_cost's cost price, dated: a changed cost adds a price from today (or corrects
today's). An employee is inactive when its end date is past, so "inactive" sets the end date
to yesterday and "active again" clears it. Deleting an employee leaves its party (see
`delete_employee`).
"""

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.errors import NotFound, RecordInUse
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
    """get_employee, upsert_employee, set_employee_inactive, delete_employee and
    employees_by_external_id; the connector has the rest."""

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

    async def delete_employee(self, external_id: str) -> bool:
        """Delete the employee; False when it was already gone.

        An employee that timesheet lines, expenses or labour forecasts name is RecordInUse
        (permanent, status 400), as NetSuite answers for allocations: Tryton refuses the
        delete itself. The person's party stays: Tryton would delete it even where projects,
        invoice lines or account moves name it (it empties those references), so psflow
        cannot know that nothing uses it; a later upsert of the employee finds it again by its
        external id.
        """
        record = await self._find("company.employee", external_id, ["id"])
        if record is None:
            return False
        try:
            await self.rpc.model("company.employee", "delete", [record["id"]])
        except RecordInUse as exc:
            message = exc.message.removeprefix(f"{self.system}: ")
            raise RecordInUse(
                self.system, f"employee {external_id} is in use: {message}", status=400
            ) from None
        return True

    async def employees_by_external_id(self, external_ids: list[str]) -> dict[str, ErpEmployee]:
        """The employees with these external ids (active or not), in one read; missing ones
        are left out."""
        wanted = list(dict.fromkeys(e for e in external_ids if e))
        if not wanted:
            return {}
        records = await self.rpc.model(
            "company.employee", "search_read", [(KEY, "in", wanted)], 0, None, None,
            EMPLOYEE_FIELDS, active_test=False,
        )  # fmt: skip
        employees = [await self._employee(record) for record in records]
        return {e.external_id: e for e in employees}

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
