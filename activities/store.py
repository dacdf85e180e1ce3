"""Activities that write psflow's own store (the only writers of it)."""

from sqlalchemy import Engine
from temporalio import activity

from models.audit import AuditEntry, RecordLink
from models.dead_letter import FailedRun
from models.hcm import WorkerEvent
from security.codec import EncryptionCodec
from store import dead_letters
from store.audit import add_link, append_audit
from store.events import mark_applied, staleness


class StoreActivities:
    def __init__(self, engine: Engine, codec: EncryptionCodec | None = None) -> None:
        """`codec` seals dead letters' inputs when payload encryption is on."""
        self._engine = engine
        self._codec = codec

    @activity.defn(name="store.record_audit")
    def record_audit(self, entry: AuditEntry) -> None:
        """Append who did what, when, to which workflow (once, however often retried)."""
        append_audit(self._engine, entry)

    @activity.defn(name="store.record_links")
    def record_links(self, links: list[RecordLink]) -> None:
        """Remember which records a business key produced in each system (idempotent)."""
        for link in links:
            add_link(self._engine, link)

    @activity.defn(name="store.event_staleness")
    def event_staleness(self, event: WorkerEvent) -> str | None:
        """Why an HCM event must not be applied (duplicate or out of order), or None."""
        return staleness(self._engine, event)

    @activity.defn(name="store.mark_event_applied")
    def mark_event_applied(self, event: WorkerEvent) -> None:
        """Remember that the event has had its effect."""
        mark_applied(self._engine, event)

    @activity.defn(name="store.record_dead_letter")
    def record_dead_letter(self, failed: FailedRun) -> None:
        """Keep a run that failed for good, with its input, for `psflow dlq` (idempotent)."""
        dead_letters.record_dead_letter(self._engine, failed, self._codec)
