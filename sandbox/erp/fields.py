"""Field values as NetSuite checks them: each parser returns the value to store or raises."""

from collections.abc import Callable
from datetime import date
from math import inf
from typing import Any

from sandbox.erp import seed as data
from sandbox.erp.errors import invalid
from sandbox.erp.protocol import EXTERNAL_ID
from sandbox.records import RecordStore

FieldParser = Callable[[RecordStore, str, Any], Any]


def text(store: RecordStore, field: str, value: Any) -> str:
    """Free text, trimmed."""
    if not isinstance(value, str):
        raise invalid(field, value)
    return value.strip()


def email(store: RecordStore, field: str, value: Any) -> str:
    """An email address: one @ with something on both sides."""
    address = text(store, field, value)
    local, at, domain = address.partition("@")
    if not (local and at and domain) or "@" in domain or " " in address:
        raise invalid(field, value, "Enter a valid email address.")
    return address


def boolean(store: RecordStore, field: str, value: Any) -> bool:
    """A checkbox: JSON true or false only."""
    if not isinstance(value, bool):
        raise invalid(field, value)
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not -inf < value < inf:
        return None
    return float(value)


def amount(store: RecordStore, field: str, value: Any) -> float:
    """A currency or quantity field that may be zero."""
    number = _number(value)
    if number is None or number < 0:
        raise invalid(field, value, "Provide a non-negative number.")
    return number


def positive_amount(store: RecordStore, field: str, value: Any) -> float:
    """A currency or quantity field that must be above zero."""
    number = _number(value)
    if number is None or number <= 0:
        raise invalid(field, value, "Provide a number greater than zero.")
    return number


def iso_date(store: RecordStore, field: str, value: Any) -> str:
    """A date as REST web services write it: YYYY-MM-DD."""
    try:
        if isinstance(value, str) and len(value) == 10:
            return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    raise invalid(field, value, "Provide a date as YYYY-MM-DD.")


def display_name(record: dict[str, Any]) -> str:
    """The refName other records show for this one."""
    return str(
        record.get("name") or record.get("companyName") or record.get("entityId") or record["id"]
    )


class Reference:
    """A parser for {"id": ...} (or {"externalId": ...}) pointing at a record of `kind`."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __call__(self, store: RecordStore, field: str, value: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            raise invalid(field, value)
        id = value.get("id")
        if id is None and isinstance(value.get("externalId"), str):
            id = store.id_for_external(self.kind, value["externalId"])
        target = store.get(self.kind, str(id)) if isinstance(id, str | int) else None
        if target is None:
            raise invalid(field, value.get("id", value.get("externalId")))
        return data.ref(str(id), display_name(target))


class Select:
    """A parser for {"id": ...} naming one of a fixed list of options."""

    def __init__(self, options: dict[str, str]) -> None:
        self.options = options

    def __call__(self, store: RecordStore, field: str, value: Any) -> dict[str, str]:
        id = value.get("id") if isinstance(value, dict) else None
        if str(id) not in self.options:
            raise invalid(field, id)
        return data.ref(str(id), self.options[str(id)])


def external_id(value: Any, field: str = "externalId") -> str:
    """A valid external id, or 400 naming `field`."""
    if not isinstance(value, str) or not EXTERNAL_ID.fullmatch(value):
        raise invalid(field, value, "An external ID may hold letters, digits, _ and - only.")
    return value
