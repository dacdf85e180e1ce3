"""The record operations behind the CRM sandbox's routes."""

import threading
from collections.abc import Callable
from typing import Any

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
            return self._create(name, column, value, body), True

    def _create(self, name: str, column: str, value: str, body: dict[str, Any]) -> str:
        changes = validate_changes(name, body)
        schema = SOBJECTS[name]
        record = {f: None for f in schema.fields} | changes | {column: value}
        for required in schema.required:
            check_value(name, required, schema.fields[required], record[required])
        record["Id"] = normalise_id(schema, f"{schema.prefix}Hs{self.store.next_number(name):010d}")
        self.store.insert(name, record["Id"], record | derived(name, record), external_id=value)
        return str(record["Id"])

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
