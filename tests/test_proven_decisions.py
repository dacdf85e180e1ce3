"""Decisions name a person only with a proof: what a waiting run refuses, by update and by
signal, and what it takes (roles from the proof, a rotated key, the audit's verified subject).

The module has its own sandbox, store and namespace (on the session's Temporal): it rotates
the issuer's keys, which other modules' waiting runs must not see, and the deals its sandbox
adds are numbered as the shared sandbox's are, so their workflow ids must not meet.
"""

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from application import runs
from config import Settings, load_settings
from models.identity import UNKNOWN_KEY, Identity
from models.people import Approval, Correction
from models.status import WaitKind, WorkflowStatus
from security import issuer
from store.audit import audit_entries
from store.db import open_engine
from tests.support import Sandbox, client_in, own_sandbox, proof
from tests.test_opportunity_to_project import Handle, start, status_when, waiting_for
from workflows.opportunity_to_project import OpportunityToProject

NAMESPACE = "proofs-tests"


@pytest.fixture(scope="module")
def sandbox(
    tmp_path_factory: pytest.TempPathFactory, temporal_env: WorkflowEnvironment
) -> Iterator[Sandbox]:
    with own_sandbox(tmp_path_factory.mktemp("proofs-estate"), temporal_env, NAMESPACE) as box:
        yield box


@pytest.fixture
async def client(temporal_env: WorkflowEnvironment) -> Client:
    return await client_in(temporal_env, NAMESPACE)


@pytest.fixture(scope="module")
def settings(sandbox: Sandbox) -> Settings:
    return load_settings(sandbox.config)


@pytest.fixture(scope="module")
def store(settings: Settings) -> Iterator[Engine]:
    engine = open_engine(settings.resolved_store_url)
    yield engine
    engine.dispose()


async def waiting(client: Client, worker: Settings, sandbox: Sandbox, like: str) -> Handle:
    """A fresh deal made as the named demo deal `like`, its run waiting for a person."""
    async with httpx.AsyncClient(base_url=sandbox.urls["crm"], timeout=10) as admin:
        added = await admin.post("/__admin/seed/deals", json={"count": 1, "like": like})
    added.raise_for_status()
    handle = await start(client, worker, added.json()["opportunities"][0])
    await status_when(handle, lambda s: s.waiting_for is not None)
    return handle


def forged(token: str) -> str:
    """The same claims, naming another user, with the original signature."""
    head, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["name"] = "dana"
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{body}.{signature}"


def refused_cases(worker: Settings, store: Engine, wf: str) -> dict[str, tuple[Approval, str]]:
    """Approvals a waiting run must refuse, each with the reason it gives."""
    good = proof(worker, wf, "approve", "morgan")
    stale = issuer.issue_proof(
        store,
        Identity(user="morgan", subject="test-morgan", issuer=issuer.LOCAL_ISSUER),
        wf,
        "approve",
        datetime.now(UTC) - timedelta(minutes=10),
    )
    return {
        "no proof": (Approval(user="morgan"), "needs a proof of who you are"),
        "forged": (Approval(user="dana", proof=forged(good)), "signature does not match"),
        "expired": (Approval(user="morgan", proof=stale), "expired"),
        "another run": (
            Approval(user="morgan", proof=proof(worker, f"{wf}-other", "approve", "morgan")),
            "is for workflow",
        ),
        "another decision": (
            Approval(user="morgan", proof=proof(worker, wf, "reject", "morgan")),
            "not approve",
        ),
        "someone else's": (
            Approval(user="morgan", proof=proof(worker, wf, "approve", "fatima")),
            "fatima's, not 'morgan'",
        ),
        "not a token": (Approval(user="morgan", proof="x" * 5000), "longer than"),
    }


async def test_an_update_without_a_valid_proof_is_refused_and_leaves_no_trace(
    client: Client, worker: Settings, sandbox: Sandbox, store: Engine
) -> None:
    handle = await waiting(client, worker, sandbox, "large_usd")
    before = len((await handle.fetch_history()).events)
    for case, (approval, reason) in refused_cases(worker, store, handle.id).items():
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(OpportunityToProject.approve, approval)
        assert reason in str(refused.value.cause), case
    assert len((await handle.fetch_history()).events) == before

    approval = Approval(
        user="morgan", comment="ok", proof=proof(worker, handle.id, "approve", "morgan")
    )
    await handle.execute_update(OpportunityToProject.approve, approval)
    assert (await handle.result()).outcome == "completed"
    [audited] = audit_entries(store, handle.id, kind="approved")
    assert (audited.user, audited.subject, audited.issuer) == (
        "morgan", "test-morgan", issuer.LOCAL_ISSUER,
    )  # fmt: skip


