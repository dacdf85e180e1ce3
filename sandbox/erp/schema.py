"""What every writable record type declares, and the checks all of them share."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.erp import seed as data
from sandbox.erp.errors import NetSuiteError
from sandbox.erp.fields import FieldParser
from sandbox.records import RecordStore

# Read-only fields a client may echo back; they are ignored.
IGNORED_FIELDS = frozenset({"id", "links", "externalId", "dateCreated", "lastModifiedDate"})

# (store, record with the body applied, the body) -> None; completes defaults, checks rules
Completer = Callable[[RecordStore, dict[str, Any], dict[str, Any]], None]


@dataclass(frozen=True)
class RecordType:
    """How one writable record type is checked, completed, numbered and protected."""

    name: str
    fields: Mapping[str, FieldParser]
    mandatory: Mapping[str, str]
    """field -> the label NetSuite names when it is missing"""
    complete: Completer
    sequence: str = data.ENTITY_SEQUENCE
    """Customers, projects and employees share NetSuite's entity id space."""
    first_id: int = data.ENTITY_START
    dependents: tuple[tuple[str, str], ...] = field(default=())
    """(record type, reference field): records that, pointing here, block a delete."""

    @property
    def names(self) -> frozenset[str]:
        """Every property a body may name, read-only ones included."""
        return frozenset({*self.fields, *IGNORED_FIELDS})

    def build(
        self, store: RecordStore, current: dict[str, Any] | None, body: dict[str, Any]
    ) -> dict[str, Any]:
        """The record as it would be saved, validated as NetSuite would."""
        record = apply_body(store, self, current or {}, body)
        self.complete(store, record, body)
        return record

    def require(self, record: dict[str, Any]) -> None:
        """400 USER_ERROR naming the first missing mandatory field."""
        missing = [(f, label) for f, label in self.mandatory.items() if not record.get(f)]
        if missing:
            labels = ", ".join(label for _, label in missing)
            detail = f"Error while accessing a resource. Please enter value(s) for: {labels}."
            raise NetSuiteError(400, detail, "USER_ERROR", missing[0][0])

    def dependent_of(self, store: RecordStore, id: str) -> bool:
        """Whether any other record still points at record `id`."""
        return any(
            (record.get(ref) or {}).get("id") == id
            for kind, ref in self.dependents
            for record in store.all(kind)
        )


def apply_body(
    store: RecordStore, record_type: RecordType, current: dict[str, Any], body: dict[str, Any]
) -> dict[str, Any]:
    """The record with the body's fields set (null clears a field)."""
    record = dict(current)
    for name, value in body.items():
        if name in IGNORED_FIELDS:
            continue
        if name not in record_type.fields:
            raise NetSuiteError(
                400, f"Error while accessing a resource. Invalid field name: {name}.", path=name
            )
        if value is None:
            record.pop(name, None)
        else:
            record[name] = record_type.fields[name](store, name, value)
    return record
