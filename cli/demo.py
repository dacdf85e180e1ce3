"""The demo journey, told as a story over a Temporal client and the sandbox systems."""

from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import quote

from pydantic import BaseModel
from rich.rule import Rule
from temporalio.client import Client

from cli import actions, listing, sandbox_admin
from cli.output import CliError, console
from cli.render import list_table, status_view
from config import Settings
from models.people import Approval, Correction
from models.status import RunState, WaitKind, WorkflowStatus
from sandbox.crm.seed import DEMO_OPPORTUNITIES, SPARE_CLOSED_WON

WORKFLOW = "opportunity-to-project"
STEP_TIMEOUT = 120.0
ERP_JOB_ROUTE = "*/record/v1/job*"


@dataclass
class Demo:
    """What every chapter needs: the client, the settings, and a narrator."""

    client: Client
    settings: Settings

    def chapter(self, title: str, story: str) -> None:
        console.print()
        console.print(Rule(f"[bold]{title}[/bold]", align="left"))
        console.print(story, style="italic")

    def say(self, text: str, style: str = "") -> None:
        console.print(f"  {text}", style=style, soft_wrap=True, markup=False)

    async def start(self, opportunity_id: str, user: str = "sam") -> str:
        kind = actions.kind_named(WORKFLOW)
        handle, _ = await actions.start(self.client, self.settings, kind, opportunity_id, user)
        self.say(f"$ psflow start {WORKFLOW} {opportunity_id} --as {user}")
        return handle.id

    async def until(
        self, workflow_id: str, states: Collection[RunState], label: str
    ) -> WorkflowStatus:
        """Follow the workflow with a spinner until it reaches one of `states`."""
        with console.status(f"{label}..."):
            status, state = await actions.follow(
                self.client,
                self.settings,
                workflow_id,
                until=set(states) | actions.FINAL_STATES,
                give_up_after=STEP_TIMEOUT,
            )
        if state not in states:
            console.print(status_view(status))
            raise CliError(f"demo: {workflow_id} ended {state}, expected {', '.join(states)}")
        return status

    async def send(self, workflow_id: str, name: str, argument: BaseModel) -> str:
        return await actions.update(self.client, self.settings, workflow_id, name, argument)

    async def refused(self, workflow_id: str, name: str, argument: BaseModel) -> str:
        """Send an update that must be refused; return the reason."""
        try:
            answer = await self.send(workflow_id, name, argument)
        except CliError as exc:
            return str(exc)
        raise CliError(f"demo: {name} should have been refused but was accepted: {answer}")


async def closed_won_becomes_project(demo: Demo) -> None:
    demo.chapter(
        "1. A closed-won deal becomes a project",
        "Sam closed a small US deal. psflow reads and validates it, creates the customer and "
        "the financial project in the ERP, the delivery project and staffing requests in the "
        "PSA, and writes the project ids back to the CRM.",
    )
    workflow_id = await demo.start(DEMO_OPPORTUNITIES["small_usd"])
    status = await demo.until(workflow_id, {RunState.COMPLETED}, "creating the project")
    console.print(status_view(status))


async def large_deal_needs_approval(demo: Demo) -> None:
    demo.chapter(
        "2. A large deal waits for the deal desk",
        "Sam's next deal is over the approval threshold, so the workflow waits for a "
        "deal-desk approver. Sam cannot approve it; Dana can.",
    )
    workflow_id = await demo.start(DEMO_OPPORTUNITIES["large_usd"])
    status = await demo.until(workflow_id, {RunState.WAITING}, "validating the deal")
    if status.waiting_for is None or status.waiting_for.kind != WaitKind.APPROVAL:
        raise CliError(f"demo: {workflow_id} should wait for approval")
    console.print(status_view(status))
    demo.say(f"$ psflow approve {workflow_id} --as sam")
    reason = await demo.refused(workflow_id, "approve", Approval(user="sam"))
    demo.say(reason, "red")
    demo.say(f"$ psflow approve {workflow_id} --as dana --comment 'margin checked'")
    answer = await demo.send(
        workflow_id, "approve", Approval(user="dana", comment="margin checked")
    )
    demo.say(answer, "green")
    status = await demo.until(workflow_id, {RunState.COMPLETED}, "creating the project")
    console.print(status_view(status))


async def bad_data_waits_for_correction(demo: Demo) -> None:
    demo.chapter(
        "3. Bad data waits for a correction",
        "This deal names a legal entity the ERP does not have. Instead of failing, the "
        "workflow waits for someone to correct the field, then validates again.",
    )
    workflow_id = await demo.start(DEMO_OPPORTUNITIES["unknown_legal_entity"])
    status = await demo.until(workflow_id, {RunState.WAITING}, "validating the deal")
    wait = status.waiting_for
    if wait is None or wait.kind != WaitKind.CORRECTION:
        raise CliError(f"demo: {workflow_id} should wait for a correction")
    console.print(status_view(status))
    named = ", ".join(p.field for p in wait.problems) or "-"
    demo.say(f"fields to correct: {named}", "bold")
    demo.say(f"$ psflow correct {workflow_id} --as dana --set legal_entity=US01")
    correction = Correction(user="dana", fields={"legal_entity": "US01"}, comment="demo")
    demo.say(await demo.send(workflow_id, "correct", correction), "green")
    status = await demo.until(workflow_id, {RunState.COMPLETED}, "creating the project")
    console.print(status_view(status))


async def erp_outage_is_retried(demo: Demo) -> None:
    demo.chapter(
        "4. The ERP has a bad minute",
        "The ERP answers 503 twice and then 429 with Retry-After: 1 when the project is "
        "created. Temporal retries the activity (honouring Retry-After) and the deal goes "
        "through; the attempts are visible in the Temporal UI.",
    )
    erp = sandbox_admin.System.ERP
    bursts = [
        {"path": ERP_JOB_ROUTE, "method": "PUT", "status": 503, "count": 2},
        {"path": ERP_JOB_ROUTE, "method": "PUT", "status": 429, "count": 1, "retry_after": 1},
    ]
    for spec in bursts:
        await sandbox_admin.add_fault(demo.settings, erp, spec)
        extra = f" --retry-after {spec['retry_after']}" if "retry_after" in spec else ""
        demo.say(
            f"$ psflow sandbox fault erp --path '{ERP_JOB_ROUTE}' --method PUT "
            f"--status {spec['status']} --count {spec['count']}{extra}"
        )
    try:
        workflow_id = await demo.start(SPARE_CLOSED_WON[0])
        status = await demo.until(workflow_id, {RunState.COMPLETED}, "creating through the outage")
    finally:
        await sandbox_admin.clear_faults(demo.settings, erp)
    console.print(status_view(status))


async def everything_at_a_glance(demo: Demo) -> None:
    demo.chapter("5. Everything at a glance", "$ psflow list --all")
    rows = await listing.collect(demo.client, demo.settings, types=[WORKFLOW], include_closed=True)
    console.print(list_table(rows, console.width))
    temporal = demo.settings.temporal
    namespace = quote(temporal.namespace, safe="")
    console.print(f"Temporal UI: {temporal.ui_url.rstrip('/')}/namespaces/{namespace}/workflows")


async def run_journey(client: Client, settings: Settings) -> None:
    """The whole story, chapter by chapter; a chapter that goes wrong raises CliError."""
    demo = Demo(client, settings)
    await closed_won_becomes_project(demo)
    await large_deal_needs_approval(demo)
    await bad_data_waits_for_correction(demo)
    await erp_outage_is_retried(demo)
    await everything_at_a_glance(demo)
    console.print()
    console.print("[bold green]demo complete[/bold green]")
