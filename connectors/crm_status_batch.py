"""Invoice statuses written to the CRM together: writes made at about the same time (the
releases of a month-end, twenty at once) wait a moment for each other and go out as one
sObject Collections request of up to 200 opportunities, where each was a PATCH of its own.

A write answers as its own PATCH would: it returns once written, or raises RequestRejected
with Salesforce's words for its record (SystemUnavailable, retryable, for a row lock), or
the connector's typed error of the request when the request as a whole fails, so callers'
retries work as before. Two writes for one opportunity never share a request: the later one
goes in the next, so the last write wins as it would one at a time.
"""

import asyncio
from dataclasses import dataclass, field

from connectors.crm import COLLECTION_LIMIT, CrmConnector
from connectors.errors import RequestRejected, SystemUnavailable
from models.billing import InvoiceStatusUpdate

WINDOW_SECONDS = 0.025
"""How long the first write of a batch waits for others."""
# Salesforce's record-level errors that a later attempt may not meet.
RETRYABLE_CODES = ("UNABLE_TO_LOCK_ROW", "REQUEST_RUNNING_TOO_LONG", "SERVER_UNAVAILABLE")


@dataclass
class _Pending:
    update: InvoiceStatusUpdate
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class InvoiceStatusBatcher:
    """Coalesces concurrent invoice-status writes of one process into collection requests."""

    def __init__(
        self, crm: CrmConnector, window: float = WINDOW_SECONDS, limit: int = COLLECTION_LIMIT
    ) -> None:
        self._crm = crm
        self._window = window
        self._limit = limit
        self._queue: list[_Pending] = []
        self._sender: asyncio.Task[None] | None = None

    async def write(self, update: InvoiceStatusUpdate) -> None:
        """Write the update with whatever others are waiting; as its own PATCH would answer."""
        pending = _Pending(update)
        self._queue.append(pending)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_all())
        await pending.done  # a cancelled write leaves the others to go on

    async def _send_all(self) -> None:
        await asyncio.sleep(self._window)
        while self._queue:
            batch: list[_Pending] = []
            later: list[_Pending] = []
            ids: set[str] = set()
            for pending in self._queue:
                if pending.done.done():
                    continue  # its writer was cancelled
                if len(batch) < self._limit and pending.update.opportunity_id not in ids:
                    batch.append(pending)
                    ids.add(pending.update.opportunity_id)
                else:
                    later.append(pending)
            self._queue = later
            if batch:
                await self._send(batch)

    async def _send(self, batch: list[_Pending]) -> None:
        try:
            said = await self._crm.set_invoice_statuses([p.update for p in batch])
        except Exception as exc:  # the request failed as a whole: each write fails with it
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(exc)
            return
        for pending, refusal in zip(batch, said, strict=True):
            if pending.done.done():
                continue
            if refusal is None:
                pending.done.set_result(None)
            else:
                pending.done.set_exception(self._refused(pending.update, refusal))

    def _refused(self, update: InvoiceStatusUpdate, refusal: str) -> Exception:
        message = f"opportunity {update.opportunity_id}: {refusal}"
        if refusal.startswith(RETRYABLE_CODES):
            return SystemUnavailable(self._crm.system, message)
        return RequestRejected(self._crm.system, message)
