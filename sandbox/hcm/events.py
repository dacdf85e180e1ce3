"""Worker lifecycle events: apply a hire, transfer or termination, record it, deliver it.

Admin routes (sandbox only) under /__admin/events stand in for Workday's business processes
and its outbound notifications.
"""

import threading
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from models.hcm import WorkerEvent, WorkerEventKind
from sandbox import catalog
from sandbox.faults import ADMIN_PREFIX
from sandbox.hcm.seed import EVENT, WORKER
from sandbox.hcm.workday import WorkdayError, find_worker, worker_not_found
from sandbox.records import RecordStore
from sandbox.webhooks import Deliverer, note_attempt

CHANGEABLE = (
    "legal_entity",
    "cost_center",
    "cost_rate",
    "currency",
    "department",
    "manager_id",
    "location",
    "role",
)
USER_AGENT = "northwind-hcm-sandbox/1.0"
DeliveryState = Literal["not_configured", "pending", "retrying", "delivered", "failed"]


class EventInput(BaseModel):
    """A lifecycle event to apply to a worker."""

    kind: WorkerEventKind
    worker_id: str = Field(description="Employee_ID (e.g. 30001) or WID")
    changes: dict[str, str] = Field(
        default_factory=dict,
        description=f"hire and transfer only; fields: {', '.join(CHANGEABLE)}; '' clears one",
    )
    effective_date: date | None = Field(
        None, description="default: the hire date for hires, today otherwise"
    )


class Delivery(BaseModel):
    state: DeliveryState
    attempts: int = 0
    deliveries: int = Field(default=0, description="successful sends, redeliveries included")
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None


class EventRecord(WorkerEvent):
    """A recorded event and how its delivery went."""

    delivery: Delivery


class EventList(BaseModel):
    data: list[EventRecord]


def _bad(field: str, message: str) -> WorkdayError:
    return WorkdayError(400, f"invalid change: {message}", [(message, f"changes.{field}")])


