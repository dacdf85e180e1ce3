"""The PSA's billing side: approved time and expenses by page, projects' billing terms."""

from typing import Any
from urllib.parse import quote

from pydantic_core import to_jsonable_python

from connectors.base import Connector
from connectors.errors import NotFound
from models.billing import (
    BillingProject,
    Expense,
    ExpensePage,
    ProjectIdPage,
    TimeEntry,
    TimeEntryPage,
)

API = "/api/v1"


def _path(*segments: str) -> str:
    return "/".join([API, *(quote(s, safe="") for s in segments)])


class PsaBillingMixin(Connector):
    """Billing reads and timesheet corrections; PsaConnector inherits them."""

    async def _read(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = await self.request("GET", path, params=params)
        return response.json()

    async def _read_or_none(self, path: str) -> Any:
        try:
            return await self._read(path)
        except NotFound:
            return None

    async def _approved_page(
        self, kind: str, project_id: str, period: str, page_token: str | None, page_size: int
    ) -> Any:
        params: dict[str, Any] = {
            "project_id": project_id,
            "period": period,
            "status": "approved",
            "page_size": page_size,
        }
        if page_token:
            params["page_token"] = page_token
        return await self._read(_path(kind), params)

    async def time_entries(
        self, project_id: str, period: str, page_token: str | None = None, page_size: int = 500
    ) -> TimeEntryPage:
        """One page of the project's approved time entries dated in the period, by id."""
        body = await self._approved_page("time-entries", project_id, period, page_token, page_size)
        return TimeEntryPage.model_validate(body)

    async def expenses(
        self, project_id: str, period: str, page_token: str | None = None, page_size: int = 500
    ) -> ExpensePage:
        """One page of the project's approved expenses dated in the period, by id."""
        body = await self._approved_page("expenses", project_id, period, page_token, page_size)
        return ExpensePage.model_validate(body)

    async def billing_projects(
        self, period: str, page_token: str | None = None, page_size: int = 200
    ) -> ProjectIdPage:
        """One page of the ids of projects with approved time or expenses in the period."""
        params: dict[str, Any] = {"period": period, "page_size": page_size}
        if page_token:
            params["page_token"] = page_token
        return ProjectIdPage.model_validate(await self._read(_path("billing", "projects"), params))

    async def billing_project(self, project_id: str) -> BillingProject | None:
        """The project's billing terms and milestones, or None when it does not exist."""
        body = await self._read_or_none(_path("projects", project_id, "billing"))
        return None if body is None else BillingProject.model_validate(body)

    async def get_time_entry(self, entry_id: str) -> TimeEntry | None:
        """The time entry, whatever its status, or None when it does not exist."""
        body = await self._read_or_none(_path("time-entries", entry_id))
        return None if body is None else TimeEntry.model_validate(body)

    async def get_expense(self, expense_id: str) -> Expense | None:
        """The expense, whatever its status, or None when it does not exist."""
        body = await self._read_or_none(_path("expenses", expense_id))
        return None if body is None else Expense.model_validate(body)

    async def update_time_entry(self, entry_id: str, changes: dict[str, Any]) -> TimeEntry:
        """Correct the given fields (role, hours, project_id, cost_center, date, notes,
        billable). A changed approved entry goes back to submitted. Unknown fields are a
        RequestRejected (422) naming them; a missing entry is NotFound."""
        path = _path("time-entries", entry_id)
        response = await self.request("PATCH", path, json=to_jsonable_python(changes))
        return TimeEntry.model_validate(response.json())

    async def approve_time_entry(self, entry_id: str, approver: str) -> TimeEntry:
        """Approve a submitted entry as the named user; an approved one answers unchanged.
        A rejected entry (not corrected since) is a RequestRejected (409)."""
        path = _path("time-entries", entry_id, "approve")
        response = await self.request("POST", path, json={"approver": approver})
        return TimeEntry.model_validate(response.json())

    async def update_expense(self, expense_id: str, changes: dict[str, Any]) -> Expense:
        """Correct the given fields of an expense; as update_time_entry."""
        path = _path("expenses", expense_id)
        response = await self.request("PATCH", path, json=to_jsonable_python(changes))
        return Expense.model_validate(response.json())

    async def approve_expense(self, expense_id: str, approver: str) -> Expense:
        """Approve a submitted expense; as approve_time_entry."""
        path = _path("expenses", expense_id, "approve")
        response = await self.request("POST", path, json={"approver": approver})
        return Expense.model_validate(response.json())
