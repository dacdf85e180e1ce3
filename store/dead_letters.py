"""Dead letters: runs that failed for good, kept with their input until retried or discarded."""

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.dead_letter import DeadLetter, DeadLetterState, FailedRun
from store.db import DeadLetterRecord


def record_dead_letter(engine: Engine, failed: FailedRun) -> None:
    """Open a dead letter for a failed run. Idempotent: one per run, however often it is sent."""
    with Session(engine) as session:
        session.add(DeadLetterRecord(**failed.model_dump(), state=DeadLetterState.OPEN.value))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()


def list_dead_letters(
    engine: Engine, *, state: DeadLetterState | None = None, since: datetime | None = None
) -> list[DeadLetter]:
    """Dead letters, oldest first; `state` and `since` (failed at or after) narrow them."""
    with Session(engine) as session:
        query = select(DeadLetterRecord).order_by(col(DeadLetterRecord.id))
        if state is not None:
            query = query.where(DeadLetterRecord.state == state.value)
        if since is not None:
            query = query.where(col(DeadLetterRecord.failed_at) >= since)
        return [_model(r) for r in session.exec(query)]


def get_dead_letter(engine: Engine, dead_letter_id: int) -> DeadLetter | None:
    with Session(engine) as session:
        record = session.get(DeadLetterRecord, dead_letter_id)
        return _model(record) if record else None


def mark_retried(engine: Engine, dead_letter_id: int, user: str, run_id: str) -> DeadLetter:
    """Close an open dead letter as retried by `user` with the run the retry started."""
    return _close(engine, dead_letter_id, DeadLetterState.RETRIED, user, retry_run_id=run_id)


def mark_discarded(engine: Engine, dead_letter_id: int, user: str, reason: str) -> DeadLetter:
    """Close an open dead letter as discarded by `user`, for `reason`."""
    return _close(engine, dead_letter_id, DeadLetterState.DISCARDED, user, reason=reason)


class NotOpen(Exception):
    """The dead letter is missing or already closed; the message says which."""


def _close(
    engine: Engine,
    dead_letter_id: int,
    state: DeadLetterState,
    user: str,
    *,
    reason: str | None = None,
    retry_run_id: str | None = None,
) -> DeadLetter:
    with Session(engine) as session:
        # FOR UPDATE on PostgreSQL: two people closing the same letter take turns.
        record = session.exec(
            select(DeadLetterRecord).where(DeadLetterRecord.id == dead_letter_id).with_for_update()
        ).first()
        if record is None:
            raise NotOpen(f"no dead letter {dead_letter_id}")
        if record.state != DeadLetterState.OPEN.value:
            raise NotOpen(f"dead letter {dead_letter_id} is already {record.state}")
        record.state, record.closed_by, record.closed_at = state.value, user, datetime.now(UTC)
        record.reason, record.retry_run_id = reason, retry_run_id
        session.add(record)
        session.commit()
        session.refresh(record)
        return _model(record)


def _model(record: DeadLetterRecord) -> DeadLetter:
    return DeadLetter.model_validate(record, from_attributes=True)
