"""Change order actions in the PSA, ERP and CRM, and the project lock's Temporal calls."""

from decimal import Decimal

from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from connectors.crm import CrmConnector
from connectors.erp_port import Erp
from connectors.errors import NotFound
from connectors.psa import PsaConnector
from models.change_order import ChangeOrder, ForecastRevision, project_lock_id
from models.change_state import (
    LockInput,
    OpenRequest,
    ProjectState,
    StaffingRestore,
    StaffingRevised,
    StaffingRevision,
)
from models.psa import StaffingRequestInput
from models.run_metadata import start_metadata
from models.status import CompensationOutcome

LOCK_WORKFLOW = "project-changes"


class LockRequest(BaseModel):
    project_id: str
    requester: str
    """The change order's workflow id."""


class BudgetChange(BaseModel):
    key: str
    """ERP job external id, or PSA project id."""
    budget: Decimal


class AmountChange(BaseModel):
    opportunity_id: str
    amount: Decimal


class ForecastChange(BaseModel):
    project_id: str
    change_order_id: str
    budget: Decimal
    hours_by_role: dict[str, Decimal]


class ChangeOrderStatus(BaseModel):
    change_order_id: str
    status: str
    note: str


class ChangeOrderActivities:
    def __init__(self, psa: PsaConnector, erp: Erp, crm: CrmConnector, client: Client) -> None:
        self._psa = psa
        self._erp = erp
        self._crm = crm
        self._client = client

    @activity.defn(name="changes.project_state")
    async def project_state(self, order: ChangeOrder) -> ProjectState:
        """The project in the PSA, its ERP job and budget, its opportunity's amount."""
        return await read_project_state(self._psa, self._erp, self._crm, order.project_id)

    @activity.defn(name="changes.record")
    async def record(self, order: ChangeOrder) -> None:
        """Hold the change order in the PSA (a repeat of the same one changes nothing)."""
        await self._psa.submit_change_order(order)

    @activity.defn(name="changes.set_status")
    async def set_status(self, change: ChangeOrderStatus) -> None:
        await self._psa.set_change_order_status(change.change_order_id, change.status, change.note)

    @activity.defn(name="changes.set_erp_budget")
    async def set_erp_budget(self, change: BudgetChange) -> CompensationOutcome:
        await self._erp.set_project_budget(change.key, change.budget)
        return CompensationOutcome.UNDONE

    @activity.defn(name="changes.set_psa_budget")
    async def set_psa_budget(self, change: BudgetChange) -> CompensationOutcome:
        await self._psa.set_project_budget(change.key, change.budget)
        return CompensationOutcome.UNDONE

    @activity.defn(name="changes.revise_staffing")
    async def revise_staffing(self, revision: StaffingRevision) -> StaffingRevised:
        """Change the hours of open requests by role; open requests for roles with none."""
        order = revision.change_order
        by_role = revision.by_role()
        revised = StaffingRevised()
        for change in order.roles:
            current = by_role.get(change.role)
            if current is not None:
                hours = current.hours + change.hours_change
                await self._psa.set_staffing_request_hours(current.id, hours)
                revised.changed[current.id] = hours
                continue
            opened = await self._psa.create_staffing_request(
                StaffingRequestInput(
                    project_id=order.project_id,
                    role=change.role,
                    hours=change.hours_change,
                    start_date=change.start_date or order.effective_date,
                    skills=change.skills,
                    external_id=revision.key_for(change.role),
                ),
                idempotency_key=revision.key_for(change.role),
            )
            revised.opened.append(opened.id)
        return revised

    @activity.defn(name="changes.restore_staffing")
    async def restore_staffing(self, restore: StaffingRestore) -> CompensationOutcome:
        """Put back the hours the requests had and cancel the requests the change opened,
        found by the external ids fixed before it ran (it may have failed half-way)."""
        for request_id, hours in restore.previous_hours.items():
            await self._psa.set_staffing_request_hours(request_id, hours)
        opened = list(restore.opened)
        for key in restore.opened_keys:
            found = await self._psa.find_staffing_requests(restore.project_id, key)
            opened += [r.id for r in found]
        for request_id in dict.fromkeys(opened):
            await self._psa.cancel_staffing_request(request_id)
        return CompensationOutcome.UNDONE

    @activity.defn(name="changes.set_opportunity_amount")
    async def set_opportunity_amount(self, change: AmountChange) -> CompensationOutcome:
        await self._crm.set_opportunity_amount(change.opportunity_id, change.amount)
        return CompensationOutcome.UNDONE

    @activity.defn(name="changes.publish_forecast")
    async def publish_forecast(self, change: ForecastChange) -> None:
        await self._psa.publish_forecast(
            change.project_id,
            ForecastRevision(
                change_order_id=change.change_order_id,
                project_id=change.project_id,
                budget=change.budget,
                hours_by_role=change.hours_by_role,
            ),
        )

    @activity.defn(name="changes.withdraw_forecast")
    async def withdraw_forecast(self, change: ForecastChange) -> CompensationOutcome:
        gone = await self._psa.withdraw_forecast(change.project_id, change.change_order_id)
        return CompensationOutcome.UNDONE if gone else CompensationOutcome.ALREADY_GONE

    @activity.defn(name="changes.request_lock")
    async def request_lock(self, request: LockRequest) -> None:
        """Queue for the project's lock, starting the lock workflow if none runs."""
        lock = LockInput(project_id=request.project_id)
        about = start_metadata(lock)
        await self._client.start_workflow(
            LOCK_WORKFLOW,
            lock,
            id=project_lock_id(request.project_id),
            task_queue=activity.info().task_queue,
            start_signal="acquire",
            start_signal_args=[request.requester],
            static_summary=about.summary,
            static_details=about.details,
        )

    @activity.defn(name="changes.is_open")
    async def is_open(self, workflow_id: str) -> bool:
        """Whether a workflow still runs (a lock holder that ended without releasing)."""
        try:
            description = await self._client.get_workflow_handle(workflow_id).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return description.status == WorkflowExecutionStatus.RUNNING


async def read_project_state(
    psa: PsaConnector, erp: Erp, crm: CrmConnector, project_id: str
) -> ProjectState:
    """Read by the workflow and by `psflow start change-order` before it starts anything."""
    project = await psa.billing_project(project_id)
    if project is None:
        return ProjectState(project=None)
    card = await psa.get_rate_card(project.rate_card)
    erp_project = await erp.get_project(project.external_id)
    psa_project = await psa.get_project(project.id)
    actuals = await erp.project_actuals(project.erp_project_id) if erp_project else Decimal(0)
    amount = None
    if project.opportunity_id:
        try:
            amount = (await crm.get_opportunity(project.opportunity_id)).amount
        except NotFound:
            amount = None
    requests = await psa.list_staffing_requests(project.id)
    return ProjectState(
        project=project,
        psa_budget=psa_project.budget if psa_project else None,
        rate_card_roles=sorted({r.role for r in card.rates}) if card else [],
        erp_budget=erp_project.budget if erp_project else None,
        erp_actuals=actuals,
        opportunity_amount=amount,
        open_requests=[
            OpenRequest(id=r.id, role=r.role, hours=r.hours) for r in requests if r.status == "open"
        ],
    )
