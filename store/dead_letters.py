"""Dead letters: runs that failed for good, kept with their input until retried or discarded.

With payload encryption on, the input is stored sealed by the same codec and key id as the
payloads in Temporal's history (cost rates, salaries and bank details stay out of the store in
clear) and opened with whichever listed key its id names, so key rotation works here too.
"""

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import DecodeError
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio.api.common.v1 import Payload

from models.audit import AuditEntry
from models.dead_letter import (
    CLAIM_LAPSES_AFTER,
    DeadLetter,
    DeadLetterState,
    FailedRun,
    retryable,
)
from security.codec import KEY_ID, CodecError, EncryptionCodec
from store.audit import add_audit
from store.db import DeadLetterRecord

SEALED = "psflow-encrypted"
"""The one key of a stored input that is sealed: base64 of the encrypted Payload."""


class NotOpen(Exception):
    """The dead letter is missing or already closed; the message says which."""


class SealedInput(Exception):
    """A stored input that cannot be opened with the keys at hand; the message says why."""


def record_dead_letter(
    engine: Engine, failed: FailedRun, codec: EncryptionCodec | None = None
) -> None:
    """Open a dead letter for a failed run. Idempotent: one per run, however often it is sent."""
    values = failed.model_dump() | {"input": _seal(failed.input, codec)}
    with Session(engine) as session:
        session.add(DeadLetterRecord(**values, state=DeadLetterState.OPEN.value))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()


def list_dead_letters(
    engine: Engine,
    *,
    state: DeadLetterState | None = None,
    since: datetime | None = None,
    codec: EncryptionCodec | None = None,
) -> list[DeadLetter]:
    """Dead letters, oldest first; `state` and `since` (failed at or after) narrow them.

    Without `codec`, a sealed input is left unread: `input` is {} and `input_key_id` set.
    """
    with Session(engine) as session:
        query = select(DeadLetterRecord).order_by(col(DeadLetterRecord.id))
        if state is not None:
            query = query.where(DeadLetterRecord.state == state.value)
        if since is not None:
            query = query.where(col(DeadLetterRecord.failed_at) >= since)
        return [_model(r, codec, open_input=codec is not None) for r in session.exec(query)]


def get_dead_letter(
    engine: Engine, dead_letter_id: int, codec: EncryptionCodec | None = None
) -> DeadLetter | None:
    """One dead letter with its input in clear; SealedInput if `codec` cannot open it."""
    with Session(engine) as session:
        record = session.get(DeadLetterRecord, dead_letter_id)
        return _model(record, codec, open_input=True) if record else None


def claim_for_retry(engine: Engine, dead_letter_id: int, user: str) -> DeadLetter:
    """Mark an open letter retried by `user` before its run starts, so that two retries at
    once start one run. `mark_retried` then records the run; `reopen` undoes a claim whose
    start did not happen."""
    return _close(engine, dead_letter_id, DeadLetterState.RETRIED, user)


def reopen(engine: Engine, dead_letter_id: int) -> None:
    """Open a claimed letter again: its retry started nothing."""
    with Session(engine) as session:
        record = session.get(DeadLetterRecord, dead_letter_id)
        if record is None or record.retry_run_id is not None:
            return
        if record.state == DeadLetterState.RETRIED.value:
            record.state = DeadLetterState.OPEN.value
            record.closed_by = record.closed_at = None
            session.add(record)
            session.commit()


def mark_retried(engine: Engine, dead_letter_id: int, user: str, run_id: str) -> DeadLetter:
    """Record the run a retry by `user` started, and audit it, in one transaction. The letter
    is open, or claimed by this retry (`claim_for_retry`)."""
    with Session(engine) as session:
        record = _locked(session, dead_letter_id)
        claimed = record.state == DeadLetterState.RETRIED.value and record.retry_run_id is None
        if not claimed:
            _require_open(record)
            record.state, record.closed_at = DeadLetterState.RETRIED.value, datetime.now(UTC)
        record.closed_by, record.retry_run_id = user, run_id
        detail = f"dead letter {dead_letter_id} retried: new run {run_id}"
        return _commit(session, record, "retried", detail)


