"""Pure rules for change orders: what makes one invalid, and what it changes."""

from decimal import Decimal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.change_order import ChangeOrder
    from models.change_state import ProjectState
    from models.policy import ChangeOrderPolicy
    from models.status import FieldProblem


def change_order_problems(
    order: ChangeOrder, state: ProjectState, policy: ChangeOrderPolicy
) -> list[FieldProblem]:
    """Every field of the change order the live project and contract refuse, with the fix."""
    problems: list[FieldProblem] = []

    def problem(field: str, message: str) -> None:
        problems.append(FieldProblem(field=field, message=message))

    if policy.user(order.requested_by) is None:
        problem("requested_by", f"unknown user {order.requested_by!r}")
    project = state.project
    if project is None:
        problem("project_id", f"project {order.project_id} does not exist in the PSA")
        return problems
    if project.status != "active":
        problem(
            "project_id", f"project {project.id} is {project.status}: only active projects change"
        )
    if order.currency != project.currency:
        problem("currency", f"{order.currency} differs from the project's {project.currency}")
    if state.erp_budget is None:
        problem("project_id", f"project {project.id} has no ERP job {project.external_id}")
    else:
        remaining = state.erp_budget + order.budget_change - state.erp_actuals
        if remaining < 0:
            problem(
                "budget_change",
                f"would leave {remaining} {project.currency} of budget: "
                f"{state.erp_actuals} is already billed against {state.erp_budget}",
            )
    open_hours = {r.role: r.hours for r in state.open_requests}
    for index, change in enumerate(order.roles):
        at = f"roles[{index}]"
        if change.role not in state.rate_card_roles:
            problem(f"{at}.role", f"{change.role} is not on rate card {project.rate_card}")
        elif change.hours_change == 0:
            problem(f"{at}.hours_change", "a role change must add or remove hours")
        elif (
            change.hours_change < 0
            and open_hours.get(change.role, Decimal(0)) + change.hours_change <= 0
        ):
            problem(
                f"{at}.hours_change",
                f"{change.role} has {open_hours.get(change.role, Decimal(0))} open hours to "
                f"reduce; {-change.hours_change} is too many (cancel the request instead)",
            )
    roles = [c.role for c in order.roles]
    for role in sorted({r for r in roles if roles.count(r) > 1}):
        problem("roles", f"{role} appears more than once: give one change per role")
    return problems


def apply_budget(state: ProjectState, order: ChangeOrder) -> Decimal:
    assert state.erp_budget is not None
    return state.erp_budget + order.budget_change