async def test_a_signal_without_a_valid_proof_is_recorded_as_refused(
    client: Client, worker: Settings, sandbox: Sandbox, store: Engine
) -> None:
    handle = await waiting(client, worker, sandbox, "large_usd")
    cases = refused_cases(worker, store, handle.id)
    for approval, _ in cases.values():
        await handle.signal("approve", approval)
    status: WorkflowStatus = await status_when(
        handle, lambda s: len([e for e in s.events if e.kind == "refused"]) == len(cases)
    )
    refusals = [e.detail for e in status.events if e.kind == "refused"]
    for (case, (_, reason)), detail in zip(cases.items(), refusals, strict=True):
        assert detail.startswith("approve refused:") and reason in detail, case
    assert status.waiting_for is not None and status.waiting_for.kind == WaitKind.APPROVAL

    await handle.signal(
        "approve", Approval(user="morgan", proof=proof(worker, handle.id, "approve", "morgan"))
    )
    assert (await handle.result()).outcome == "completed"


async def test_a_proof_is_taken_once(client: Client, worker: Settings, sandbox: Sandbox) -> None:
    handle = await waiting(client, worker, sandbox, "unknown_legal_entity")
    once = proof(worker, handle.id, "correct", "dana")
    # A well-formed value the policy does not know: taken, checked, and the run waits again.
    first = Correction(user="dana", fields={"legal_entity": "XX98"}, proof=once)
    await handle.execute_update(OpportunityToProject.correct, first)
    await status_when(
        handle,
        lambda s: (
            waiting_for(WaitKind.CORRECTION)(s) and any(e.kind == "corrected" for e in s.events)
        ),
    )
    again = Correction(user="dana", fields={"legal_entity": "US01"}, proof=once)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(OpportunityToProject.correct, again)
    assert "used already" in str(refused.value.cause)
    fresh = again.model_copy(update={"proof": proof(worker, handle.id, "correct", "dana")})
    await handle.execute_update(OpportunityToProject.correct, fresh)
    assert (await handle.result()).outcome == "completed"


async def test_roles_and_segregation_of_duties_follow_the_verified_identity(
    client: Client, worker: Settings, sandbox: Sandbox
) -> None:
    owned = await waiting(client, worker, sandbox, "large_owned_by_dana")
    dana = Approval(user="dana", proof=proof(worker, owned.id, "approve", "dana"))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await owned.execute_update(OpportunityToProject.approve, dana)
    assert "owns this deal" in str(refused.value.cause)
    # sam has no deal-desk role in the policy; an issuer that grants it is believed, and an
    # issuer that grants no roles leaves them to the policy.
    granted = proof(worker, owned.id, "approve", "sam", roles=["deal-desk"])
    plain = proof(worker, owned.id, "approve", "sam")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await owned.execute_update(OpportunityToProject.approve, Approval(user="sam", proof=plain))
    assert "does not have the deal-desk role" in str(refused.value.cause)
    await owned.execute_update(OpportunityToProject.approve, Approval(user="sam", proof=granted))
    assert (await owned.result()).outcome == "completed"


async def test_a_key_rotated_while_a_run_waits_is_fetched_and_the_decision_taken(
    client: Client, worker: Settings, sandbox: Sandbox, store: Engine
) -> None:
    handle = await waiting(client, worker, sandbox, "large_usd")
    issuer.rotate(store)
    signed_anew = Approval(user="morgan", proof=proof(worker, handle.id, "approve", "morgan"))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(OpportunityToProject.approve, signed_anew)
    assert getattr(refused.value.cause, "type", None) == UNKNOWN_KEY
    # what the CLI, the demo and the inbox send through: the run reloads the keys, once
    answer = await runs.update(client, worker, handle.id, "approve", signed_anew)
    assert answer == "approved by morgan"
    assert (await handle.result()).outcome == "completed"


def test_the_issuer_keeps_no_secret_in_what_a_run_is_given(store: Engine) -> None:
    keys = issuer.public_keys(store)
    assert keys.keys and all(set(k) >= {"kid", "kty", "crv", "x", "y"} for k in keys.keys)
    assert not any("d" in k for k in keys.keys)  # the private part of an EC JWK
