"""Labour forecasts in Tryton (psflow.labour_forecast, psflow's module): a mixin of
TrytonErpConnector.

NetSuite's resource allocation has no Tryton counterpart, so psflow's module adds the model:
the employee planned on a project (project.work of type project) for some hours and a cost,
from a start date. The refusals are NetSuite's, with its field names, so a caller sees the same
error from either ERP; unlike NetSuite, Tryton keeps a forecast without an end date as it is.
"""

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.errors import NotFound, RequestRejected
from connectors.tryton_records import KEY, decimal_value
from connectors.tryton_rpc import TrytonRpc
from models.erp import LabourForecast, LabourForecastInput

FORECAST = "psflow.labour_forecast"
FORECAST_FIELDS = ["id", KEY, "hours", "cost", "end_date"]


def forecast_values(data: LabourForecastInput, work_id: int, employee_id: int) -> dict[str, Any]:
    return {
        KEY: data.external_id,
        "work": work_id,
        "employee": employee_id,
        "hours": data.hours,
        "cost": data.cost,
        "start_date": data.start_date,
        "end_date": data.end_date,
    }


def forecast_from_record(record: dict[str, Any]) -> LabourForecast:
    return LabourForecast(
        id=str(record["id"]),
        external_id=record[KEY],
        hours=decimal_value(record["hours"]) or Decimal(0),
        cost=decimal_value(record["cost"]) or Decimal(0),
        end_date=record.get("end_date"),
    )


class TrytonForecastsMixin:
    """upsert_labour_forecast, delete_labour_forecast, list_labour_forecasts."""

    rpc: TrytonRpc
    system: str

    if TYPE_CHECKING:

        async def _find(
            self, model: str, external_id: str, fields: list[str]
        ) -> dict[str, Any] | None: ...

    async def upsert_labour_forecast(self, data: LabourForecastInput) -> LabourForecast:
        """Create or update the forecast with `data.external_id`: the employee planned on the
        project for `data.hours`, costing `data.cost` (hours x labour cost, in the employee's
        company currency, as for NetSuite; the module calls it the project's company's, which
        differs only for an employee staffed across companies).

        Refused before anything is written, as NetSuite refuses, with RequestRejected naming
        `project` (no such project), `allocationResource` (no such employee, or an inactive
        one), `allocationAmount` (hours not above zero) or `endDate` (before the start).
        """
        self._check_forecast(data)
        work, employee = await asyncio.gather(
            self._find("project.work", data.project_external_id, ["id", "type"]),
            self._find("company.employee", data.employee_external_id, ["id", "active"]),
        )
        if work is None or work["type"] != "project":
            raise RequestRejected(
                self.system, f"no project {data.project_external_id}", fields=["project"]
            )
        if employee is None or not employee["active"]:
            state = "no" if employee is None else "inactive"
            raise RequestRejected(
                self.system,
                f"{state} employee {data.employee_external_id}",
                fields=["allocationResource"],
            )
        values = forecast_values(data, work["id"], employee["id"])
        [forecast_id] = await self.rpc.model(FORECAST, "psflow_upsert", [values])
        found = await self.rpc.model(FORECAST, "read", [forecast_id], FORECAST_FIELDS)
        if not found:
            raise NotFound(self.system, f"forecast {data.external_id} vanished after its upsert")
        return forecast_from_record(found[0])

    async def delete_labour_forecast(self, external_id: str) -> bool:
        """Delete the forecast; False when it was already gone."""
        record = await self._find(FORECAST, external_id, ["id"])
        if record is None:
            return False
        await self.rpc.model(FORECAST, "delete", [record["id"]])
        return True

    async def list_labour_forecasts(self, employee_external_id: str) -> list[LabourForecast]:
        """Every forecast of the employee (active or not), oldest first; [] for no such
        employee."""
        if not employee_external_id:
            return []
        records = await self.rpc.model(
            FORECAST, "search_read", [(f"employee.{KEY}", "=", employee_external_id)],
            0, None, [("id", "ASC")], FORECAST_FIELDS, active_test=False,
        )  # fmt: skip
        return [forecast_from_record(r) for r in records]

    def _check_forecast(self, data: LabourForecastInput) -> None:
        """What NetSuite refuses and Tryton's model would keep."""
        if data.hours <= 0:
            raise RequestRejected(
                self.system, f"a forecast of {data.hours} hours", fields=["allocationAmount"]
            )
        if data.end_date is not None and data.end_date < data.start_date:
            raise RequestRejected(
                self.system,
                f"forecast ends on {data.end_date}, before its start on {data.start_date}",
                fields=["endDate"],
            )
