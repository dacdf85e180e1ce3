"""The approvals inbox in a real browser (Debian's chromium, driven by Playwright): signing in
with an account or through the identity provider, what waits for whom, deciding on a deal,
an invoice and a change order, refusals shown where the decision was made, and the page
following its run. Plus what a browser does not show: CSRF and origin checks, headers.

The module has its own sandbox, store and namespace on the session's Temporal: the inbox
lists every run waiting in its namespace.
"""

import re
from collections.abc import AsyncIterator, Iterator
from datetime import date
from decimal import Decimal

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from application import runs
from config import Settings, load_settings
from inbox.web import SESSION_COOKIE, csrf_token
from models.change_order import ChangeOrder, RoleChange, change_order_workflow_id
from models.change_state import ChangeOrderInput
from models.people import Approval
from models.status import WaitKind
from models.time_to_bill import Outcome
from sandbox.volume import Volume, volume_projects
from store.accounts import add_account, remove_account
from store.audit import audit_entries
from store.db import open_engine
from tests.billing_support import awaiting_finance, pick_project, seed_volume
from tests.oidc_issuer import CLIENT_ID, WEB_CLIENT_ID, WEB_CLIENT_SECRET, TestProvider
from tests.support import PASSWORD, Sandbox, client_in, proven, running_worker, write_settings
from tests.test_opportunity_to_project import Handle, start, status_when, waiting_for
from tests.test_time_to_bill import start as start_billing
from workflows.change_order import ChangeOrderWorkflow
from workflows.opportunity_to_project import OpportunityToProject

NAMESPACE = "inbox-tests"
CHROMIUM = "/usr/bin/chromium"
# As the machine's own checks start it: no background calls to the closed network.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
VOLUME = Volume(projects=6, entries=300, period="2026-03", seed=73)
TM = "Time and Materials"
PEOPLE = ("dana", "morgan", "fatima", "victor")


@pytest.fixture(scope="module")
def provider() -> Iterator[TestProvider]:
    with TestProvider().serving() as running:
        yield running


@pytest.fixture(scope="module")
def sandbox(
    tmp_path_factory: pytest.TempPathFactory,
    temporal_env: WorkflowEnvironment,
    provider: TestProvider,
) -> Iterator[Sandbox]:
    folder = tmp_path_factory.mktemp("inbox-estate")
    target = temporal_env.client.service_client.config.target_host
    config = write_settings(folder, target, namespace=NAMESPACE)
    config.write_text(
        config.read_text()
        + f"""
[auth.oidc]
issuer = "{provider.url}"
client_id = "{CLIENT_ID}"
web_client_id = "{WEB_CLIENT_ID}"
web_client_secret = "{WEB_CLIENT_SECRET}"
group_roles = {{ "Finance Approvers" = "finance" }}
"""
    )
    box = Sandbox(config)
    box.start()
    try:
        seed_volume(box, VOLUME)
        yield box
    finally:
        box.stop()


@pytest.fixture(scope="module")
def store(sandbox: Sandbox) -> Iterator[Engine]:
    engine = open_engine(load_settings(sandbox.config).resolved_store_url)
    for person in PEOPLE:
        add_account(engine, person, PASSWORD, [])  # roles from the policy
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
async def client(temporal_env: WorkflowEnvironment) -> Client:
    return await client_in(temporal_env, NAMESPACE)


@pytest.fixture(scope="module")
async def worker(client: Client, sandbox: Sandbox, store: Engine) -> AsyncIterator[Settings]:
    settings = load_settings(sandbox.config)
    async with running_worker(client, settings, "inbox-tests") as used:
        yield used


@pytest.fixture(scope="module")
async def inbox(worker: Settings, client: Client) -> AsyncIterator[str]:
    """The inbox served on the estate's [inbox] port; its address."""
    import asyncio

    from inbox.server import serve

    ready = asyncio.Event()
    task = asyncio.create_task(serve(worker, client, ready))
    await asyncio.wait_for(ready.wait(), 30)
    try:
        yield worker.inbox.url
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Browser, inbox: str) -> AsyncIterator[Page]:
    context = await browser.new_context(base_url=inbox)
    context.set_default_timeout(20_000)
    opened = await context.new_page()
    yield opened
    await context.close()


