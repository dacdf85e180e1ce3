"""Local accounts: people who sign in to psflow without an identity provider.

Passwords are kept as Argon2id hashes (argon2-cffi, its recommended parameters); a hash made
with older parameters is replaced at the next successful sign-in.
"""

import re
import secrets
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from store.db import AccountRecord

HASHER = PasswordHasher()
NAME = re.compile(r"[a-z][a-z0-9._-]{0,63}")
MIN_PASSWORD_CHARS = 12
# Checked when the name is unknown too, so that timing does not tell which names exist.
_DUMMY_HASH = HASHER.hash(secrets.token_hex(16))


class Account(BaseModel):
    name: str
    subject: str
    roles: list[str]
    created_at: datetime


class AccountError(ValueError):
    """An account that cannot be added or changed as asked; the message says why and how."""


def _check(name: str, password: str) -> None:
    if not NAME.fullmatch(name):
        raise AccountError(
            f"user name {name[:40]!r} is not valid: lower-case letters, digits, '.', '_' or "
            "'-', starting with a letter (at most 64), such as dana"
        )
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(
            f"the password is too short: use at least {MIN_PASSWORD_CHARS} characters"
        )


def _model(record: AccountRecord) -> Account:
    return Account(
        name=record.name, subject=record.subject, roles=list(record.roles),
        created_at=record.created_at,
    )  # fmt: skip


def add_account(engine: Engine, name: str, password: str, roles: list[str]) -> Account:
    """A new account; its subject is a random id that stays if the name is ever reused."""
    _check(name, password)
    record = AccountRecord(
        name=name,
        subject=f"local-{secrets.token_hex(8)}",
        password_hash=HASHER.hash(password),
        roles=sorted(set(roles)),
        created_at=datetime.now(UTC),
    )
    with Session(engine) as session:
        session.add(record)
        try:
            session.commit()
        except IntegrityError:
            raise AccountError(
                f"user {name} exists: `psflow users password {name}` sets a new password"
            ) from None
        session.refresh(record)
        return _model(record)


def set_password(engine: Engine, name: str, password: str) -> None:
    _check(name, password)
    with Session(engine) as session:
        record = session.get(AccountRecord, name)
        if record is None:
            raise AccountError(f"no user {name}: `psflow users add {name}` adds one")
        record.password_hash = HASHER.hash(password)
        session.add(record)
        session.commit()


def remove_account(engine: Engine, name: str) -> None:
    with Session(engine) as session:
        record = session.get(AccountRecord, name)
        if record is None:
            raise AccountError(f"no user {name}: `psflow users list` shows them")
        session.delete(record)
        session.commit()


def list_accounts(engine: Engine) -> list[Account]:
    with Session(engine) as session:
        records = session.exec(select(AccountRecord).order_by(col(AccountRecord.name)))
        return [_model(r) for r in records]


def get_account(engine: Engine, name: str) -> Account | None:
    with Session(engine) as session:
        record = session.get(AccountRecord, name)
        return _model(record) if record else None


def check_password(engine: Engine, name: str, password: str) -> Account | None:
    """The account if `password` is its password, else None (the same either way for a name
    that does not exist)."""
    with Session(engine) as session:
        record = session.get(AccountRecord, name)
        try:
            HASHER.verify(record.password_hash if record else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if record is None:
            return None
        if HASHER.check_needs_rehash(record.password_hash):
            record.password_hash = HASHER.hash(password)
            session.add(record)
            session.commit()
            session.refresh(record)
        return _model(record)
