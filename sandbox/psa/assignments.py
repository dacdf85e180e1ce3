"""The PSA's rules for assignments: a resource staffed onto a project's staffing request."""

from datetime import date
from typing import TypeVar

from pydantic import BaseModel

from sandbox.psa.errors import conflict, invalid, not_found
from sandbox.psa.ids import ASSIGNMENT, PROJECT, RESOURCE, STAFFING_REQUEST, new_id
from sandbox.psa.schemas import Project, StaffingRequest
from sandbox.psa.service import PsaService
from sandbox.psa.staff_schemas import Assignment, AssignmentInput, Resource
from sandbox.records import RecordStore

M = TypeVar("M", bound=BaseModel)


class AssignmentService:
    """Assignments fill staffing requests; cancelling one releases its request again."""

    def __init__(self, store: RecordStore, psa: PsaService) -> None:
        self.store = store
        self.psa = psa

    def assignment(self, assignment_id: str) -> Assignment:
        """The assignment, or 404."""
        record = self.store.get(ASSIGNMENT, assignment_id)
        if record is None:
            raise not_found("assignment", assignment_id)
        return Assignment.model_validate(record)

    def assignments(
        self, resource_id: str | None, project_id: str | None, status: str | None
    ) -> list[Assignment]:
        """Assignments in creation order, filtered by resource, project and/or status."""
        filters = {
            k: v
            for k, v in (
                ("resource_id", resource_id),
                ("project_id", project_id),
                ("status", status),
            )
            if v is not None
        }
        return [Assignment.model_validate(r) for r in self.store.find(ASSIGNMENT, **filters)]

    def _problems(
        self,
        data: AssignmentInput,
        resource: Resource | None,
        request: StaffingRequest | None,
        project: Project | None,
    ) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if resource is None:
            problems.append(("resource_id", f"resource {data.resource_id} does not exist"))
        elif not resource.active:
            problems.append(("resource_id", f"resource {resource.id} is inactive"))
        if project is None:
            problems.append(("project_id", f"project {data.project_id} does not exist"))
        if request is None:
            text = f"staffing request {data.staffing_request_id} does not exist"
            problems.append(("staffing_request_id", text))
        elif request.project_id != data.project_id:
            text = f"staffing request {request.id} belongs to project {request.project_id}"
            problems.append(("staffing_request_id", text))
        if resource is not None and request is not None and resource.role != request.role:
            text = (
                f"resource {resource.id} is a {resource.role}; "
                f"{request.id} asks for a {request.role}"
            )
            problems.append(("resource_id", text))
        if resource is not None and data.start_date < resource.available_from:
            text = (
                f"{data.start_date} is before {resource.id} is available "
                f"({resource.available_from})"
            )
            problems.append(("start_date", text))
        if data.end_date is not None and data.end_date < data.start_date:
            problems.append(("end_date", f"{data.end_date} is before the start {data.start_date}"))
        return problems

    def create_assignment(self, data: AssignmentInput) -> Assignment:
        """Staff an active resource onto an open request of its role, filling the request.

        422 when the references do not fit together; 409 when the request is not open or
        the project is not active.
        """
        resource = self._maybe(RESOURCE, data.resource_id, Resource)
        request = self._maybe(STAFFING_REQUEST, data.staffing_request_id, StaffingRequest)
        project = self._maybe(PROJECT, data.project_id, Project)
        problems = self._problems(data, resource, request, project)
        if problems:
            raise invalid(problems)
        assert project is not None and request is not None
        if project.status != "active":
            raise conflict(f"project {project.id} is {project.status}")
        if request.status != "open":
            raise conflict(f"staffing request {request.id} is {request.status}, not open")
        assignment = Assignment(id=new_id(self.store, "ASG"), status="active", **data.model_dump())
        self.store.insert(ASSIGNMENT, assignment.id, assignment.model_dump(mode="json"))
        self.psa.set_staffing_status(request.id, "filled")
        return assignment

    def end_assignment(self, assignment_id: str, end_date: date) -> Assignment:
        """End an active assignment on its last day; ending an ended one changes nothing.

        An end before the start is kept as given: the assignment ended without a working day
        (a consultant who leaves before it begins). 409 for a cancelled assignment.
        """
        assignment = self.assignment(assignment_id)
        if assignment.status == "ended":
            return assignment
        if assignment.status == "cancelled":
            raise conflict(f"assignment {assignment_id} is cancelled")
        changes = {"status": "ended", "end_date": end_date.isoformat()}
        self.store.update(ASSIGNMENT, assignment_id, changes)
        return self.assignment(assignment_id)

    def cancel_assignment(self, assignment_id: str) -> Assignment:
        """Undo an assignment and release its staffing request; idempotent.

        The request opens again when its project is active (else it is cancelled). 409 for
        an ended assignment: that work took place.
        """
        assignment = self.assignment(assignment_id)
        if assignment.status == "cancelled":
            return assignment
        if assignment.status == "ended":
            raise conflict(f"assignment {assignment_id} has ended; it cannot be cancelled")
        self.store.update(ASSIGNMENT, assignment_id, {"status": "cancelled"})
        self._release(assignment.staffing_request_id)
        return self.assignment(assignment_id)

    def _release(self, request_id: str) -> None:
        request = self._maybe(STAFFING_REQUEST, request_id, StaffingRequest)
        if request is None or request.status != "filled":
            return
        if self.store.find(ASSIGNMENT, staffing_request_id=request_id, status="active"):
            return
        project = self._maybe(PROJECT, request.project_id, Project)
        active = project is not None and project.status == "active"
        self.psa.set_staffing_status(request_id, "open" if active else "cancelled")

    def _maybe(self, kind: str, id: str, model: type[M]) -> M | None:
        record = self.store.get(kind, id)
        return None if record is None else model.model_validate(record)
