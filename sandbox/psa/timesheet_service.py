"""The PSA's rules for time entries and expenses: entry, correction and approval."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sandbox.psa.errors import conflict, invalid, not_found
from sandbox.psa.ids import PROJECT, RESOURCE, new_id
from sandbox.psa.time_schemas import (
    Expense,
    ExpenseChanges,
    ExpenseInput,
    TimeEntry,
    TimeEntryChanges,
    TimeEntryInput,
)
from sandbox.psa.timesheets import Sheet, TimesheetStore, page_token, token_position
from sandbox.records import RecordStore

MODELS: dict[str, type[TimeEntry] | type[Expense]] = {
    "time_entries": TimeEntry,
    "expenses": Expense,
}
CLEARED_APPROVAL = {"approver": None, "approved_at": None, "rejection_reason": None}


def stored(fields: dict[str, Any]) -> dict[str, Any]:
    """Field values as the tables keep them: money and hours with two decimals."""
    return {
        k: f"{Decimal(v):.2f}" if k in ("hours", "amount") and v is not None else v
        for k, v in fields.items()
    }


def _position(token: str | None) -> str | None:
    """Where a page token continues; 422 naming page_token for one this API did not give."""
    if token is None:
        return None
    after = token_position(token)
    if after is None:
        raise invalid([("page_token", "is not a page token this API gave")])
    return after


class TimesheetService:
    """Time entries and expenses: new ones are submitted, then approved or rejected."""

    def __init__(self, sheets: TimesheetStore, store: RecordStore) -> None:
        self.sheets = sheets
        self.store = store

    def page(
        self, sheet: Sheet, filters: dict[str, str | None], size: int, token: str | None
    ) -> dict[str, Any]:
        """A page of records as JSON, ordered by id, with the token of the next page."""
        after = _position(token)
        given = {k: v for k, v in filters.items() if v is not None}
        records, last = self.sheets.page(sheet, given, after, size)
        return {"items": records, "next_page_token": page_token(last) if last else None}

    def project_ids(self, period: str, size: int, token: str | None) -> dict[str, Any]:
        """A page of project ids with approved time or expenses in the period."""
        after = _position(token)
        ids = self.sheets.billed_projects(period, after, size + 1)
        more = len(ids) > size
        return {"items": ids[:size], "next_page_token": page_token(ids[size - 1]) if more else None}

    def get(self, sheet: Sheet, id: str) -> TimeEntry | Expense:
        """One record, or 404."""
        record = self.sheets.get(sheet, id)
        if record is None:
            raise not_found(sheet.noun, id)
        return MODELS[sheet.table].model_validate(record)

    def _project_problems(self, project_id: str) -> list[tuple[str, str]]:
        project = self.store.get(PROJECT, project_id)
        if project is None:
            return [("project_id", f"project {project_id} does not exist")]
        if project["status"] == "archived":
            return [("project_id", f"project {project_id} is archived")]
        return []

    def _worker_problems(self, worker_id: str) -> list[tuple[str, str]]:
        resource_id = self.store.id_for_external(RESOURCE, worker_id)
        resource = self.store.get(RESOURCE, resource_id) if resource_id else None
        if resource is None:
            return [("worker_id", f"no resource has worker id {worker_id}")]
        if not resource["active"]:
            return [("worker_id", f"resource {resource_id} (worker {worker_id}) is inactive")]
        return []

    def create(self, sheet: Sheet, data: TimeEntryInput | ExpenseInput) -> TimeEntry | Expense:
        """A new submitted record for an active resource on a project not archived."""
        problems = self._worker_problems(data.worker_id) + self._project_problems(data.project_id)
        if problems:
            raise invalid(problems)
        fields = stored(data.model_dump(mode="json"))
        record = {"id": new_id(self.store, sheet.prefix), **fields, "status": "submitted"}
        self.sheets.insert(sheet, record | CLEARED_APPROVAL)
        return self.get(sheet, record["id"])

    def update(
        self, sheet: Sheet, id: str, changes: TimeEntryChanges | ExpenseChanges
    ) -> TimeEntry | Expense:
        """Apply the fields given. A changed approved or rejected record is submitted again."""
        current = self.get(sheet, id).model_dump(mode="json")
        given = stored(changes.model_dump(mode="json", exclude_unset=True))
        nulls = [field for field, value in given.items() if value is None]
        if nulls:
            raise invalid([(field, "may not be null") for field in nulls])
        if "project_id" in given and given["project_id"] != current["project_id"]:
            problems = self._project_problems(given["project_id"])
            if problems:
                raise invalid(problems)
        changed = {k: v for k, v in given.items() if stored({k: current[k]})[k] != v}
        if not changed:
            return self.get(sheet, id)
        if current["status"] in ("approved", "rejected"):
            changed |= {"status": "submitted"} | CLEARED_APPROVAL
        self.sheets.update(sheet, id, changed)
        return self.get(sheet, id)

    def approve(self, sheet: Sheet, id: str, approver: str) -> TimeEntry | Expense:
        """Approve a submitted record; an approved one answers unchanged."""
        record = self.get(sheet, id)
        if record.status == "approved":
            return record
        if record.status != "submitted":
            raise conflict(f"{sheet.noun} {id} is {record.status}; change it to submit it again")
        now = datetime.now(UTC).isoformat()
        self.sheets.update(
            sheet, id, {"status": "approved", "approver": approver, "approved_at": now}
        )
        return self.get(sheet, id)

    def reject(self, sheet: Sheet, id: str, approver: str, reason: str) -> TimeEntry | Expense:
        """Reject a submitted record; a rejected one answers unchanged."""
        record = self.get(sheet, id)
        if record.status == "rejected":
            return record
        if record.status != "submitted":
            raise conflict(
                f"{sheet.noun} {id} is {record.status}; only submitted ones are rejected"
            )
        changes = {"status": "rejected", "approver": approver, "rejection_reason": reason}
        self.sheets.update(sheet, id, changes | {"approved_at": None})
        return self.get(sheet, id)
