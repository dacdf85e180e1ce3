"""The PSA's rules for rate cards, projects, their flags and staffing requests."""

from decimal import Decimal

from sandbox.psa.errors import conflict, invalid, not_found
from sandbox.psa.ids import ASSIGNMENT, PROJECT, RATE_CARD, STAFFING_REQUEST, new_id
from sandbox.psa.schemas import (
    Milestone,
    Project,
    ProjectInput,
    RateCard,
    StaffingRequest,
    StaffingRequestInput,
)
from sandbox.records import RecordStore


class PsaService:
    """Projects, milestones and staffing requests, kept by the PSA's rules."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store

    # ---- rate cards

    def rate_card(self, code: str) -> RateCard | None:
        """The rate card with this code, or None."""
        record = self.store.get(RATE_CARD, code)
        return RateCard.model_validate(record) if record else None

    def rate_cards(self, active: bool | None) -> list[RateCard]:
        """Every rate card, optionally only the active (or inactive) ones."""
        cards = [RateCard.model_validate(r) for r in self.store.all(RATE_CARD)]
        return [c for c in cards if active is None or c.active == active]

    # ---- projects

    def project(self, project_id: str) -> Project:
        """The project, or 404."""
        record = self.store.get(PROJECT, project_id)
        if record is None:
            raise not_found("project", project_id)
        return Project.model_validate(record)

    def projects(self, external_id: str | None, status: str | None) -> list[Project]:
        """Projects, filtered by external id and/or status."""
        if external_id is not None:
            records = self.store.find(PROJECT, external_id=external_id)
            projects = [Project.model_validate(r) for r in records]
        else:
            projects = [Project.model_validate(r) for r in self.store.all(PROJECT)]
        return [p for p in projects if status is None or p.status == status]

    def _project_problems(self, data: ProjectInput) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        card = self.rate_card(data.rate_card)
        if card is None:
            problems.append(("rate_card", f"rate card {data.rate_card} does not exist"))
        elif not card.active:
            problems.append(("rate_card", f"rate card {data.rate_card} is inactive"))
        elif card.currency != data.currency:
            problems.append(
                ("currency", f"{data.currency} differs from {card.code}'s {card.currency}")
            )
        total = sum((m.amount for m in data.milestones), Decimal(0))
        if data.billing_type == "Fixed Fee" and total != data.budget:
            problems.append(
                ("milestones", f"Fixed Fee milestones sum to {total}, not the budget {data.budget}")
            )
        return problems

    def create_project(self, data: ProjectInput) -> Project:
        """A new active project with its milestones; 422 on bad input, 409 on a taken id."""
        problems = self._project_problems(data)
        if problems:
            raise invalid(problems)
        existing = self.store.id_for_external(PROJECT, data.external_id)
        if existing:
            raise conflict(f"external_id {data.external_id} already exists as {existing}")
        milestones = [
            Milestone(id=new_id(self.store, "MS"), **m.model_dump()) for m in data.milestones
        ]
        fields = data.model_dump(exclude={"milestones"})
        project = Project(
            id=new_id(self.store, "PRJ"), status="active", milestones=milestones, **fields
        )
        record = project.model_dump(mode="json")
        self.store.insert(PROJECT, project.id, record, external_id=project.external_id)
        return project

    def archive_project(self, project_id: str) -> Project:
        """Archive the project and cancel its open staffing requests; idempotent."""
        project = self.project(project_id)
        if project.status != "archived":
            self.store.update(PROJECT, project_id, {"status": "archived"})
            # An archived project frees its external id for a new project.
            self.store.set_external_id(PROJECT, project_id, None)
            for request in self.staffing_requests(project_id):
                if request.status == "open":
                    self.store.update(STAFFING_REQUEST, request.id, {"status": "cancelled"})
        return self.project(project_id)

    def set_budget(self, project_id: str, budget: Decimal) -> Project:
        """Set the project's budget; the same budget again answers it unchanged. 409 for an
        archived project. Milestones stay as they are: a change order moves the budget."""
        project = self.project(project_id)
        if project.budget == budget:
            return project
        if project.status == "archived":
            raise conflict(f"project {project_id} is archived")
        self.store.update(PROJECT, project_id, {"budget": str(budget)})
        return self.project(project_id)

    def flag_project(self, project_id: str, reason: str) -> Project:
        """Append a flag to the project; a reason already there is not added again."""
        project = self.project(project_id)
        if reason not in project.flags:
            self.store.update(PROJECT, project_id, {"flags": [*project.flags, reason]})
        return self.project(project_id)

    # ---- staffing requests

    def staffing_request(self, request_id: str) -> StaffingRequest:
        """The staffing request, or 404."""
        record = self.store.get(STAFFING_REQUEST, request_id)
        if record is None:
            raise not_found("staffing request", request_id)
        return StaffingRequest.model_validate(record)

    def staffing_requests(
        self, project_id: str, external_id: str | None = None
    ) -> list[StaffingRequest]:
        """The project's staffing requests, optionally only those with this external id
        (404 if there is no such project)."""
        self.project(project_id)
        mine = {"external_id": external_id} if external_id is not None else {}
        records = self.store.find(STAFFING_REQUEST, project_id=project_id, **mine)
        return [StaffingRequest.model_validate(r) for r in records]

    def all_staffing_requests(self, status: str | None, role: str | None) -> list[StaffingRequest]:
        """Staffing requests across projects, oldest first, filtered by status and/or role."""
        filters = {k: v for k, v in (("status", status), ("role", role)) if v is not None}
        records = self.store.find(STAFFING_REQUEST, **filters)
        return [StaffingRequest.model_validate(r) for r in records]

    def create_staffing_request(
        self, project_id: str, data: StaffingRequestInput
    ) -> StaffingRequest:
        """Open a request on an active project for a role on its rate card."""
        project = self.project(project_id)
        if project.status != "active":
            raise conflict(f"project {project_id} is {project.status}")
        card = self.rate_card(project.rate_card)
        if card is None or data.role not in {r.role for r in card.rates}:
            raise invalid([("role", f"role {data.role} is not on rate card {project.rate_card}")])
        request = StaffingRequest(
            id=new_id(self.store, "SR"), project_id=project_id, status="open", **data.model_dump()
        )
        self.store.insert(STAFFING_REQUEST, request.id, request.model_dump(mode="json"))
        return request

    def cancel_staffing_request(self, request_id: str) -> StaffingRequest:
        """Cancel an open request; idempotent; 409 for a filled one."""
        request = self.staffing_request(request_id)
        if request.status == "filled":
            raise conflict(f"staffing request {request_id} is already filled")
        if request.status == "open":
            self.store.update(STAFFING_REQUEST, request_id, {"status": "cancelled"})
        return self.staffing_request(request_id)

    def reopen_staffing_request(self, request_id: str) -> StaffingRequest:
        """Open a filled or cancelled request again; idempotent.

        409 when its project is archived, or while an active assignment still fills it.
        """
        request = self.staffing_request(request_id)
        if request.status == "open":
            return request
        project = self.project(request.project_id)
        if project.status != "active":
            raise conflict(f"project {project.id} is {project.status}")
        filling = self.store.find(ASSIGNMENT, staffing_request_id=request_id, status="active")
        if filling:
            raise conflict(
                f"staffing request {request_id} is filled by active assignment "
                f"{filling[0]['id']}; end or cancel it first"
            )
        return self.set_staffing_status(request_id, "open")

    def set_staffing_hours(self, request_id: str, hours: Decimal) -> StaffingRequest:
        """Change an open request's hours; the same hours again answer it unchanged.
        409 for a filled or cancelled request: its demand is no longer open to change."""
        request = self.staffing_request(request_id)
        if request.hours == hours:
            return request
        if request.status != "open":
            raise conflict(f"staffing request {request_id} is {request.status}, not open")
        self.store.update(STAFFING_REQUEST, request_id, {"hours": str(hours)})
        return self.staffing_request(request_id)

    def set_staffing_status(self, request_id: str, status: str) -> StaffingRequest:
        """Record a request's new status, as assignments fill and release it."""
        self.store.update(STAFFING_REQUEST, request_id, {"status": status})
        return self.staffing_request(request_id)
