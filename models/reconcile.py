"""Reconciliation: the drift found between the systems, the policy for repairing it."""

import re
from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, field_validator

RECONCILE = "reconcile"
SCHEDULE_ID = "psflow-reconcile"


class FindingKind(StrEnum):
    MISSING_PROJECT = "missing_project"
    """A closed-won opportunity with no ERP or no PSA project."""
    PSA_WITHOUT_ERP = "psa_without_erp"
    """An active PSA project with no ERP project (job) of the same external id."""
    UNPOSTED_TIME = "unposted_time"
    """Approved time older than the threshold that is not in the ERP (per project and month)."""
    INVOICE_STATUS = "invoice_status"
    """The CRM's invoice status or number differs from the ERP's invoice."""


# What a finding's repair is, when policy allows one.
REPAIRS = {
    FindingKind.MISSING_PROJECT: "start opportunity-to-project",
    FindingKind.UNPOSTED_TIME: "start time-to-bill",
    FindingKind.INVOICE_STATUS: "write the ERP's invoice status to the CRM",
}


class RepairTarget(BaseModel):
    """What a repair acts on: ids only, the repair reads the rest."""

    kind: FindingKind
    business_key: str
    """Opportunity id, PSA project id/period, or opportunity id (invoice status)."""
    invoice_external_id: str | None = None


class Finding(BaseModel):
    kind: FindingKind
    business_key: str
    detail: str
    suggested_repair: str
    repair: str | None = None
    """What this run did about it: started, already running, not allowed, over the limit..."""
    run_id: str = ""
    found_at: datetime | None = None
    target: RepairTarget | None = None
    """Set when a workflow or a write can repair it."""


class ReconcilePolicy(BaseModel):
    """`[reconcile]`: what counts as drift and which repairs psflow may start on its own."""

    repair: list[FindingKind] = []
    """Kinds psflow repairs by itself; none by default (findings are only reported)."""
    unposted_after_hours: float = 24
    """Approved time older than this and not in the ERP is a finding."""
    max_repairs: int = 10
    """Repairs one run may start, over all kinds."""
    closed_won_since: date | None = None
    """Only deals closed on or after this day (those before were provisioned by hand)."""
    lookback_months: int = 2
    """Months of approved time checked: this month and the ones before it."""
    page_size: int = 200
    """Opportunities or projects one activity checks (their reads go out together)."""

    @field_validator("max_repairs", "lookback_months", "page_size")
    @classmethod
    def _not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("must be 0 or more")
        return value


DURATION = re.compile(r"^\s*(\d+)\s*(s|sec|m|min|h|hour|hours|d|day|days)\s*$", re.I)
UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "hours": 3600}


def parse_every(value: object) -> object:
    """'1h', '30m', '1 hour', '2d' as a timedelta; anything else is left to pydantic
    (seconds, 'PT1H', 'HH:MM:SS')."""
    if isinstance(value, str) and (match := DURATION.match(value)):
        unit = match[2].lower()
        seconds = UNITS.get(unit, 86400)
        return timedelta(seconds=int(match[1]) * seconds)
    return value


class ReconcileInput(BaseModel):
    requested_by: str = "schedule"
    periods: list[str] | None = None
    """Months of approved time to check; None: from the policy's lookback."""


class KindCount(BaseModel):
    kind: FindingKind
    found: int = 0
    repaired: int = 0


class ReconcileResult(BaseModel):
    run_id: str
    """The findings in psflow's store carry this."""
    counts: list[KindCount]
    repairs: list[str] = []
    """One line per repair attempted: the target and what happened."""

    @property
    def found(self) -> int:
        return sum(c.found for c in self.counts)


class CheckRequest(BaseModel):
    run_id: str
    now: datetime
    policy: ReconcilePolicy
    page_token: str | None = None
    period: str | None = None
    room: int = 0
    """How many more repair targets the run can take."""


class CheckPage(BaseModel):
    found: int
    targets: list[RepairTarget] = []
    next_page_token: str | None = None


class RepairRequest(BaseModel):
    run_id: str
    target: RepairTarget
    requested_by: str


class RepairOutcome(BaseModel):
    target: RepairTarget
    outcome: str
    repaired: bool = False
    """A workflow was started, or the CRM written."""


class InvoiceRepairRequest(BaseModel):
    """A run's invoice-status repairs, written to the CRM together (200 to a request)."""

    run_id: str
    targets: list[RepairTarget]


class InvoiceRepairResult(BaseModel):
    outcomes: list[RepairOutcome]
    """One per target, in the targets' order."""


class OpportunityLinks(BaseModel):
    """What the CRM says a closed-won opportunity became: projects and latest invoice."""

    id: str
    name: str
    close_date: date | None = None
    erp_project_id: str | None = None
    psa_project_id: str | None = None
    invoice_status: str | None = None
    invoice_number: str | None = None
