"""The event bodies ingress accepts from the CRM and the PSA (the HCM sends models.hcm's
WorkerEvent), and what ingress answers."""

import re
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, field_validator, model_validator

from models.opportunity_to_project import check_opportunity_id

CrmEventType = Literal["opportunity.closed_won", "opportunity.amount_changed"]
PsaEventType = Literal["change_order.submitted", "timesheet.approved"]
Action = Literal["accepted", "signalled", "already ran", "none"]
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _missing(event: BaseModel, kind: str, needs: tuple[str, ...]) -> None:
    """Refuse an event of `kind` that lacks a field it cannot do without."""
    missing = [name for name in needs if getattr(event, name) is None]
    if missing:
        raise ValueError(f"a {kind} event needs {', '.join(missing)}")


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

    @field_validator("opportunity_id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return check_opportunity_id(value)

    @model_validator(mode="after")
    def _has_its_fields(self) -> "CrmEvent":
        if self.type == "opportunity.amount_changed":
            _missing(self, self.type, ("stage", "amount"))
        return self


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

    @field_validator("period")
    @classmethod
    def _a_month(cls, value: str | None) -> str | None:
        if value is not None and not PERIOD.match(value):
            raise ValueError(f"{value!r} is not a billing period: use YYYY-MM")
        return value

    @model_validator(mode="after")
    def _has_its_ids(self) -> "PsaEvent":
        needs = {
            "change_order.submitted": ("change_order_id",),
            "timesheet.approved": ("time_entry_id", "period"),
        }[self.type]
        _missing(self, self.type, needs)
        return self


class Answer(BaseModel):
    """What ingress did with an event it accepted (202)."""

    event_id: str
    action: Action
    """accepted: Temporal holds the workflow run for it (new, or the one already running);
    signalled: Temporal took the event as a signal to the workflow's running run;
    already ran: its workflow completed before, nothing started; none: nothing to start or
    signal (detail says why)."""
    workflow_id: str | None = None
    run_id: str | None = None
    detail: str
