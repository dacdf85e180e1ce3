"""Which HCM worker events have been applied."""

from datetime import UTC, datetime

from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models.hcm import WorkerEvent
from store.db import WorkerEventRecord


def staleness(engine: Engine, event: WorkerEvent) -> str | None:
    """Why the event must not be applied (a duplicate, or older than one applied), or None."""
    with Session(engine) as session:
        same = session.exec(
            select(WorkerEventRecord).where(WorkerEventRecord.event_id == event.event_id)
        ).first()
        if same is not None:
            return f"event {event.event_id} was already applied at {same.applied_at:%Y-%m-%d %H:%M}"
        latest = session.exec(
            select(func.max(WorkerEventRecord.sequence)).where(
                WorkerEventRecord.worker_id == event.worker_id
            )
        ).first()
    if latest is not None and latest >= event.sequence:
        return (
            f"event {event.event_id} (sequence {event.sequence}) is older than one already "
            f"applied for worker {event.worker_id} (sequence {latest})"
        )
    return None


def mark_applied(engine: Engine, event: WorkerEvent) -> None:
    """Idempotent: marking the same event twice keeps one row."""
    with Session(engine) as session:
        session.add(
            WorkerEventRecord(
                event_id=event.event_id,
                worker_id=event.worker_id,
                sequence=event.sequence,
                kind=event.kind.value,
                applied_at=datetime.now(UTC),
            )
        )
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
