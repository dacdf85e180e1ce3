"""ERP (NetSuite) actions for people: employees and their labour cost forecasts."""

from pydantic import BaseModel
from temporalio import activity

from connectors.erp_port import Erp
from connectors.errors import RecordInUse
from models.erp import ErpEmployee, ErpEmployeeInput, LabourForecast, LabourForecastInput
from models.status import CompensationOutcome


class EmployeeRemoval(BaseModel):
    external_id: str
    origin: str


class EmployeeActivities:
    def __init__(self, erp: Erp) -> None:
        self._erp = erp

    @activity.defn(name="erp.get_employee")
    async def get_employee(self, external_id: str) -> ErpEmployee | None:
        """The worker's employee record, or None."""
        return await self._erp.get_employee(external_id)

    @activity.defn(name="erp.upsert_employee")
    async def upsert_employee(self, data: ErpEmployeeInput) -> ErpEmployee:
        """Create or update the employee by external id (origin kept from the create)."""
        employee = await self._erp.upsert_employee(data)
        if employee.inactive:
            await self._erp.set_employee_inactive(data.external_id, False)
            employee = employee.model_copy(update={"inactive": False})
        return employee

    @activity.defn(name="erp.restore_employee")
    async def restore_employee(self, data: ErpEmployeeInput) -> CompensationOutcome:
        """Undo a transfer: put the employee's previous subsidiary and costing back."""
        await self._erp.upsert_employee(data)
        return CompensationOutcome.UNDONE

    @activity.defn(name="erp.remove_employee")
    async def remove_employee(self, removal: EmployeeRemoval) -> CompensationOutcome:
        """Undo: delete the employee if this workflow created it, else make it inactive."""
        existing = await self._erp.get_employee(removal.external_id)
        if existing is None:
            return CompensationOutcome.ALREADY_GONE
        if existing.origin == removal.origin:
            try:
                deleted = await self._erp.delete_employee(removal.external_id)
            except RecordInUse:  # allocations use it: made inactive below
                pass
            else:
                return CompensationOutcome.UNDONE if deleted else CompensationOutcome.ALREADY_GONE
        changed = await self._erp.set_employee_inactive(removal.external_id, True)
        return CompensationOutcome.KEPT if not changed else CompensationOutcome.UNDONE

    @activity.defn(name="erp.set_employee_inactive")
    async def set_employee_inactive(self, external_id: str) -> None:
        """A terminated worker's employee record stays, inactive."""
        await self._erp.set_employee_inactive(external_id, True)

    @activity.defn(name="erp.push_labour_forecast")
    async def push_labour_forecast(self, data: LabourForecastInput) -> LabourForecast | None:
        """Upsert the resource allocation; None when the ERP has no such project."""
        if await self._erp.get_project(data.project_external_id) is None:
            activity.logger.info("no ERP project %s: forecast not pushed", data.project_external_id)
            return None
        return await self._erp.upsert_labour_forecast(data)

    @activity.defn(name="erp.restore_labour_forecast")
    async def restore_labour_forecast(self, data: LabourForecastInput) -> CompensationOutcome:
        """Undo a recomputed forecast: put the previous cost back."""
        restored = await self.push_labour_forecast(data)
        return CompensationOutcome.UNDONE if restored else CompensationOutcome.ALREADY_GONE

    @activity.defn(name="erp.remove_labour_forecast")
    async def remove_labour_forecast(self, external_id: str) -> CompensationOutcome:
        """Undo: delete the allocation; already gone counts as undone."""
        deleted = await self._erp.delete_labour_forecast(external_id)
        return CompensationOutcome.UNDONE if deleted else CompensationOutcome.ALREADY_GONE
