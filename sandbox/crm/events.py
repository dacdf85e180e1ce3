"""Opportunity events (sandbox only): a sales user closes a deal or changes its amount, and the
CRM announces it to the webhook, as a Salesforce outbound message or flow would.

The API's PATCH announces nothing: psflow's own writes (ids, invoice status, a change order's
new amount) are not news to psflow.
"""

from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from sandbox.crm.service import Crm
from sandbox.faults import ADMIN_PREFIX
from sandbox.webhooks import Outbox

CLOSED_WON = "opportunity.closed_won"
AMOUNT_CHANGED = "opportunity.amount_changed"
CENTS = Decimal("0.01")


class AmountInput(BaseModel):
    amount: Decimal = Field(
        gt=0, max_digits=15, decimal_places=2, description="the deal's new amount, in its currency"
    )


def _decimal(value: Any) -> str | None:
    return None if value is None else str(Decimal(str(value)).quantize(CENTS))


def _event_data(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "opportunity_id": record["Id"],
        "account_id": record.get("AccountId"),
        "stage": record["StageName"],
        "amount": _decimal(record.get("Amount")),
        "currency": record.get("CurrencyIsoCode"),
        "erp_project_id": record.get("ERP_Project_Id__c"),
        "psa_project_id": record.get("PSA_Project_Id__c"),
    }


def crm_events_router(crm: Crm, outbox: Outbox) -> APIRouter:
    """Admin routes that change an opportunity as a sales user would and announce it."""
    router = APIRouter(prefix=f"{ADMIN_PREFIX}/opportunities", tags=["sandbox admin"])

    @router.post("/{opportunity_id}/close-won")
    def close_won(opportunity_id: str) -> dict[str, Any]:
        """Set the stage to Closed Won and announce `opportunity.closed_won`. A deal already
        Closed Won announces nothing (redeliver its event to repeat it)."""
        before = crm.record("Opportunity", opportunity_id)
        if before["StageName"] == "Closed Won":
            return {"opportunity_id": before["Id"], "changed": False, "event": None}
        crm.update("Opportunity", before["Id"], {"StageName": "Closed Won"})
        after = crm.record("Opportunity", before["Id"])
        event = outbox.emit(CLOSED_WON, _event_data(after))
        return {"opportunity_id": after["Id"], "changed": True, "event": event}

    @router.post("/{opportunity_id}/amount")
    def change_amount(opportunity_id: str, data: AmountInput) -> dict[str, Any]:
        """Set the amount and announce `opportunity.amount_changed` with the previous one.
        The same amount again announces nothing."""
        before = crm.record("Opportunity", opportunity_id)
        previous = _decimal(before.get("Amount"))
        if previous is not None and Decimal(previous) == data.amount:
            return {"opportunity_id": before["Id"], "changed": False, "event": None}
        crm.update("Opportunity", before["Id"], {"Amount": float(data.amount)})
        after = crm.record("Opportunity", before["Id"])
        event = outbox.emit(AMOUNT_CHANGED, _event_data(after) | {"previous_amount": previous})
        return {"opportunity_id": after["Id"], "changed": True, "event": event}

    return router
