"""The demo's unattended chapter: the CRM announces a won deal to ingress, then the report."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from cli.output import CliError, console
from cli.render import status_view
from cli.report import build, render
from models.opportunity_to_project import workflow_id
from models.status import RunState
from sandbox.crm.seed import DEMO_OPPORTUNITIES
from stack.local import sandbox_urls

if TYPE_CHECKING:  # cli.demo imports this module
    from cli.demo import Demo

# Seconds the CRM may take to deliver its event (it retries with backoff).
DELIVERY_TIMEOUT = 60.0


async def systems_speak_first(demo: "Demo", number: int) -> None:
    deal = DEMO_OPPORTUNITIES["open"]
    demo.chapter(
        f"{number}. The CRM speaks first",
        "Nobody starts the next deal: when Sam closes it as won in the CRM, the CRM sends a "
        "signed event to psflow ingress, which starts opportunity-to-project for it (a "
        "duplicate or replayed event starts nothing more). psflow report then sums up: time to "
        "activate and to invoice, unbilled backlog, who is waited for, failures and drift.",
    )
    crm = sandbox_urls(demo.settings)["crm"]
    demo.say(f"$ curl -X POST {crm}/__admin/opportunities/{deal}/close-won   # Sam, in the CRM")
    async with httpx.AsyncClient(base_url=crm, timeout=10) as http:
        closed = await http.post(f"/__admin/opportunities/{deal}/close-won")
        if closed.status_code != 200:
            raise CliError(f"demo: the CRM did not close {deal}: {closed.text}")
        event = await _delivered(http, closed.json()["event"]["event_id"])
    delivery = event["delivery"]
    demo.say(
        f"CRM event {event['event_id']} {event['type']}: ingress answered "
        f"{delivery['last_status']} after {delivery['attempts']} attempt(s)"
    )
    started = workflow_id(deal)
    demo.deals.append(started)
    status = await demo.until(started, {RunState.COMPLETED}, "provisioning the deal the CRM sent")
    console.print(status_view(status))

    demo.say("$ psflow report")
    today = datetime.now(UTC).date()
    since = datetime.combine(today - timedelta(days=29), datetime.min.time(), UTC)
    render(await build(demo.settings, since, since + timedelta(days=30)))


async def _delivered(http: httpx.AsyncClient, event_id: str) -> dict[str, Any]:
    """The CRM's record of the event once ingress took it; CliError if it never does."""
    deadline = asyncio.get_running_loop().time() + DELIVERY_TIMEOUT
    while True:
        event: dict[str, Any] = (await http.get(f"/__admin/webhooks/{event_id}")).json()
        if event["delivery"]["state"] == "delivered":
            return event
        if asyncio.get_running_loop().time() > deadline:
            raise CliError(f"demo: the CRM could not deliver {event_id}: {event['delivery']}")
        await asyncio.sleep(0.2)
