"""The workflows psflow can start, by the name users type."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from models import hire_to_staff as h2s
from models import opportunity_to_project as o2p
from models.billing import month_end_id
from models.change_order import change_order_workflow_id
from models.time_to_bill import MonthEndInput, TimeToBillInput
from workflows.change_order import ChangeOrderWorkflow
from workflows.hire_to_staff import HireToStaff
from workflows.month_end import MonthEnd
from workflows.opportunity_to_project import OpportunityToProject
from workflows.project_changes import ProjectChanges
from workflows.reconcile import Reconcile
from workflows.time_to_bill import TimeToBill
from workflows.worker_change import WorkerChange


class StartableWorkflow(Protocol):
    """A workflow class as `psflow start` runs it: `run` takes the one input model."""

    async def run(self, arg: Any, /) -> Any: ...


@dataclass(frozen=True)
class WorkflowKind:
    name: str
    workflow: type[StartableWorkflow]
    key_help: str
    workflow_id: Callable[[str], str]
    make_input: Callable[[str, str], BaseModel]
    rerunnable: bool = False
    """May a completed run be started again (a billing period may be rerun safely)."""

    def input_for(self, key: str, requested_by: str) -> BaseModel:
        """The workflow's input for a business key; ValueError names what is wrong with it."""
        try:
            return self.make_input(key, requested_by)
        except ValueError as exc:
            errors = getattr(exc, "errors", None)
            if callable(errors):
                raise ValueError(
                    "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in errors())
                ) from None
            raise


WORKFLOWS: dict[str, WorkflowKind] = {
    "opportunity-to-project": WorkflowKind(
        name="opportunity-to-project",
        workflow=OpportunityToProject,
        key_help="Salesforce opportunity id (15 or 18 characters, starts with 006)",
        workflow_id=o2p.workflow_id,
        make_input=lambda key, user: o2p.OpportunityToProjectInput(
            opportunity_id=key, requested_by=user
        ),
    ),
    "hire-to-staff": WorkflowKind(
        name="hire-to-staff",
        workflow=HireToStaff,
        key_help="HCM worker id (Employee_ID)",
        workflow_id=h2s.hire_workflow_id,
        make_input=lambda key, user: h2s.HireToStaffInput(worker_id=key, requested_by=user),
    ),
    "time-to-bill": WorkflowKind(
        name="time-to-bill",
        workflow=TimeToBill,
        key_help="PSA project id and period, e.g. PRJ-001042/2026-10",
        workflow_id=lambda key: f"time-to-bill/{key}",
        make_input=lambda key, user: _time_to_bill_input(key),
        rerunnable=True,
    ),
    "month-end": WorkflowKind(
        name="month-end",
        workflow=MonthEnd,
        key_help="billing period YYYY-MM, e.g. 2026-10",
        workflow_id=month_end_id,
        make_input=lambda key, user: MonthEndInput(period=key),
        rerunnable=True,
    ),
    "change-order": WorkflowKind(
        name="change-order",
        workflow=ChangeOrderWorkflow,
        key_help="change order id held in the PSA, or --file co.json",
        workflow_id=change_order_workflow_id,
        make_input=lambda key, user: _needs_loading(key),
    ),
}


def _needs_loading(key: str) -> BaseModel:
    raise ValueError(
        f"a change order is read from the PSA or a file: psflow start change-order {key} "
        "reads it from the PSA, psflow start change-order --file co.json from the file"
    )


def _time_to_bill_input(key: str) -> TimeToBillInput:
    project_id, slash, period = key.rpartition("/")
    if not slash or not project_id:
        raise ValueError(f"{key!r} is not <PSA project id>/<YYYY-MM>, e.g. PRJ-001042/2026-10")
    return TimeToBillInput(project_id=project_id, period=period)


# worker-change is started by HCM events (one workflow per event), not by a key;
# project-changes by change orders; reconcile by its schedule or `psflow reconcile --now`.
ALL_WORKFLOWS = [
    *(kind.workflow for kind in WORKFLOWS.values()),
    WorkerChange,
    ProjectChanges,
    Reconcile,
]
WORKFLOW_TYPES = [*WORKFLOWS, "worker-change", "project-changes", "reconcile"]
"""Every workflow type psflow runs, as `psflow list` shows them."""
