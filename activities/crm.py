"""CRM (Salesforce) actions."""

from pydantic import BaseModel
from temporalio import activity

from connectors.crm import CrmConnector
from models.crm import Opportunity


class OpportunityUpdate(BaseModel):
    opportunity_id: str
    changes: dict[str, str | None]


class CrmActivities:
    def __init__(self, crm: CrmConnector) -> None:
        self._crm = crm

    @activity.defn(name="crm.get_opportunity")
    async def get_opportunity(self, opportunity_id: str) -> Opportunity:
        """The opportunity with its account, resource lines and milestones."""
        return await self._crm.get_opportunity(opportunity_id)

    @activity.defn(name="crm.update_opportunity")
    async def update_opportunity(self, update: OpportunityUpdate) -> None:
        """Set fields on the opportunity (a PATCH: repeating it changes nothing more)."""
        await self._crm.update_opportunity(update.opportunity_id, update.changes)
