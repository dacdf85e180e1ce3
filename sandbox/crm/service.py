"""The record operations behind the CRM sandbox's routes."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sandbox.crm.errors import SalesforceError, not_found
from sandbox.crm.objects import (
    SOBJECTS,
    check_value,
    derived,
    normalise_id,
    render,
    schema_for,
    validate_changes,
)
from sandbox.crm.seed import seed
from sandbox.records import RecordStore


@dataclass(frozen=True)
class Write:
    """One record's write in a batch: what the single-record route would do with it."""

    action: Literal["update", "create", "delete"]
    name: str
    record_id: str = ""
    body: dict[str, Any] = field(default_factory=dict)
    refused: SalesforceError | None = None
    """Why the record was refused before any write (no id to update, say)."""


class RolledBack(Exception):
    """A batch with allOrNone undone because one of its writes failed; carries the outcomes."""

    def __init__(self, outcomes: list["str | SalesforceError"]) -> None:
        super().__init__("rolled back")
        self.outcomes = outcomes


class Crm:
    """The record operations behind the routes."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store
        # Routes run in a thread pool: one writer at a time keeps upserts and resets atomic.
        self._writing = threading.Lock()

    def record(self, name: str, raw_id: str) -> dict[str, Any]:
        record = self.store.get(name, normalise_id(schema_for(name), raw_id))
        if record is None:
            raise not_found()
        return record

    def update(self, name: str, raw_id: str, body: dict[str, Any]) -> None:
        """Apply a PATCH body to one record."""
        with self._writing:
            self._update(name, raw_id, body)

    def _update(self, name: str, raw_id: str, body: dict[str, Any]) -> None:
        current = self.record(name, raw_id)
        changes = validate_changes(name, body)
        for column in SOBJECTS[name].external_ids & changes.keys():
            self._claim_external_id(name, current["Id"], column, changes[column])
        self.store.update(name, current["Id"], changes | derived(name, current | changes))

    def _claim_external_id(self, name: str, record_id: str, column: str, value: Any) -> None:
        holder = self.store.id_for_external(name, value) if value is not None else None
        if holder not in (None, record_id):
            raise SalesforceError(
                400,
                "DUPLICATE_VALUE",
                f"duplicate value found: {column} duplicates value on record with id: {holder}",
                [column],
            )
        self.store.set_external_id(name, record_id, value)

    def related(self, name: str, raw_id: str, relationship: str) -> list[dict[str, Any]]:
        child, parent_field = schema_for(name).related[relationship]
        parent = self.record(name, raw_id)
        records = self.store.find(child, **{parent_field: parent["Id"]})
        return [render(child, r) for r in sorted(records, key=lambda r: r["Id"])]

    def by_external_id(self, name: str, column: str, value: str) -> dict[str, Any] | None:
        if column not in schema_for(name).external_ids:
            raise SalesforceError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {column}",
            )
        record_id = self.store.id_for_external(name, value)
        return self.store.get(name, record_id) if record_id else None

    def upsert(self, name: str, column: str, value: str, body: dict[str, Any]) -> tuple[str, bool]:
        """Update the record holding this external id, or create it; (id, created)."""
        if column in body and body[column] != value:
            raise SalesforceError(
                400, "INVALID_FIELD", f"{column} in the body does not match the URL", [column]
            )
        with self._writing:
            existing = self.by_external_id(name, column, value)
            if existing is not None:
                self._update(name, existing["Id"], body)
                return existing["Id"], False
            return self._create(name, body, (column, value)), True

    def _create(
        self, name: str, body: dict[str, Any], external: tuple[str, str] | None = None
    ) -> str:
        """Insert a record; `external` is the (column, value) an upsert's URL names."""
        changes = validate_changes(name, body) | dict([external] if external else [])
        schema = SOBJECTS[name]
        record = {f: None for f in schema.fields} | changes
        for required in schema.required:
            check_value(name, required, schema.fields[required], record[required])
        record["Id"] = normalise_id(schema, f"{schema.prefix}Hs{self.store.next_number(name):010d}")
        column, value = external or (None, None)
        self.store.insert(name, record["Id"], record | derived(name, record), external_id=value)
        for named in schema.external_ids & changes.keys() - {column}:  # set in the body
            self._claim_external_id(name, record["Id"], named, changes[named])
        return str(record["Id"])

    def write_all(self, writes: list[Write], all_or_none: bool) -> list[str | SalesforceError]:
        """Each write in order, each undone alone if it fails: the record's id or its error.
        With `all_or_none`, one failure undoes every write and raises RolledBack(outcomes)."""
        with self._writing, self.store.atomic():
            outcomes = [self._write(w) for w in writes]
            if all_or_none and any(isinstance(o, SalesforceError) for o in outcomes):
                raise RolledBack(outcomes)  # leaving `atomic` by it undoes every write
            return outcomes

    def _write(self, write: Write) -> str | SalesforceError:
        if write.refused is not None:
            return write.refused
        try:
            with self.store.atomic():
                if write.action == "create":
                    return self._create(write.name, write.body)
                current = self.record(write.name, write.record_id)
                if write.action == "update":
                    self._update(write.name, current["Id"], write.body)
                else:
                    self.store.delete(write.name, current["Id"])
                return str(current["Id"])
        except SalesforceError as exc:
            return exc

    def listing(self, name: str, limit: int) -> list[dict[str, Any]]:
        records = sorted(self.store.all(name), key=lambda r: r["Id"])
        return [render(name, r) for r in records[:limit]]

    def replace_opportunities(
        self, doomed: Callable[[str], bool], records: list[dict[str, Any]]
    ) -> int:
        """Remove the opportunities whose id is doomed, insert these; how many were removed."""
        with self._writing:
            removed = [r["Id"] for r in self.store.all("Opportunity") if doomed(r["Id"])]
            for record_id in removed:
                self.store.delete("Opportunity", record_id)
            for record in records:
                self.store.insert("Opportunity", record["Id"], record)
        return len(removed)

    def reset(self) -> None:
        """Back to the seed; tokens already issued stay valid."""
        with self._writing:
            self.store.clear()
            seed(self.store)