class EventBook:
    """Applies events to workers and keeps them with their delivery state."""

    def __init__(
        self,
        store: RecordStore,
        lock: threading.RLock,
        webhook_url: str | None,
        *,
        secret: str | None = None,
        attempts: int = 5,
        backoff_seconds: float = 0.5,
    ) -> None:
        self.store = store
        self.lock = lock
        self.deliverer = Deliverer(
            webhook_url,
            self.delivered,
            secret=secret,
            user_agent=USER_AGENT,
            attempts=attempts,
            backoff_seconds=backoff_seconds,
        )

    def _validated(self, worker: dict[str, Any], changes: dict[str, str]) -> dict[str, str]:
        result = dict(changes)
        for field, value in changes.items():
            if field not in CHANGEABLE:
                raise _bad(field, f"{field} cannot be changed; use one of {', '.join(CHANGEABLE)}")
            if field == "legal_entity" and value not in catalog.LEGAL_ENTITIES:
                raise _bad(field, f"legal entity {value!r} does not exist")
            if field == "cost_rate" and value:
                try:
                    valid = Decimal(value).is_finite() and Decimal(value) >= 0
                except InvalidOperation:
                    valid = False
                if not valid:
                    raise _bad(field, f"cost rate {value!r} is not a decimal amount")
            if field == "currency" and value and not (len(value) == 3 and value.isupper()):
                raise _bad(field, f"currency {value!r} is not an ISO code")
            if field == "manager_id" and value:
                manager = find_worker(self.store, value)
                if manager is None or manager["id"] == worker["id"]:
                    raise _bad(field, f"manager {value!r} is not another worker")
                result[field] = manager["id"]
        entity = changes.get("legal_entity")
        if entity and "currency" not in changes:
            result["currency"] = catalog.LEGAL_ENTITIES[entity][2]
        if result.get("currency", worker["currency"]) != worker["currency"] and not changes.get(
            "cost_rate"
        ):
            raise _bad("cost_rate", f"the currency becomes {result['currency']}: give cost_rate")
        return result

    def _apply(self, worker: dict[str, Any], data: EventInput) -> tuple[date, dict[str, str]]:
        status, kind = worker["status"], data.kind
        if kind is WorkerEventKind.HIRE and status != "pre-hire":
            raise WorkdayError(409, f"worker {worker['id']} is {status}, not a pre-hire")
        if kind is not WorkerEventKind.HIRE and status != "active":
            raise WorkdayError(409, f"worker {worker['id']} is {status}, not active")
        if kind is WorkerEventKind.TRANSFER and not data.changes:
            raise WorkdayError(400, "a transfer needs changes", [("no changes given", "changes")])
        if kind is WorkerEventKind.TERMINATION and data.changes:
            raise WorkdayError(400, "a termination takes no changes", [("not allowed", "changes")])
        changes = self._validated(worker, data.changes)
        update: dict[str, Any] = {k: v or None for k, v in changes.items()}
        if kind is WorkerEventKind.HIRE:
            effective = data.effective_date or date.fromisoformat(worker["hire_date"])
            update |= {"status": "active", "hire_date": effective.isoformat()}
        elif kind is WorkerEventKind.TERMINATION:
            effective = data.effective_date or datetime.now(UTC).date()
            update |= {"status": "terminated", "termination_date": effective.isoformat()}
        else:
            effective = data.effective_date or datetime.now(UTC).date()
        self.store.update(WORKER, worker["wid"], update)
        return effective, changes

    def record(self, data: EventInput) -> EventRecord:
        """Apply the event to the worker, record it, and start delivering it."""
        with self.lock:
            worker = find_worker(self.store, data.worker_id)
            if worker is None:
                raise worker_not_found(data.worker_id)
            effective, changes = self._apply(worker, data)
            event = WorkerEvent(
                event_id=f"EVT-{self.store.next_number(EVENT, start=0):06d}",
                kind=data.kind,
                worker_id=worker["id"],
                effective_date=effective,
                occurred_at=datetime.now(UTC),
                sequence=self.store.next_number(f"{EVENT}:{worker['id']}", start=0),
                changes=changes,
            )
            state: DeliveryState = "pending" if self.deliverer.url else "not_configured"
            record = EventRecord(**event.model_dump(), delivery=Delivery(state=state))
            self.store.insert(EVENT, event.event_id, record.model_dump(mode="json"))
        self.deliverer.send(event.event_id, event.model_dump(mode="json"))
        return record

    def get(self, event_id: str) -> EventRecord:
        record = self.store.get(EVENT, event_id)
        if record is None:
            raise WorkdayError(404, f"event {event_id} not found")
        return EventRecord.model_validate(record)

    def all(self, worker_id: str | None = None) -> list[EventRecord]:
        records = [EventRecord.model_validate(r) for r in self.store.all(EVENT)]
        return [r for r in records if worker_id is None or r.worker_id == worker_id]

    def redeliver(self, event_id: str) -> EventRecord:
        """Send the event again, as a duplicate notification would."""
        if self.deliverer.url is None:
            raise WorkdayError(409, "no webhook is configured: events are only recorded")
        record = self.get(event_id)
        event = WorkerEvent.model_validate(record.model_dump())
        self.deliverer.send(event_id, event.model_dump(mode="json"))
        return record

    def delivered(self, event_id: str, state: str, status: int | None, error: str | None) -> None:
        """Note one delivery attempt's outcome (the Deliverer's callback)."""
        with self.lock:
            note_attempt(self.store, EVENT, event_id, state, status, error)


def events_router(book: EventBook) -> APIRouter:
    """The sandbox's admin routes for worker events."""
    router = APIRouter(prefix=f"{ADMIN_PREFIX}/events", tags=["sandbox admin"])

    @router.post("", status_code=201)
    async def record_event(data: EventInput) -> EventRecord:
        """Apply a hire (pre-hire becomes active), transfer (changes) or termination
        (inactive from the effective date) and deliver the event to the webhook."""
        return book.record(data)

    @router.get("")
    def list_events(worker_id: str | None = None) -> EventList:
        """Recorded events, oldest first, with their delivery state."""
        return EventList(data=book.all(worker_id))

    @router.get("/{event_id}")
    def get_event(event_id: str) -> EventRecord:
        """One recorded event with its delivery state."""
        return book.get(event_id)

    @router.post("/{event_id}/redeliver", status_code=202)
    async def redeliver_event(event_id: str) -> EventRecord:
        """Send a recorded event to the webhook again, with the same event id."""
        return book.redeliver(event_id)

    return router
