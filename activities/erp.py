"""ERP (NetSuite) actions and their compensations."""

from pydantic import BaseModel
from temporalio import activity

from connectors.erp_port import Erp
from connectors.errors import RecordInUse
from models.erp import ErpCustomer, ErpCustomerInput, ErpProject, ErpProjectInput
from models.status import CompensationOutcome


class CustomerUpsert(BaseModel):
    customer: ErpCustomer
    created_by_us: bool
    """True when this business key created the customer: only then may it be removed."""


class CustomerRemoval(BaseModel):
    external_id: str
    origin: str


class ErpActivities:
    def __init__(self, erp: Erp) -> None:
        self._erp = erp

    @activity.defn(name="erp.upsert_customer")
    async def upsert_customer(self, data: ErpCustomerInput) -> CustomerUpsert:
        """Find the customer by external id; create it (marked with our origin) if missing.

        A customer someone else created is used as it is and never changed.
        """
        existing = await self._erp.get_customer(data.external_id)
        if existing is not None and existing.origin != data.origin:
            return CustomerUpsert(customer=existing, created_by_us=False)
        customer = await self._erp.upsert_customer(data)
        return CustomerUpsert(customer=customer, created_by_us=True)

    @activity.defn(name="erp.remove_customer")
    async def remove_customer(self, removal: CustomerRemoval) -> CompensationOutcome:
        """Undo: delete the customer only if we created it and nothing else uses it."""
        existing = await self._erp.get_customer(removal.external_id)
        if existing is None:
            return CompensationOutcome.ALREADY_GONE
        if existing.origin != removal.origin:
            return CompensationOutcome.KEPT
        try:
            deleted = await self._erp.delete_customer(removal.external_id)
        except RecordInUse as exc:  # other projects use it; any other refusal fails the undo
            activity.logger.info("customer %s kept: %s", removal.external_id, exc)
            return CompensationOutcome.KEPT
        return CompensationOutcome.UNDONE if deleted else CompensationOutcome.ALREADY_GONE

    @activity.defn(name="erp.upsert_project")
    async def upsert_project(self, data: ErpProjectInput) -> ErpProject:
        """Create or update the financial project (job) by its external id."""
        return await self._erp.upsert_project(data)

    @activity.defn(name="erp.remove_project")
    async def remove_project(self, external_id: str) -> CompensationOutcome:
        """Undo: delete the project; already gone counts as undone."""
        deleted = await self._erp.delete_project(external_id)
        return CompensationOutcome.UNDONE if deleted else CompensationOutcome.ALREADY_GONE
