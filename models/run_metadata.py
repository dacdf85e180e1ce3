"""What the Temporal UI shows of a psflow run: its summary and details at start, and its
current details while it runs (`workflow.set_current_details`), rendered from its status.

Summaries hold ids and amounts, never a person's or customer's name: Temporal keeps user
metadata beside the history, and an SRE's list view shows it to anyone with access.
"""

from typing import NamedTuple

from pydantic import BaseModel

from models.change_state import ChangeOrderInput, LockInput
from models.hcm import WorkerEvent
from models.hire_to_staff import HireToStaffInput
from models.opportunity_to_project import OpportunityToProjectInput
from models.reconcile import ReconcileInput
from models.status import RunState, StepState, WaitKind, WorkflowStatus
from models.time_to_bill import MonthEndInput, TimeToBillInput


class StartMetadata(NamedTuple):
    summary: str
    details: str


def start_metadata(input: BaseModel) -> StartMetadata:
    """The static summary and details for a run started with `input`."""
    match input:
        case OpportunityToProjectInput():
            return StartMetadata(
                f"Deal {input.opportunity_id} to a project",
                "Provisions a closed-won deal: ERP customer and project, PSA project, staffing "
                "requests, baseline forecast, ids back to the CRM. "
                f"Started by {input.requested_by}.",
            )
        case HireToStaffInput():
            return StartMetadata(
                f"Hire worker {input.worker_id}",
                "ERP employee and PSA resource for a hire, then a staffing match a resource "
                f"manager approves. Started by {input.requested_by}.",
            )
        case WorkerEvent():
            return StartMetadata(
                f"{input.kind.value.title()} of worker {input.worker_id}",
                f"HCM event {input.event_id}, effective {input.effective_date}.",
            )
        case TimeToBillInput():
            return StartMetadata(
                f"Bill project {input.project_id} for {input.period}",
                "Posts approved time and expenses to the ERP, drafts the invoice, waits for "
                "finance, releases it and tells the CRM.",
            )
        case MonthEndInput():
            return StartMetadata(
                f"Month-end {input.period}",
                f"Time-to-bill for every project with approved time in {input.period} "
                f"(run {input.run}).",
            )
        case ChangeOrderInput():
            order = input.change_order
            return StartMetadata(
                f"Change order {order.id} on {order.project_id}: "
                f"{order.budget_change:+} {order.currency}",
                f"Budget, staffing and forecast changes effective {order.effective_date}, "
                f"approved level by level. Raised by {order.requested_by}.",
            )
        case LockInput():
            return StartMetadata(
                f"Change orders of {input.project_id}, one at a time",
                "Grants the project to one change order at a time, in arrival order.",
            )
        case ReconcileInput():
            periods = ", ".join(input.periods) if input.periods else "the policy's lookback"
            return StartMetadata(
                f"Reconcile CRM, PSA and ERP ({periods})",
                f"Compares the systems and repairs what policy allows. Started by "
                f"{input.requested_by}.",
            )
    return StartMetadata(type(input).__name__, "")


def current_details(status: WorkflowStatus, stalled_on: str | None) -> str:
    """The run's status as the Temporal UI shows it beside the run (markdown)."""
    running = [s for s in status.steps if s.state in (StepState.RUNNING, StepState.WAITING)]
    done = sum(1 for s in status.steps if s.state == StepState.DONE)
    lines = [f"**{status.state.value}**, {done} of {len(status.steps)} steps done"]
    if running:
        lines.append(f"step: {running[-1].name}")
    waiting = status.waiting_for
    if waiting is not None:
        since = f"{waiting.since:%Y-%m-%d %H:%M} UTC"
        who = f" ({waiting.role})" if waiting.role else ""
        lines.append(f"waits for {waiting.kind.value}{who} since {since}")
        if waiting.deadline is not None:
            lines.append(f"escalates or ends at {waiting.deadline:%Y-%m-%d %H:%M} UTC")
        lines.append(f"next: `{_next_command(status)}`")
    if stalled_on is not None:
        lines.append(f"stalled on {stalled_on}: Temporal retries the step")
        lines.append(f"next: `psflow status {status.workflow_id}` shows the last error")
    if status.state in (RunState.FAILED, RunState.CANCELLED) and status.error:
        lines.append(f"error: {status.error[:200]}")
    return "\n\n".join(lines)


def _next_command(status: WorkflowStatus) -> str:
    waiting = status.waiting_for
    assert waiting is not None
    if waiting.kind == WaitKind.CORRECTION:
        fields = [p.field for p in waiting.problems] or ["FIELD"]
        sets = " ".join(f"--set {f}=VALUE" for f in fields)
        return f"psflow correct {status.workflow_id} {sets}"
    return f"psflow approve {status.workflow_id} --as USER"
