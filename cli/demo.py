"""The demo journey, told as a story over a Temporal client and the sandbox systems."""

import secrets
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from rich.rule import Rule
from sqlalchemy import Engine
from temporalio.client import Client

from application import listing, runs
from application.identity import proof_from_session, session_for
from cli import sandbox_admin
from cli.bench import bench_of, bench_table
from cli.demo_billing import month_end_close
from cli.demo_tryton import month_end_in_tryton
from cli.demo_unattended import systems_speak_first
from cli.output import CliError, console
from cli.render import list_table, status_view
from config import Settings
from connectors import systems
from connectors.errors import ConnectorError
from models.hire_to_staff import HireToStaffResult
from models.opportunity_to_project import OpportunityToProjectResult
from models.people import Approval, Correction, Rejection
from models.psa import StaffingRequest
from models.status import RunState, WaitKind, WorkflowStatus
from sandbox.crm.seed import DEMO_OPPORTUNITIES, SPARE_CLOSED_WON
from sandbox.hcm.seed import DEMO_WORKERS, SPARE_PREHIRES
from store.accounts import AccountError, add_account
from store.db import open_engine
from workflows.staffing_rules import best_match

Decided = Approval | Rejection | Correction

WORKFLOW = "opportunity-to-project"
HIRE_WORKFLOW = "hire-to-staff"
FIRST_HIRE = DEMO_WORKERS["prehire_consultant_us"]
# Pre-hires with clean data; the demo also hires the first whose best request is on its projects.
OTHER_HIRES = [DEMO_WORKERS["prehire_senior_us"], DEMO_WORKERS["prehire_analyst_uk"]]
OTHER_HIRES += SPARE_PREHIRES
STEP_TIMEOUT = 120.0
ERP_JOB_ROUTE = "*/record/v1/job*"


@dataclass
class Demo:
    """What every chapter needs: the client, the settings, and a narrator."""

    client: Client
    settings: Settings
    deals: list[str] = field(default_factory=list)
    """The opportunity-to-project workflows the demo started."""
    sessions: dict[str, str] = field(default_factory=dict)
    """The demo's people, signed in with local accounts it made for them."""
    _engine: Engine | None = None

    def chapter(self, title: str, story: str) -> None:
        console.print()
        console.print(Rule(f"[bold]{title}[/bold]", align="left"))
        console.print(story, style="italic")

    def say(self, text: str, style: str = "") -> None:
        console.print(f"  {text}", style=style, soft_wrap=True, markup=False)

    async def start(self, key: str, user: str = "sam", workflow: str = WORKFLOW) -> str:
        kind = runs.kind_named(workflow)
        handle, _ = await runs.start(self.client, self.settings, kind, key, user)
        self.say(f"$ psflow start {workflow} {key} --as {user}")
        if workflow == WORKFLOW:
            self.deals.append(handle.id)
        return handle.id

    async def until(
        self, workflow_id: str, states: Collection[RunState], label: str
    ) -> WorkflowStatus:
        """Follow the workflow with a spinner until it reaches one of `states`."""
        with console.status(f"{label}..."):
            status, state = await runs.follow(
                self.client,
                self.settings,
                workflow_id,
                until=set(states) | runs.FINAL_STATES,
                give_up_after=STEP_TIMEOUT,
            )
        if state not in states:
            console.print(status_view(status))
            raise CliError(f"demo: {workflow_id} ended {state}, expected {', '.join(states)}")
        return status

    async def send(self, workflow_id: str, name: str, argument: Decided) -> str:
        """Send a decision with a proof from its user's session, as `psflow approve` does."""
        session = self.sessions.get(argument.user) or self.sign_in(argument.user)
        engine = self.store()
        proof = proof_from_session(engine, session, argument.user, workflow_id, name)
        proven = argument.model_copy(update={"proof": proof})
        return await runs.update(self.client, self.settings, workflow_id, name, proven)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def store(self) -> Engine:
        if self._engine is None:
            self._engine = open_engine(self.settings.resolved_store_url)
        return self._engine

    def sign_in(self, user: str) -> str:
        """Give `user` a local account with a password only this run knows, and sign in."""
        password = secrets.token_urlsafe(18)
        try:
            add_account(self.store(), user, password, [])
        except AccountError as exc:
            raise CliError(f"demo: {exc}; run the demo on a store of its own") from None
        self.say(f"$ psflow users add {user} && psflow login {user}")
        self.sessions[user] = session_for(self.store(), user, password)
        return self.sessions[user]

    async def refused(self, workflow_id: str, name: str, argument: Decided) -> str:
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


async def staffing_the_new_projects(demo: Demo) -> None:
    demo.chapter(
        "5. Staffing the new projects",
        "The new projects need people. Pre-hires start soon: the HCM records their hire, and "
        "hire-to-staff makes each a PSA resource and an ERP employee, proposes the open "
        "staffing request that fits best and waits for a resource manager: Dana is not one, "
        "Rita and Omar are. With no open request for their role, a hire waits on the bench.",
    )
    hires = [FIRST_HIRE]
    second = await hire_for_our_projects(demo)
    if second is not None:
        hires.append(second)
    for worker_id in hires:
        await sandbox_admin.worker_event(demo.settings, "hire", worker_id, {}, None)
        demo.say(f"$ psflow sandbox event hire {worker_id}")
    started = [await demo.start(w, user="rita", workflow=HIRE_WORKFLOW) for w in hires]
    await staff(demo, started[0], approver="rita", refused_by="dana")
    for workflow_id in started[1:]:
        await staff(demo, workflow_id, approver="omar")
    demo.say("$ psflow bench")
    console.print(bench_table(*await bench_of(demo.settings)))


