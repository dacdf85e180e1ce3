"""What each event starts or signals, by business key, and the answer to give its sender.

Starts go through the application layer the CLI uses too (`application.runs.start`,
`start_for_event`, the change order check), so an event and a person typing `psflow start` get
the same workflow id, the same id-conflict policy (USE_EXISTING: a duplicate finds the running
workflow) and the same checks.
Signals go to the running workflow by id; the workflow takes each event (or entry) once.
"""

import asyncio
import logging
import re
from collections.abc import Awaitable
from typing import TypeVar

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from application.change_orders import checked_input
from application.errors import AppError
from application.runs import AlreadyRan, input_for, kind_named, start, start_for_event
from application.temporal import connect, require_search_attributes
from config import Settings
from connectors.errors import ConnectorError
from ingress.events import Answer, CrmEvent, PsaEvent
from models.billing import time_to_bill_id
from models.hcm import WorkerEvent
from models.hire_to_staff import check_worker_id
from models.opportunity_to_project import DEAL_CHANGED_SIGNAL, DealChange
from models.opportunity_to_project import workflow_id as o2p_workflow_id
from models.time_to_bill import TIME_APPROVED_SIGNAL, TimeApproved

log = logging.getLogger("psflow.ingress")
T = TypeVar("T")
# Longer than this, the sender hears 503 and retries; a start that lands meanwhile is found
# by the retry (USE_EXISTING), so nothing is started twice.
TEMPORAL_TIMEOUT_SECONDS = 15.0
EVENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")


class Refused(Exception):
    """The event cannot be taken now: 422 (it never will be) or 503 (try again later)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _transient(exc: BaseException) -> bool:
    """Did a system's outage (not the event's content) cause this AppError?

    The application layer's checks raise `AppError(...) from None`: the connector error stays
    as context."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectorError) and seen.retryable:
            return True
        seen = seen.__context__
    return False


async def _signal_if_running(client: Client, workflow_id: str, name: str, arg: BaseModel) -> bool:
    """Signal the workflow's running run; False when none is running (never was, or ended)."""
    try:
        await client.get_workflow_handle(workflow_id).signal(name, arg)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:  # also Temporal's answer for a closed run
            return False
        raise
    return True


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
                except AppError as exc:
                    raise Refused(503, str(exc)) from None
                self._client = client
            return self._client

    async def call(self, action: Awaitable[T]) -> T:
        """Await a Temporal call: a failure or no answer in time is 503, except AlreadyRan."""
        try:
            return await asyncio.wait_for(action, TEMPORAL_TIMEOUT_SECONDS)
        except AlreadyRan:
            raise
        except (AppError, RPCError) as exc:
            raise Refused(503, f"Temporal did not take the event: {exc}") from None
        except TimeoutError:
            raise Refused(503, "Temporal did not answer in time: send the event again") from None


class Dispatcher:
    """Turns each system's events into workflow starts and signals."""

    def __init__(self, settings: Settings, temporal: Temporal) -> None:
        self.settings = settings
        self.temporal = temporal

    async def _start(
        self, event_id: str, name: str, key: str, user: str, arguments: BaseModel | None = None
    ) -> Answer:
        kind = kind_named(name)
        try:
            arguments = arguments or input_for(kind, key, user)
        except AppError as exc:
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

    async def _signal(
        self, event_id: str, workflow_id: str, name: str, arg: BaseModel, what: str, idle: str
    ) -> Answer:
        """Signal `name` to the running workflow; action "none" with `idle` if none runs."""
        client = await self.temporal.client()
        if await self.temporal.call(_signal_if_running(client, workflow_id, name, arg)):
            return Answer(
                event_id=event_id,
                action="signalled",
                workflow_id=workflow_id,
                detail=f"{what}: signalled {name} to the running {workflow_id}",
            )
        return Answer(event_id=event_id, action="none", workflow_id=workflow_id, detail=idle)

    async def crm(self, event: CrmEvent) -> Answer:
        """Closed won starts opportunity-to-project; an amount change signals its run."""
        if event.type == "opportunity.closed_won":
            return await self._start(
                event.event_id, "opportunity-to-project", event.opportunity_id, "crm-event"
            )
        assert event.amount is not None and event.stage is not None
        change = DealChange(
            event_id=event.event_id,
            amount=event.amount,
            currency=event.currency,
            stage=event.stage,
            previous_amount=event.previous_amount,
        )
        return await self._signal(
            event.event_id,
            o2p_workflow_id(event.opportunity_id),
            DEAL_CHANGED_SIGNAL,
            change,
            f"opportunity {event.opportunity_id} {change.summary()}",
            _amount_change(event),
        )

    async def hcm(self, event: WorkerEvent) -> Answer:
        """A hire starts hire-to-staff; a transfer or termination its own worker-change."""
        # Both become part of a workflow id: checked here, so a malformed one is 422.
        try:
            check_worker_id(event.worker_id)
        except ValueError as exc:
            raise Refused(422, f"worker_id: {exc}") from None
        if not EVENT_ID.match(event.event_id):
            raise Refused(
                422, f"event_id: {event.event_id!r} is not an event id (letters, digits, -_.:)"
            )
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
        an approved time entry signals its period's running time-to-bill, if any."""
        if event.type == "change_order.submitted":
            assert event.change_order_id is not None
            return await self._change_order(event.event_id, event.change_order_id)
        assert event.time_entry_id is not None and event.period is not None
        entry, period = event.time_entry_id, event.period
        approved = TimeApproved(
            event_id=event.event_id,
            time_entry_id=entry,
            worker_id=event.worker_id,
            hours=event.hours,
            approver=event.approver,
        )
        return await self._signal(
            event.event_id,
            time_to_bill_id(event.project_id, period),
            TIME_APPROVED_SIGNAL,
            approved,
            f"time entry {entry} on {event.project_id} is approved for {period}",
            f"time entry {entry} on {event.project_id} is approved for {period}: no "
            f"time-to-bill run of the period is running, so nothing starts; the next one "
            f"(time-to-bill/{event.project_id}/{period}, or month-end/{period}) bills it",
        )

    async def _change_order(self, event_id: str, change_order_id: str) -> Answer:
        try:
            key, arguments = await checked_input(self.settings, change_order_id, None)
        except AppError as exc:
            raise Refused(503 if _transient(exc) else 422, str(exc)) from None
        return await self._start(event_id, "change-order", key, "psa-event", arguments)


def _amount_change(event: CrmEvent) -> str:
    """What an amount change means for a deal with no running workflow, in the words a sales
    or PSA user needs."""
    previous = "" if event.previous_amount is None else f"{event.previous_amount} -> "
    change = f"amount {previous}{event.amount} {event.currency or ''}".strip()
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
        f"{name} {change}: no opportunity-to-project run is running and it has no project "
        "yet: the amount is read when a run reads the deal"
    )


def log_answer(system: str, answer: Answer) -> None:
    log.info("%s event %s: %s %s", system, answer.event_id, answer.action, answer.workflow_id or "")