async def sign_in(page: Page, user: str, password: str = PASSWORD) -> None:
    """Sign in as a person would, by keyboard: the user name field has the focus."""
    await page.goto("/")
    await expect(page.locator("h1")).to_have_text("Sign in")
    await page.keyboard.type(user)
    await page.keyboard.press("Tab")
    await page.keyboard.type(password)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")


async def tab_to(page: Page, selector: str, presses: int = 40) -> None:
    """Press Tab until `selector` has the focus, as a keyboard user moves through the page."""
    target = page.locator(selector)
    for _ in range(presses):
        await page.keyboard.press("Tab")
        if await target.evaluate("node => node === document.activeElement"):
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")


async def waiting_deal(
    client: Client,
    worker: Settings,
    sandbox: Sandbox,
    like: str,
    kind: WaitKind = WaitKind.APPROVAL,
) -> Handle:
    """A fresh deal made as the demo deal `like`, its run waiting for `kind`."""
    async with httpx.AsyncClient(base_url=sandbox.urls["crm"], timeout=10) as admin:
        added = await admin.post("/__admin/seed/deals", json={"count": 1, "like": like})
    added.raise_for_status()
    handle = await start(client, worker, added.json()["opportunities"][0])
    await status_when(handle, waiting_for(kind))
    return handle


def run_path(handle_id: str) -> str:
    return f"/runs/{handle_id}"


async def test_sign_in_failures_say_so_and_leave_no_session(
    page: Page, provider: TestProvider
) -> None:
    await sign_in(page, "morgan", "not the password")
    await expect(page.locator("#problem")).to_have_text(
        "Wrong user name or password. Check both and try again."
    )
    await sign_in(page, "nobody-here")
    await expect(page.locator("#problem")).to_contain_text("Wrong user name or password")
    assert not [c for c in await page.context.cookies() if c["name"] == SESSION_COOKIE]

    provider.decline = True
    try:
        await page.click("#provider")
        await expect(page.locator("h1")).to_have_text("Sign-in failed")
        await expect(page.locator("[role=alert]")).to_contain_text(
            "the identity provider said: access_denied"
        )
    finally:
        provider.decline = False
    await page.goto("/signin/callback?code=stolen&state=guessed")
    await expect(page.locator("[role=alert]")).to_contain_text("was not started here")
    assert not [c for c in await page.context.cookies() if c["name"] == SESSION_COOKIE]


async def test_a_deal_desk_approver_approves_a_deal_by_keyboard(
    page: Page, client: Client, worker: Settings, sandbox: Sandbox, store: Engine
) -> None:
    handle = await waiting_deal(client, worker, sandbox, "large_usd")
    await sign_in(page, "morgan")
    await expect(page.locator("h1")).to_have_text("Waiting for you")
    await expect(page.locator(".who")).to_contain_text("morgan (deal-desk)")
    link = f'a[href="{run_path(handle.id)}"]'
    await tab_to(page, link)
    await page.keyboard.press("Enter")

    await expect(page.locator("h1")).to_have_text(re.compile(r"^Deal "))
    facts = page.locator(".facts")
    await expect(facts).to_contain_text("Deal owner")
    await expect(facts).to_contain_text("sam")
    await expect(facts).to_contain_text("USD")
    await expect(page.locator("caption", has_text="against the rate card")).to_be_visible()
    await tab_to(page, "#comment")
    await page.keyboard.type("margin checked")
    await page.keyboard.press("Enter")

    await expect(page.locator("#done")).to_have_text("approved by morgan")
    result = await handle.result()
    assert result.outcome == "completed"
    approved = [e for e in audit_entries(store, workflow_id=handle.id) if e.kind == "approved"]
    assert [(e.user, e.detail) for e in approved] == [("morgan", "margin checked")]
    assert approved[0].subject is not None and approved[0].subject != "morgan"


