"""What each event starts, by business key, and the answer to give its sender.

Starts go through the CLI's own actions (`cli.actions.start`, `start_for_event`, the change
order check), so an event and a person typing `psflow start` get the same workflow id, the same
id-conflict policy (USE_EXISTING: a duplicate finds the running workflow) and the same checks.
"""

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError

from cli.actions import AlreadyRan, input_for, kind_named, start, start_for_event
from cli.change_orders import checked_input
from cli.client import connect, require_search_attributes
from cli.output import CliError
from config import Settings
from connectors.errors import ConnectorError
from ingress.events import Answer, CrmEvent, PsaEvent
from models.hcm import WorkerEvent, WorkerEventKind
from models.opportunity_to_project import workflow_id as o2p_workflow_id

log = logging.getLogger("psflow.ingress")
T = TypeVar("T")
# Longer than this, the sender hears 503 and retries; a start that lands meanwhile is found
# by the retry (USE_EXISTING), so nothing is started twice.
TEMPORAL_TIMEOUT_SECONDS = 15.0


class Refused(Exception):
    """The event cannot be taken now: 422 (it never will be) or 503 (try again later)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _transient(exc: BaseException) -> bool:
    """Did a system's outage (not the event's content) cause this CliError?

    The CLI's checks raise `CliError(...) from None`: the connector error stays as context."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectorError) and seen.retryable:
            return True
        seen = seen.__context__
    return False


class Temporal:
    """One client for the process, connected on first use, so ingress starts (and answers
    503) while Temporal is down."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self.settings = settings
        self._client = client
        self._connecting = asyncio.Lock()

    async def client(self) -> Client:
        async with self._connecting:
            if self._client is None:
                try:
                    client = await connect(self.settings)
                    await require_search_attributes(client, self.settings)
                except CliError as exc:
                    raise Refused(503, str(exc)) from None
                self._client = client
            return self._client

    async def call(self, action: Awaitable[T]) -> T:
        """Await a Temporal call: a failure or no answer in time is 503, except AlreadyRan."""
        try:
            return await asyncio.wait_for(action, TEMPORAL_TIMEOUT_SECONDS)
        except AlreadyRan:
            raise
        except (CliError, RPCError) as exc:
            raise Refused(503, f"Temporal did not take the event: {exc}") from None
        except TimeoutError:
            raise Refused(503, "Temporal did not answer in time: send the event again") from None


class Dispatcher:
    """Turns each system's events into workflow starts."""

    def __init__(self, settings: Settings, temporal: Temporal) -> None:
        self.settings = settings
        self.temporal = temporal

    async def _start(
        self, event_id: str, name: str, key: str, user: str, arguments: BaseModel | None = None
    ) -> Answer:
        kind = kind_named(name)
        try:
            arguments = arguments or input_for(kind, key, user)
        except CliError as exc:
            raise Refused(422, f"{name} cannot start for {key!r}: {exc}") from None
        client = await self.temporal.client()
        try:
            handle, _ = await self.temporal.call(
                start(client, self.settings, kind, key, user, arguments)
            )
        except AlreadyRan as exc:
            return Answer(
                event_id=event_id,
                action="already ran",
                workflow_id=kind.workflow_id(key),
                detail=str(exc),
            )
        return Answer(
            event_id=event_id,
            action="accepted",
            workflow_id=handle.id,
            run_id=handle.result_run_id,
            detail=f"{name} for {key} is in Temporal",
        )

    async def crm(self, event: CrmEvent) -> Answer:
        """Closed won starts opportunity-to-project; an amount change starts nothing."""
        if event.type == "opportunity.closed_won":
            return await self._start(
                event.event_id, "opportunity-to-project", event.opportunity_id, "crm-event"
            )
        return Answer(
            event_id=event.event_id,
            action="none",
            workflow_id=o2p_workflow_id(event.opportunity_id),
            detail=_amount_change(event),
        )

    async def hcm(self, event: WorkerEvent) -> Answer:
        """A hire starts hire-to-staff; a transfer or termination its own worker-change."""
        if event.kind == WorkerEventKind.HIRE:
            # Checked here so a malformed worker id is 422, not an outage.
            try:
                input_for(kind_named("hire-to-staff"), event.worker_id, "hcm-event")
            except CliError as exc:
                raise Refused(422, f"hire-to-staff cannot start: {exc}") from None
        client = await self.temporal.client()
        try:
            handle = await self.temporal.call(
                start_for_event(client, self.settings, event, "hcm-event")
            )
        except AlreadyRan as exc:
            return Answer(
                event_id=event.event_id,
                action="already ran",
                workflow_id=kind_named("hire-to-staff").workflow_id(event.worker_id),
                detail=str(exc),
            )
        return Answer(
            event_id=event.event_id,
            action="accepted",
            workflow_id=handle.id,
            run_id=handle.result_run_id,
            detail=f"{event.kind} of worker {event.worker_id} is in Temporal",
        )

    async def psa(self, event: PsaEvent) -> Answer:
        """A submitted change order starts change-order once the live project accepts it;
        an approved time entry starts nothing until its period is billed."""
        if event.type == "change_order.submitted":
            assert event.change_order_id is not None
            return await self._change_order(event.event_id, event.change_order_id)
        return Answer(
            event_id=event.event_id,
            action="none",
            detail=(
                f"time entry {event.time_entry_id} on {event.project_id} is approved for "
                f"{event.period}: nothing starts until the period is billed by "
                f"time-to-bill/{event.project_id}/{event.period} (or month-end/{event.period})"
            ),
        )

    async def _change_order(self, event_id: str, change_order_id: str) -> Answer:
        try:
            key, arguments = await checked_input(self.settings, change_order_id, None)
        except CliError as exc:
            raise Refused(503 if _transient(exc) else 422, str(exc)) from None
        return await self._start(event_id, "change-order", key, "psa-event", arguments)


def _amount_change(event: CrmEvent) -> str:
    """What an amount change means for the deal, in the words a sales or PSA user needs."""
    change = f"amount {event.previous_amount} -> {event.amount} {event.currency or ''}".strip()
    name = f"opportunity {event.opportunity_id}"
    if event.stage != "Closed Won":
        return f"{name} {change}: it is {event.stage}; the amount is read when it closes won"
    if event.psa_project_id or event.erp_project_id:
        project = event.psa_project_id or event.erp_project_id
        return (
            f"{name} {change}: project {project} keeps its budget; a live project's budget "
            "changes only by a change order (`psflow start change-order`), which also sets "
            "the CRM amount"
        )
    return (
        f"{name} {change}: not provisioned yet; opportunity-to-project uses the amount it "
        "reads when it reads the deal (a run past that step keeps the amount it read: raise a "
        "change order for the difference once the project is live)"
    )


def log_answer(system: str, answer: Answer) -> None:
    log.info("%s event %s: %s %s", system, answer.event_id, answer.action, answer.workflow_id or "")
