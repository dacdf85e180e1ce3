"""Signing in through an OpenID Connect provider: the device grant from `psflow login`, the
ID token checked against the provider's keys, its groups as roles, and the decision audited
with the provider's subject and issuer. The provider is tests/oidc_issuer.py, over HTTP."""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from sqlalchemy import Engine
from temporalio.client import Client
from typer.testing import CliRunner, Result

from cli.main import app
from config import OidcSettings, Settings
from models.status import WaitKind
from security.oidc import OidcError, verify_id_token
from store.audit import audit_entries
from store.db import open_engine
from tests.oidc_issuer import CLIENT_ID, TestProvider
from tests.support import Sandbox, env_for
from tests.test_opportunity_to_project import start, status_when, waiting_for

runner = CliRunner()


@pytest.fixture(scope="module")
def provider() -> Iterator[TestProvider]:
    with TestProvider().serving() as serving:
        yield serving


@pytest.fixture(autouse=True)
def fresh(provider: TestProvider) -> None:
    provider.user, provider.groups, provider.claims = "morgan", [], {}
    provider.decline = provider.foreign_key = False


def oidc(provider: TestProvider) -> OidcSettings:
    return OidcSettings(
        issuer=provider.url, client_id=CLIENT_ID, group_roles={"Deal Desk": "deal-desk"}
    )


@pytest.fixture
def cli_env(
    config_file: Path, provider: TestProvider, tmp_path: Path, worker: Settings
) -> dict[str, str]:
    """The CLI on the suite's estate and this test's worker, with [auth.oidc] set."""
    config = tmp_path / "psflow.toml"
    config.write_text(
        config_file.read_text()
        + f'\n[auth.oidc]\nissuer = "{provider.url}"\nclient_id = "{CLIENT_ID}"\n'
        + 'group_roles = { "Deal Desk" = "deal-desk" }\n'
    )
    return env_for(config, PSFLOW_TASK_QUEUE=worker.temporal.task_queue)


async def psflow(env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(runner.invoke, app, list(args), env=env)


async def test_sign_in_at_the_provider_then_decide_with_its_groups_as_roles(
    cli_env: dict[str, str], provider: TestProvider, client: Client, worker: Settings,
    sandbox: Sandbox,
) -> None:  # fmt: skip
    provider.user, provider.groups = "alex", ["Deal Desk", "Everyone"]  # alex: sales in policy
    login = await psflow(cli_env, "login")
    assert login.exit_code == 0, login.output
    assert f"open {provider.url}/activate?user_code=WDJB-MJHT" in login.stdout
    assert f"signed in as alex through {provider.url}" in login.stdout

    async with httpx.AsyncClient(base_url=sandbox.urls["crm"], timeout=10) as admin:
        added = await admin.post("/__admin/seed/deals", json={"count": 1, "like": "large_usd"})
    handle = await start(client, worker, added.json()["opportunities"][0])
    await status_when(handle, waiting_for(WaitKind.APPROVAL))
    approved = await psflow(cli_env, "approve", handle.id, "--as", "alex", "--comment", "ok")
    assert approved.exit_code == 0, approved.output
    assert (await handle.result()).outcome == "completed"

    engine: Engine = open_engine(worker.resolved_store_url)
    try:
        [entry] = audit_entries(engine, handle.id, kind="approved")
    finally:
        engine.dispose()
    assert (entry.user, entry.subject, entry.issuer) == ("alex", "idp-alex", provider.url)


async def test_a_declined_sign_in_is_one_line_and_signs_nobody_in(
    cli_env: dict[str, str], provider: TestProvider
) -> None:
    provider.decline = True
    login = await psflow(cli_env, "login")
    assert login.exit_code == 1
    assert "declined at the identity provider" in login.output
    assert "signed in" not in login.stdout


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"aud": "another-app"}, f"not for client {CLIENT_ID}"),
        ({"iss": "https://elsewhere.example.com"}, "is not from"),
        ({"exp": int(time.time()) - 120}, "has expired"),
        ({"preferred_username": None}, "no preferred_username claim"),
        ("foreign key", "does not check out"),
    ],
    ids=["audience", "issuer", "expired", "no user", "foreign key"],
)
def test_a_token_that_does_not_check_out_is_refused(
    provider: TestProvider, change: dict[str, object] | str, reason: str
) -> None:
    if change == "foreign key":
        provider.foreign_key = True
    else:
        assert isinstance(change, dict)
        provider.claims = change
    keys = httpx.get(f"{provider.url}/jwks").json()["keys"]
    with pytest.raises(OidcError, match=reason):
        verify_id_token(provider.id_token(), oidc(provider), keys)


def test_a_key_the_provider_does_not_publish_is_refused(provider: TestProvider) -> None:
    token = jwt.encode({"sub": "x"}, provider.key, algorithm="RS256", headers={"kid": "other"})
    keys = httpx.get(f"{provider.url}/jwks").json()["keys"]
    with pytest.raises(OidcError, match="not among the provider's keys"):
        verify_id_token(token, oidc(provider), keys)


def test_groups_map_to_roles_and_unmapped_groups_leave_roles_to_the_policy(
    provider: TestProvider,
) -> None:
    keys = httpx.get(f"{provider.url}/jwks").json()["keys"]
    provider.groups = ["Deal Desk"]
    who = verify_id_token(provider.id_token(), oidc(provider), keys)
    assert (who.user, who.subject, who.issuer, who.roles) == (
        "morgan", "idp-morgan", provider.url, ["deal-desk"],
    )  # fmt: skip
    provider.groups = ["Everyone"]
    assert verify_id_token(provider.id_token(), oidc(provider), keys).roles is None