def mark_discarded(engine: Engine, dead_letter_id: int, user: str, reason: str) -> DeadLetter:
    """Close an open dead letter as discarded by `user`, for `reason`, and audit it."""
    return _close(engine, dead_letter_id, DeadLetterState.DISCARDED, user, reason=reason)


def _close(
    engine: Engine,
    dead_letter_id: int,
    state: DeadLetterState,
    user: str,
    *,
    reason: str | None = None,
) -> DeadLetter:
    with Session(engine) as session:
        record = _locked(session, dead_letter_id)
        _require_retryable(record)  # a lapsed claim counts as open again
        record.state, record.closed_by, record.closed_at = state.value, user, datetime.now(UTC)
        record.reason = reason
        if state is DeadLetterState.DISCARDED:
            return _commit(session, record, "discarded", f"dead letter {dead_letter_id}: {reason}")
        return _commit(session, record)


def _locked(session: Session, dead_letter_id: int) -> DeadLetterRecord:
    # FOR UPDATE on PostgreSQL: two people closing the same letter take turns. SQLite has no
    # row locks: a write first takes its database's write lock, and the read then sees the
    # other's commit (in WAL mode a plain read would see the letter as it was).
    if session.get_bind().dialect.name == "sqlite":
        same = col(DeadLetterRecord.id) == dead_letter_id
        session.execute(update(DeadLetterRecord).where(same).values(id=DeadLetterRecord.id))
    query = select(DeadLetterRecord).where(DeadLetterRecord.id == dead_letter_id)
    record = session.exec(query.with_for_update()).first()
    if record is None:
        raise NotOpen(f"no dead letter {dead_letter_id}")
    return record


def _require_retryable(record: DeadLetterRecord) -> None:
    if retryable(record.state, record.retry_run_id, record.closed_at):
        return
    if record.state == DeadLetterState.RETRIED.value and record.retry_run_id is None:
        minutes = int(CLAIM_LAPSES_AFTER.total_seconds() // 60)
        raise NotOpen(
            f"dead letter {record.id} is being retried by {record.closed_by} since "
            f"{record.closed_at:%Y-%m-%d %H:%M}; if that retry died before starting a run, "
            f"it may be retried again {minutes} minutes after it began"
        )
    _require_open(record)


def _require_open(record: DeadLetterRecord) -> None:
    if record.state != DeadLetterState.OPEN.value:
        raise NotOpen(f"dead letter {record.id} is already {record.state}")


def _commit(
    session: Session, record: DeadLetterRecord, kind: str | None = None, detail: str = ""
) -> DeadLetter:
    """Store the letter's new state and, with `kind`, its audit entry in the same commit."""
    session.add(record)
    if kind is not None and record.closed_at is not None:
        entry = AuditEntry(
            at=record.closed_at,
            workflow_id=record.workflow_id,
            kind=kind,
            user=record.closed_by,
            detail=detail,
        )
        add_audit(session, entry)
    session.commit()
    session.refresh(record)
    return _model(record, None, open_input=False)


def _seal(input: dict[str, Any], codec: EncryptionCodec | None) -> dict[str, Any]:
    if codec is None:
        return input
    plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(input).encode())
    return {SEALED: base64.b64encode(codec.encrypt(plain).SerializeToString()).decode()}


def _model(
    record: DeadLetterRecord, codec: EncryptionCodec | None, *, open_input: bool
) -> DeadLetter:
    letter = DeadLetter.model_validate(record, from_attributes=True)
    stored = record.input
    if set(stored) != {SEALED}:
        return letter
    try:
        sealed = Payload.FromString(base64.b64decode(stored[SEALED], validate=True))
    except (binascii.Error, ValueError, DecodeError):
        raise SealedInput(f"dead letter {record.id}: its stored input is damaged") from None
    key_id = sealed.metadata.get(KEY_ID, b"").decode(errors="replace")
    letter = letter.model_copy(update={"input": {}, "input_key_id": key_id})
    if not open_input:
        return letter
    if codec is None:
        raise SealedInput(
            f'dead letter {record.id}: its input is encrypted under key id "{key_id}" and '
            "[codec] keys lists none: configure the keys the worker uses"
        )
    try:
        plain = codec.decrypt(sealed)
    except CodecError as exc:
        raise SealedInput(f"dead letter {record.id}: its input: {exc}") from None
    return letter.model_copy(update={"input": json.loads(plain.data)})
