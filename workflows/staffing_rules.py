"""Whether a worker can be provisioned, and which open staffing request fits them best."""

from decimal import Decimal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.erp import ErpEmployeeInput
    from models.hcm import Worker
    from models.hire_to_staff import hire_workflow_id, resource_external_id
    from models.policy import StaffingPolicy
    from models.psa import StaffingRequest
    from models.status import FieldProblem

CORRECTABLE_FIELDS = (
    "legal_entity",
    "department",
    "cost_center",
    "manager_id",
    "role",
    "cost_rate",
)


def worker_problems(
    worker: Worker, policy: StaffingPolicy, manager_known: bool
) -> list[FieldProblem]:
    """Every attribute that stops the worker from being provisioned, each with the fix."""
    problems: list[FieldProblem] = []

    def problem(field: str, message: str) -> None:
        problems.append(FieldProblem(field=field, message=message))

    if worker.legal_entity not in policy.legal_entities:
        problem(
            "legal_entity",
            f"legal entity {worker.legal_entity or '(none)'} has no ERP subsidiary: "
            f"use one of {', '.join(policy.legal_entities)}",
        )
    if worker.department not in policy.departments:
        problem(
            "department",
            f"department {worker.department or '(none)'} is not mapped: "
            f"use one of {', '.join(policy.departments)}",
        )
    entity_of_center = policy.cost_centers.get(worker.cost_center or "")
    if entity_of_center is None:
        problem("cost_center", f"cost center {worker.cost_center or '(none)'} is unknown")
    elif entity_of_center != worker.legal_entity:
        problem(
            "cost_center",
            f"cost center {worker.cost_center} belongs to {entity_of_center}, "
            f"not {worker.legal_entity}",
        )
    if not worker.manager_id or not manager_known:
        problem("manager_id", f"manager {worker.manager_id or '(none)'} is not a known worker")
    if worker.role not in policy.roles:
        problem("role", f"role {worker.role or '(none)'} is not one of {', '.join(policy.roles)}")
    if worker.cost_rate is None or worker.cost_rate <= 0:
        problem("cost_rate", "cost rate is missing: set the hourly cost, e.g. cost_rate=95")
    return problems


def best_match(worker: Worker, requests: list[StaffingRequest]) -> StaffingRequest | None:
    """The open request of the worker's role that fits best: skills, then location, then age.

    A new hire has no assignments yet, so any open request is within their availability.
    """
    candidates = [r for r in requests if r.status == "open" and r.role == worker.role]
    if not candidates:
        return None

    def score(request: StaffingRequest) -> tuple[int, int]:
        skills = len(set(request.skills) & set(worker.skills))
        place = 1 if request.location in (None, worker.location) else 0
        return skills, place

    # max() keeps the first of equals: requests come oldest first.
    return max(candidates, key=score)


def forecast_cost(hours: Decimal, cost_rate: Decimal) -> Decimal:
    return (hours * cost_rate).quantize(Decimal("0.01"))


def employee_input(worker: Worker, policy: StaffingPolicy) -> ErpEmployeeInput:
    """The ERP employee record for a validated worker, as hire-to-staff creates it."""
    assert worker.legal_entity and worker.cost_center and worker.cost_rate is not None
    return ErpEmployeeInput(
        external_id=resource_external_id(worker.id),
        first_name=worker.first_name,
        last_name=worker.last_name,
        email=worker.email,
        subsidiary_id=policy.legal_entities[worker.legal_entity],
        department_id=policy.departments.get(worker.department or "", ""),
        cost_center=worker.cost_center,
        labor_cost=worker.cost_rate,
        currency=worker.currency or "USD",
        origin=hire_workflow_id(worker.id),
    )