async def hire_for_our_projects(demo: Demo) -> str | None:
    """A pre-hire whose best open request is on a project the demo made (not the one the
    first hire will take), or None."""
    made: set[str | None] = set()
    for workflow_id in demo.deals:
        handle = demo.client.get_workflow_handle(
            workflow_id, result_type=OpportunityToProjectResult
        )
        made.add((await handle.result()).psa_project_id)
    settings = demo.settings
    workers, staffing = systems.hcm(settings), systems.psa(settings)

    async def match(worker_id: str) -> StaffingRequest | None:
        worker = await workers.get_worker(worker_id)
        if worker.role is None:
            return None
        return best_match(worker, await staffing.list_open_staffing_requests(worker.role))

    try:
        first = await match(FIRST_HIRE)
        taken = first.id if first else None
        for worker_id in OTHER_HIRES:
            request = await match(worker_id)
            if request is not None and request.project_id in made and request.id != taken:
                return worker_id
    except ConnectorError as exc:
        raise CliError(f"demo: cannot read the HCM or the PSA ({exc.message})") from None
    finally:
        await workers.aclose()
        await staffing.aclose()
    return None


async def staff(demo: Demo, workflow_id: str, approver: str, refused_by: str | None = None) -> None:
    """Follow one hire-to-staff: approve its proposed match (after a refusal, if asked)."""
    status = await demo.until(
        workflow_id, {RunState.WAITING, RunState.COMPLETED}, "provisioning and matching"
    )
    if status.state == RunState.WAITING:
        if status.waiting_for is None or status.waiting_for.kind != WaitKind.APPROVAL:
            raise CliError(f"demo: {workflow_id} should wait for approval")
        console.print(status_view(status))
        if refused_by is not None:
            demo.say(f"$ psflow approve {workflow_id} --as {refused_by}")
            demo.say(await demo.refused(workflow_id, "approve", Approval(user=refused_by)), "red")
        demo.say(f"$ psflow approve {workflow_id} --as {approver} --comment 'good fit'")
        answer = await demo.send(
            workflow_id, "approve", Approval(user=approver, comment="good fit")
        )
        demo.say(answer, "green")
        status = await demo.until(workflow_id, {RunState.COMPLETED}, "assigning and forecasting")
    console.print(status_view(status))
    handle = demo.client.get_workflow_handle(workflow_id, result_type=HireToStaffResult)
    result = await handle.result()
    who = status.customer or result.worker_id
    if result.outcome != "assigned":
        demo.say(f"{who} is {result.outcome}: {result.reason}", "yellow")
    elif result.forecast_id:
        demo.say(f"{who} is assigned to {result.project_id}; labour forecast pushed", "green")
    else:
        demo.say(
            f"{who} is assigned to {result.project_id}, a project the ERP does not know, "
            "so there is no labour forecast to push",
            "green",
        )


async def approvals_in_the_browser(demo: Demo) -> None:
    demo.chapter(
        "8. Approvals in the browser",
        "Approvers need no terminal: the inbox lists what waits for their roles and shows what "
        "they decide on. Dana owns this large deal, so another deal-desk approver must take it.",
    )
    workflow_id = await demo.start(DEMO_OPPORTUNITIES["large_owned_by_dana"])
    await demo.until(workflow_id, {RunState.WAITING}, "validating the deal")
    password = secrets.token_urlsafe(12)
    demo.say("$ psflow users add morgan   # a deal-desk approver")
    try:
        add_account(demo.store(), "morgan", password, [])
    except AccountError as exc:
        raise CliError(f"demo: {exc}; run the demo on a store of its own") from None
    demo.say(f"The deal waits in the inbox: {demo.settings.inbox.url}", "bold")
    demo.say(f"sign in as morgan with password {password} (this demo's account) to approve it")


async def everything_at_a_glance(demo: Demo, number: int) -> None:
    demo.chapter(f"{number}. Everything at a glance", "$ psflow list --all")
    types = sorted(runs.workflow_kinds())
    rows = await listing.collect(demo.client, demo.settings, types=types, include_closed=True)
    console.print(list_table(rows, console.width))
    temporal = demo.settings.temporal
    namespace = quote(temporal.namespace, safe="")
    console.print(f"Temporal UI: {temporal.ui_url.rstrip('/')}/namespaces/{namespace}/workflows")


async def run_journey(client: Client, settings: Settings, tryton_dir: Path | None = None) -> None:
    """The whole story, chapter by chapter; a chapter that goes wrong raises CliError. With
    `tryton_dir` (where Tryton's prepared database is kept), month-end runs on Tryton too."""
    demo = Demo(client, settings)
    try:
        await closed_won_becomes_project(demo)
        await large_deal_needs_approval(demo)
        await bad_data_waits_for_correction(demo)
        await erp_outage_is_retried(demo)
        await staffing_the_new_projects(demo)
        await month_end_close(demo, 6)
        await systems_speak_first(demo, 7)
        await approvals_in_the_browser(demo)
        if tryton_dir is not None:
            await month_end_in_tryton(demo, 9, tryton_dir)
        await everything_at_a_glance(demo, 10 if tryton_dir is not None else 9)
    finally:
        demo.close()
    console.print()
    console.print("[bold green]demo complete[/bold green]")