async def test_the_deal_owner_sees_the_refusal_inline(
    page: Page, client: Client, worker: Settings, sandbox: Sandbox
) -> None:
    handle = await waiting_deal(client, worker, sandbox, "large_owned_by_dana")
    await sign_in(page, "dana")
    await page.goto(run_path(handle.id))
    await page.fill("#comment", "looks fine")
    await page.click("#approve")

    refusal = page.locator("#refusal")
    await expect(refusal).to_contain_text("dana owns this deal and cannot approve it")
    await expect(page.locator("#comment")).to_have_value("looks fine")
    status = await handle.query(OpportunityToProject.status)
    assert status.waiting_for is not None and status.waiting_for.kind == WaitKind.APPROVAL


async def test_a_finance_approver_releases_an_invoice(
    page: Page, client: Client, worker: Settings
) -> None:
    month = pick_project(VOLUME, billing_type=TM, with_invalid=False)
    handle = await start_billing(client, worker, month.project.psa_id, VOLUME.period)
    await awaiting_finance(handle)

    await sign_in(page, "fatima")
    await page.click(f'a[href="{run_path(handle.id)}"]')
    facts = page.locator(".facts")
    await expect(facts).to_contain_text(f"{month.invoice_total:,.2f} {month.project.currency}")
    await expect(facts).to_contain_text("Time and expenses approved by")
    lines = page.locator("table", has=page.locator("caption", has_text="lines"))
    await expect(lines.locator("tbody tr").first).to_be_visible()
    await page.click("#approve")

    await expect(page.locator("#done")).to_have_text("approved by fatima")
    result = await handle.result()
    assert result.outcome is Outcome.RELEASED


async def test_a_change_order_is_rejected_only_with_a_reason(
    page: Page, client: Client, worker: Settings
) -> None:
    project = next(
        p
        for p in volume_projects(VOLUME)
        if p.currency == "USD" and p.closed_on is None and p.billing_type == TM
    )
    order = ChangeOrder(
        id="CO-INBOX-0001",
        project_id=project.psa_id,
        requested_by="paula",
        reason="Phase 2 data migration",
        currency="USD",
        budget_change=Decimal("10000"),
        effective_date=date(2026, 12, 1),
        roles=[RoleChange(role="Senior Consultant", hours_change=Decimal(80))],
    )
    handle = await client.start_workflow(
        ChangeOrderWorkflow.run,
        ChangeOrderInput(change_order=order),
        id=change_order_workflow_id(order.id),
        task_queue=worker.temporal.task_queue,
    )
    await status_when(handle, waiting_for(WaitKind.APPROVAL))  # type: ignore[arg-type]

    await sign_in(page, "victor")
    await page.goto(run_path(handle.id))
    systems = page.locator("table", has=page.locator("caption", has_text="per system"))
    await expect(systems).to_contain_text("project budget 10,000.00 USD")
    await expect(systems).to_contain_text("Senior Consultant +80 h")
    await page.click("#reject")  # no reason: the browser keeps the form
    missing = await page.locator("#reason").evaluate("node => node.validity.valueMissing")
    assert missing and await page.locator("#done").count() == 0

    await page.fill("#reason", "Out of scope for this quarter")
    await page.click("#reject")
    await expect(page.locator("#done")).to_contain_text("rejected by victor")
    result = await handle.result()
    assert result.outcome == "rejected"
    assert "Out of scope for this quarter" in (result.reason or "")


async def test_a_correction_is_sent_from_the_fields_the_run_names(
    page: Page, client: Client, worker: Settings, sandbox: Sandbox
) -> None:
    handle = await waiting_deal(
        client, worker, sandbox, "unknown_legal_entity", WaitKind.CORRECTION
    )

    await sign_in(page, "dana")
    row = page.locator("tr", has=page.locator(f'a[href="{run_path(handle.id)}"]'))
    await expect(row).to_contain_text("correction")
    await page.click(f'a[href="{run_path(handle.id)}"]')
    await expect(page.locator(".problems")).to_contain_text("legal_entity")
    await page.click("#correct")  # nothing filled in: the page says what to do
    await expect(page.locator("#refusal")).to_contain_text("fill in at least one field")

    await page.fill("#field-legal_entity", "US01")
    await page.click("#correct")
    await expect(page.locator("#done")).to_have_text(
        "correction legal_entity=US01 accepted from dana"
    )
    result = await handle.result()
    assert result.outcome == "completed"


