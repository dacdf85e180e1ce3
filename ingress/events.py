"""The event bodies ingress accepts from the CRM and the PSA (the HCM sends models.hcm's
WorkerEvent), and what ingress answers."""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, model_validator

CrmEventType = Literal["opportunity.closed_won", "opportunity.amount_changed"]
PsaEventType = Literal["change_order.submitted", "timesheet.approved"]
Action = Literal["accepted", "already ran", "none"]


class CrmEvent(BaseModel):
    """An opportunity closed won, or its amount changed."""

    event_id: str
    type: CrmEventType
    occurred_at: datetime
    opportunity_id: str
    stage: str | None = None
    amount: Decimal | None = None
    previous_amount: Decimal | None = None
    currency: str | None = None
    erp_project_id: str | None = None
    psa_project_id: str | None = None


class PsaEvent(BaseModel):
    """A change order submitted, or a time entry approved."""

    event_id: str
    type: PsaEventType
    occurred_at: datetime
    project_id: str
    change_order_id: str | None = None
    time_entry_id: str | None = None
    period: str | None = None
    worker_id: str | None = None
    hours: Decimal | None = None
    approver: str | None = None

    @model_validator(mode="after")
    def _has_its_ids(self) -> "PsaEvent":
        needs = {
            "change_order.submitted": ("change_order_id",),
            "timesheet.approved": ("time_entry_id", "period"),
        }[self.type]
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.type} event needs {', '.join(missing)}")
        return self


class Answer(BaseModel):
    """What ingress did with an event it accepted (202)."""

    event_id: str
    action: Action
    """accepted: Temporal holds the workflow run for it (new, or the one already running);
    already ran: its workflow completed before, nothing started; none: nothing to start."""
    workflow_id: str | None = None
    run_id: str | None = None
    detail: str
