"""The workflows psflow can start, by the name users type."""

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from models import hire_to_staff as h2s
from models import opportunity_to_project as o2p
from workflows.hire_to_staff import HireToStaff
from workflows.opportunity_to_project import OpportunityToProject
from workflows.worker_change import WorkerChange


@dataclass(frozen=True)
class WorkflowKind:
    name: str
    workflow: type
    key_help: str
    workflow_id: Callable[[str], str]
    make_input: Callable[[str, str], BaseModel]

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
}

# worker-change is started by HCM events (one workflow per event), not by a key.
ALL_WORKFLOWS = [*(kind.workflow for kind in WORKFLOWS.values()), WorkerChange]
WORKFLOW_TYPES = [*WORKFLOWS, "worker-change"]
"""Every workflow type psflow runs, as `psflow list` shows them."""
