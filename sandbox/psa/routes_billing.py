"""Routes billing reads: projects with approved work in a period, a project's billing terms,
and the project events billing depends on (closing a project, completing a milestone)."""

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from sandbox.psa.errors import conflict, not_found
from sandbox.psa.idempotency import Idempotency, IdempotencyKey
from sandbox.psa.ids import PROJECT
from sandbox.psa.schemas import Project
from sandbox.psa.service import PsaService
from sandbox.psa.time_schemas import (
    BillingMilestone,
    BillingProject,
    CloseInput,
    CompleteInput,
    PageSize,
    Period,
    ProjectIdPage,
)
from sandbox.psa.timesheet_service import TimesheetService


def billing_project(project: Project) -> BillingProject:
    """A project as billing sees it."""
    milestones = [BillingMilestone.model_validate(m.model_dump()) for m in project.milestones]
    fields = project.model_dump(exclude={"milestones", "budget", "start_date", "flags"})
    return BillingProject(**fields, milestones=milestones)


class ProjectEvents:
    """Closing projects and completing milestones; both idempotent."""

    def __init__(self, psa: PsaService) -> None:
        self.psa = psa

    def close(self, project_id: str, closed_on: str) -> Project:
        """Close an active project; a closed one keeps its first closed_on."""
        project = self.psa.project(project_id)
        if project.status == "archived":
            raise conflict(f"project {project_id} is archived")
        if project.status == "active":
            self.psa.store.update(PROJECT, project_id, {"status": "closed", "closed_on": closed_on})
        return self.psa.project(project_id)

    def complete(self, project_id: str, milestone_id: str, completed_on: str) -> Project:
        """Mark a milestone complete; a completed one keeps its first date."""
        project = self.psa.project(project_id)
        if project.status == "archived":
            raise conflict(f"project {project_id} is archived")
        milestones = project.model_dump(mode="json")["milestones"]
        found = [m for m in milestones if m["id"] == milestone_id]
        if not found:
            raise not_found("milestone", milestone_id)
        if found[0]["completed_on"] is None:
            found[0]["completed_on"] = completed_on
            self.psa.store.update(PROJECT, project_id, {"milestones": milestones})
        return self.psa.project(project_id)


def billing_routes(psa: PsaService, sheets: TimesheetService, idem: Idempotency) -> APIRouter:
    """GET routes for billing, POST routes for closing projects and completing milestones."""
    router = APIRouter(tags=["billing"])
    events = ProjectEvents(psa)

    @router.get("/billing/projects", response_model=ProjectIdPage)
    def list_billing_projects(
        period: Annotated[Period, Query()],
        page_size: Annotated[PageSize, Query()] = 200,
        page_token: str | None = None,
    ) -> JSONResponse:
        """Ids of the projects with approved time or expenses dated in the period (YYYY-MM),
        in id order, a page at a time: pass `next_page_token` back as `page_token`."""
        return JSONResponse(sheets.project_ids(period, page_size, page_token))

    @router.get("/projects/{project_id}/billing")
    def get_billing_project(project_id: str) -> BillingProject:
        """What billing needs of a project: currency, billing type, rate card, status and
        closing day, the ERP project and CRM opportunity, milestones with completion dates."""
        return billing_project(psa.project(project_id))

    @router.post("/projects/{project_id}/close", response_model=Project, tags=["projects"])
    def close_project(
        project_id: str, data: CloseInput, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Close an active project: no time may be booked after `closed_on`. Closing a closed
        project answers it unchanged; an archived one answers 409."""
        action = partial(events.close, project_id, data.closed_on.isoformat())
        return idem.respond(key, request, data, action)

    @router.post(
        "/projects/{project_id}/milestones/{milestone_id}/complete",
        response_model=Project,
        tags=["projects"],
    )
    def complete_milestone(
        project_id: str,
        milestone_id: str,
        data: CompleteInput,
        request: Request,
        key: IdempotencyKey = None,
    ) -> JSONResponse:
        """Record that the customer accepted a milestone, so a Fixed Fee project bills it.
        Completing a completed milestone answers the project unchanged."""
        action = partial(events.complete, project_id, milestone_id, data.completed_on.isoformat())
        return idem.respond(key, request, data, action)

    return router
