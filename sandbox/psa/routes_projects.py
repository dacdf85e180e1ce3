"""Routes for rate cards, projects, milestones and project flags."""

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from sandbox.psa.change_schemas import BudgetInput
from sandbox.psa.errors import not_found
from sandbox.psa.idempotency import Idempotency, IdempotencyKey
from sandbox.psa.schemas import (
    FlagInput,
    MilestoneList,
    Project,
    ProjectInput,
    ProjectList,
    ProjectStatus,
    RateCard,
    RateCardList,
)
from sandbox.psa.service import PsaService


def project_routes(psa: PsaService, idem: Idempotency) -> APIRouter:
    """GET and POST routes for rate cards and projects."""
    router = APIRouter()

    @router.get("/rate-cards", tags=["rate cards"])
    def list_rate_cards(active: bool | None = None) -> RateCardList:
        """Every rate card, optionally only the active (or inactive) ones."""
        return RateCardList(data=psa.rate_cards(active))

    @router.get("/rate-cards/{code}", tags=["rate cards"])
    def get_rate_card(code: str) -> RateCard:
        """One rate card by its code."""
        card = psa.rate_card(code)
        if card is None:
            raise not_found("rate card", code)
        return card

    @router.get("/projects", tags=["projects"])
    def list_projects(
        external_id: str | None = None, status: Annotated[ProjectStatus | None, Query()] = None
    ) -> ProjectList:
        """Projects, filtered by external id and/or status."""
        return ProjectList(data=psa.projects(external_id, status))

    @router.get("/projects/{project_id}", tags=["projects"])
    def get_project(project_id: str) -> Project:
        """One project with its milestones and flags."""
        return psa.project(project_id)

    @router.get("/projects/{project_id}/milestones", tags=["projects"])
    def list_milestones(project_id: str) -> MilestoneList:
        """A project's milestones, in due order as given."""
        return MilestoneList(data=psa.project(project_id).milestones)

    @router.post("/projects", status_code=201, response_model=Project, tags=["projects"])
    def create_project(
        data: ProjectInput, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Create an active project with its milestones. The rate card must be active and in
        the project's currency; a Fixed Fee project's milestones must sum to its budget."""
        return idem.respond(key, request, data, partial(psa.create_project, data), 201)

    @router.post("/projects/{project_id}/archive", response_model=Project, tags=["projects"])
    def archive_project(
        project_id: str, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Archive a project and cancel its open staffing requests. Archiving an archived
        project answers it unchanged."""
        return idem.respond(key, request, None, partial(psa.archive_project, project_id))

    @router.post("/projects/{project_id}/budget", response_model=Project, tags=["projects"])
    def set_project_budget(
        project_id: str, data: BudgetInput, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Set the project's budget, as a change order moves it (or its undo restores it);
        milestones stay as they are. The same budget again answers the project unchanged;
        an archived project answers 409."""
        action = partial(psa.set_budget, project_id, data.budget)
        return idem.respond(key, request, data, action)

    @router.post("/projects/{project_id}/flags", response_model=Project, tags=["projects"])
    def flag_project(
        project_id: str, data: FlagInput, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Add a flag for the project's managers (e.g. a staffed consultant is leaving).
        A reason the project already carries is not added twice; answers the project."""
        action = partial(psa.flag_project, project_id, data.reason)
        return idem.respond(key, request, data, action)

    return router
