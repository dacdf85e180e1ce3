"""The PSA's rules for change orders and the forecast revisions they publish on projects.

A change order is submitted once by its id: submitting the same body again answers the one
recorded, another body under the same id is a conflict. It is `submitted` until it is
`applied` or `rejected`, and then stays so. A forecast revision is one per change order on a
project (the key is the pair, so every project may have e.g. a "baseline"), published once
(the same body again answers it) and withdrawn by deleting it.
"""

from datetime import UTC, datetime
from typing import Any

from sandbox.psa.change_schemas import (
    ChangeOrder,
    ChangeOrderInput,
    ForecastRevision,
    ForecastRevisionInput,
)
from sandbox.psa.errors import ApiError, conflict, invalid, not_found
from sandbox.psa.ids import CHANGE_ORDER, FORECAST_REVISION, PROJECT
from sandbox.psa.schemas import Project
from sandbox.records import RecordStore


def _now() -> datetime:
    return datetime.now(UTC)


def _revision_key(project_id: str, change_order_id: str) -> str:
    return f"{project_id}/{change_order_id}"


def _differing(given: dict[str, Any], held: dict[str, Any]) -> list[str]:
    return [name for name in given if given[name] != held.get(name)]


class ChangeOrderService:
    """Change orders and forecast revisions, kept by the PSA's rules."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store

    def _project(self, project_id: str) -> Project:
        record = self.store.get(PROJECT, project_id)
        if record is None:
            raise not_found("project", project_id)
        return Project.model_validate(record)

    # ---- change orders

    def change_order(self, change_order_id: str) -> ChangeOrder:
        """The change order, or 404."""
        record = self.store.get(CHANGE_ORDER, change_order_id)
        if record is None:
            raise not_found("change order", change_order_id)
        return ChangeOrder.model_validate(record)

    def change_orders(self, project_id: str | None, status: str | None) -> list[ChangeOrder]:
        """Change orders in the order they were submitted, filtered by project and status."""
        filters = {k: v for k, v in (("project_id", project_id), ("status", status)) if v}
        return [ChangeOrder.model_validate(r) for r in self.store.find(CHANGE_ORDER, **filters)]

    def submit(self, data: ChangeOrderInput) -> tuple[int, ChangeOrder]:
        """Record a submitted change order (201); the same one again answers it (200).

        422 naming project_id for a project the PSA does not have; 409 naming the fields that
        differ when the id is taken by another change order.
        """
        if self.store.get(PROJECT, data.project_id) is None:
            raise invalid([("project_id", f"project {data.project_id} does not exist")])
        held = self.store.get(CHANGE_ORDER, data.id)
        if held is not None:
            existing = ChangeOrder.model_validate(held)
            fields = [
                name
                for name in ChangeOrderInput.model_fields
                if getattr(data, name) != getattr(existing, name)
            ]
            if fields:
                message = f"change order {data.id} exists with other values for {', '.join(fields)}"
                raise ApiError(409, "conflict", message, fields)
            return 200, existing
        order = ChangeOrder(**data.model_dump(), status="submitted", created_at=_now())
        self.store.insert(CHANGE_ORDER, order.id, order.model_dump(mode="json"))
        return 201, order

    def set_status(self, change_order_id: str, status: str, note: str | None) -> ChangeOrder:
        """Mark a submitted change order applied or rejected; the same status again answers
        it unchanged (its first note stays); the other outcome is a conflict (409)."""
        order = self.change_order(change_order_id)
        if order.status == status:
            return order
        if order.status != "submitted":
            raise conflict(f"change order {change_order_id} is already {order.status}")
        changes = {"status": status, "note": note, "status_changed_at": _now().isoformat()}
        self.store.update(CHANGE_ORDER, change_order_id, changes)
        return self.change_order(change_order_id)

    # ---- forecast revisions

    def revisions(self, project_id: str) -> list[ForecastRevision]:
        """The project's forecast revisions, oldest first (404 if there is no such project)."""
        self._project(project_id)
        records = self.store.find(FORECAST_REVISION, project_id=project_id)
        return [ForecastRevision.model_validate(r) for r in records]

    def publish(self, project_id: str, data: ForecastRevisionInput) -> tuple[int, ForecastRevision]:
        """Publish the change order's forecast revision on the project (201); the same one
        again answers it (200). 409 on an archived project, or when the change order already
        has another revision on this project."""
        project = self._project(project_id)
        key = _revision_key(project_id, data.change_order_id)
        held = self.store.get(FORECAST_REVISION, key)
        if held is not None:
            existing = ForecastRevision.model_validate(held)
            fields = _differing(data.model_dump(), existing.model_dump())
            if fields:
                message = (
                    f"change order {data.change_order_id} already has a forecast revision on "
                    f"project {project_id} with other values for {', '.join(fields)}"
                )
                raise ApiError(409, "conflict", message, fields)
            return 200, existing
        if project.status == "archived":
            raise conflict(f"project {project_id} is archived")
        revision = ForecastRevision(**data.model_dump(), project_id=project_id, created_at=_now())
        record = revision.model_dump(mode="json")
        self.store.insert(FORECAST_REVISION, key, record)
        return 201, revision

    def withdraw(self, project_id: str, change_order_id: str) -> None:
        """Delete the change order's forecast revision from the project; 404 when it has none."""
        self._project(project_id)
        if not self.store.delete(FORECAST_REVISION, _revision_key(project_id, change_order_id)):
            raise not_found("forecast revision of change order", change_order_id)


def record_key(kind: str, record: dict[str, Any]) -> str:
    """The store key of a PSA record: forecast revisions are keyed by project and change order."""
    if kind == FORECAST_REVISION:
        return _revision_key(record["project_id"], record["change_order_id"])
    return str(record["id"])