async def test_the_page_follows_its_run_until_the_decision_is_made_elsewhere(
    page: Page, client: Client, worker: Settings, sandbox: Sandbox
) -> None:
    handle = await waiting_deal(client, worker, sandbox, "large_usd")
    await sign_in(page, "morgan")
    await page.goto(run_path(handle.id))
    await expect(page.locator("#decide")).to_be_visible()

    approval = proven(worker, handle.id, "approve", Approval(user="dana", comment="from the CLI"))
    await runs.update(client, worker, handle.id, "approve", approval)

    await expect(page.locator("#moved")).to_be_visible()
    await expect(page.locator("#decide")).to_have_count(0)
    await expect(page.locator("#live")).to_contain_text("approved by dana")


async def test_the_identity_provider_signs_in_with_its_groups_as_roles(
    page: Page, provider: TestProvider
) -> None:
    provider.user, provider.groups = "fatima", ["Finance Approvers", "Everyone"]
    await page.goto("/")
    await page.click("#provider")
    await expect(page.locator("h1")).to_have_text("Waiting for you")
    await expect(page.locator(".who")).to_have_text(re.compile(r"fatima\s+\(finance\)"))

    await page.click("button:has-text('Sign out')")
    await expect(page.locator("h1")).to_have_text("Sign in")
    await page.goto("/")
    await expect(page.locator("h1")).to_have_text("Sign in")


def _session_of(response: httpx.Response) -> str:
    """The session cookie's value (httpx's jar keeps Secure cookies off plain HTTP)."""
    found = re.search(rf"{re.escape(SESSION_COOKIE)}=([^;]+)", response.headers["set-cookie"])
    assert found, response.headers
    return found.group(1)


async def test_forms_need_the_session_token_and_the_inbox_origin(
    inbox: str, client: Client, worker: Settings, sandbox: Sandbox, store: Engine
) -> None:
    handle = await waiting_deal(client, worker, sandbox, "large_usd")
    async with httpx.AsyncClient(base_url=inbox, timeout=20) as http:
        signed = await http.post("/signin", data={"user": "morgan", "password": PASSWORD})
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"]
        for part in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
            assert part.lower() in cookie.lower()
        session = _session_of(signed)
        jar = {"cookie": f"{SESSION_COOKIE}={session}"}

        page = await http.get(run_path(handle.id), headers=jar)
        assert page.status_code == 200
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"

        form = {"workflow_id": handle.id, "decision": "approve", "comment": "forged"}
        no_token = await http.post("/decide", data=form, headers=jar)
        other_site = await http.post(
            "/decide",
            data=form | {"csrf": csrf_token(session)},
            headers=jar | {"origin": "https://elsewhere.example"},
        )
        assert (no_token.status_code, other_site.status_code) == (403, 403)
        status = await handle.query(OpportunityToProject.status)
        assert status.waiting_for is not None
        assert not [e for e in status.events if e.user == "morgan"]
        assert not [e for e in audit_entries(store, workflow_id=handle.id) if e.user == "morgan"]

        victor = await http.post("/signin", data={"user": "victor", "password": PASSWORD})
        victors = {"cookie": f"{SESSION_COOKIE}={_session_of(victor)}"}
        assert (await http.get("/", headers=victors)).status_code == 200
        remove_account(store, "victor")  # a removed account's sessions end with it
        try:
            assert (await http.get("/", headers=victors)).status_code == 303
        finally:
            add_account(store, "victor", PASSWORD, [])

        stale = await http.get("/", headers={"cookie": f"{SESSION_COOKIE}=forged"})
        assert stale.status_code == 303 and stale.headers["location"] == "/signin?next=%2F"
    await handle.terminate("test finished")
