"""The audit log: every approval, rejection, correction and escalation lands in the store
once, with who, when, what and which workflow, and `psflow audit` reads it back.

Releases are asserted in tests/test_report.py, postings, retries and discards in
tests/test_dlq.py.
"""

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client
from typer.testing import CliRunner

from cli.main import app
from config import Settings
from models.audit import AuditEntry
from models.dead_letter import CLAIM_LAPSES_AFTER, DeadLetterState
from models.people import Approval, Correction, Rejection
from models.status import WaitKind
from store.audit import append_audit, audit_entries
from store.db import DeadLetterRecord
from store.dead_letters import (
    NotOpen,
    claim_for_retry,
    get_dead_letter,
    mark_discarded,
    mark_retried,
    record_dead_letter,
    reopen,
)
from tests.support import Sandbox, Systems, env_for, proven, running_worker
from tests.test_dlq import new_deal
from tests.test_opportunity_to_project import start, status_when, waiting_for
from tests.test_store import T0, engine, failed_run, store_url
from workflows.opportunity_to_project import OpportunityToProject

__all__ = ["engine", "store_url"]  # the store fixtures: SQLite and PostgreSQL

runner = CliRunner()


def test_an_entry_written_twice_is_stored_once(engine: Engine) -> None:
    approved = AuditEntry(at=T0, workflow_id="w/1", kind="approved", user="dana", detail="ok")
    escalated = AuditEntry(at=T0, workflow_id="w/1", kind="escalated", user=None, detail="late")
    for entry in (approved, approved, escalated, escalated):  # each activity retried once
        append_audit(engine, entry)
    later = approved.model_copy(update={"at": T0 + timedelta(seconds=1)})
    append_audit(engine, later)  # the same words at another time are another act
    assert audit_entries(engine, "w/1") == [approved, escalated, later]


def test_a_retry_or_discard_changes_the_letter_and_the_audit_log_together(engine: Engine) -> None:
    for run_id in ("run-1", "run-2"):
        record_dead_letter(engine, failed_run(run_id, T0))
    first, second = 1, 2

    claimed = claim_for_retry(engine, first, "fatima")
    assert (claimed.state, claimed.retry_run_id) == (DeadLetterState.RETRIED, None)
    try:  # a second retry while the first is starting its run is refused
        claim_for_retry(engine, first, "greta")
        raise AssertionError("claimed twice")
    except NotOpen as exc:
        assert str(exc).startswith(f"dead letter {first} is being retried by fatima since ")
    assert audit_entries(engine) == []  # nothing audited until a run has started
    reopen(engine, first)  # its start did not happen
    assert get_dead_letter(engine, first).state is DeadLetterState.OPEN  # type: ignore[union-attr]

    claim_for_retry(engine, first, "fatima")
    retried = mark_retried(engine, first, "fatima", "run-3")
    reopen(engine, first)  # too late: a run started
    discarded = mark_discarded(engine, second, "greta", "deal withdrawn")
    assert (retried.state, retried.retry_run_id) == (DeadLetterState.RETRIED, "run-3")
    assert [(a.kind, a.user, a.detail, a.at) for a in audit_entries(engine)] == [
        ("retried", "fatima", f"dead letter {first} retried: new run run-3", retried.closed_at),
        ("discarded", "greta", f"dead letter {second}: deal withdrawn", discarded.closed_at),
    ]


def test_a_claim_whose_retry_died_before_starting_a_run_lapses(engine: Engine) -> None:
    record_dead_letter(engine, failed_run("run-1", T0))
    claim_for_retry(engine, 1, "fatima")  # ... and the retrying command is killed here
    with Session(engine) as session:  # ten minutes pass
        letter = session.get(DeadLetterRecord, 1)
        assert letter is not None and letter.closed_at is not None
        letter.closed_at -= CLAIM_LAPSES_AFTER
        session.add(letter)
        session.commit()
    again = claim_for_retry(engine, 1, "greta")
    assert (again.state, again.closed_by, again.retry_run_id) == (
        DeadLetterState.RETRIED,
        "greta",
        None,
    )
    retried = mark_retried(engine, 1, "greta", "run-2")
    assert retried.retry_run_id == "run-2"
    try:  # a letter whose retry started a run is closed for good
        claim_for_retry(engine, 1, "fatima")
        raise AssertionError("claimed after its run started")
    except NotOpen as exc:
        assert str(exc) == "dead letter 1 is already retried"


async def audited(env: dict[str, str], workflow: str) -> list[tuple[str, str | None, str]]:
    result = await asyncio.to_thread(
        runner.invoke, app, ["audit", "--workflow", workflow, "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    entries: list[dict[str, Any]] = json.loads(result.stdout)
    return [(e["kind"], e["user"], e["detail"]) for e in entries]


async def test_approvals_rejections_corrections_and_escalations_are_audited_once(
    client: Client,
    settings: Settings,
    sandbox: Sandbox,
    systems: Systems,
    config_file: Path,
) -> None:
    # Every deal needs an approval, and an unanswered one escalates and rejects in seconds.
    strict = settings.model_copy(deep=True)
    approval = strict.policy.approval
    approval.thresholds = dict.fromkeys(approval.thresholds, Decimal("0"))
    approval.deadline = approval.escalation_grace = timedelta(seconds=2)
    env = env_for(config_file)
    started = datetime.now(UTC)
    async with running_worker(client, strict, f"psflow-test-{uuid.uuid4()}") as used:
        corrected, rejected, unanswered = (new_deal(sandbox) for _ in range(3))
        entity = (await systems.crm.get_opportunity_values(corrected, ["legal_entity"]))[
            "legal_entity"
        ]
        await systems.crm.update_opportunity(corrected, {"legal_entity": "XX99"})
        handles = [await start(client, used, deal) for deal in (corrected, rejected, unanswered)]
        first, second, third = handles

        await status_when(first, waiting_for(WaitKind.CORRECTION))
        fix = Correction(user="dana", fields={"legal_entity": entity}, comment="typo")
        await first.execute_update(
            OpportunityToProject.correct, proven(used, first.id, "correct", fix)
        )
        await status_when(first, waiting_for(WaitKind.APPROVAL))
        within = Approval(user="morgan", comment="within policy")
        await first.execute_update(
            OpportunityToProject.approve, proven(used, first.id, "approve", within)
        )
        await status_when(second, waiting_for(WaitKind.APPROVAL))
        rejection = Rejection(user="dana", reason="margin too thin")
        await second.execute_update(
            OpportunityToProject.reject, proven(used, second.id, "reject", rejection)
        )
        outcomes = [(await h.result()).outcome for h in handles]
    assert outcomes == ["completed", "rejected", "rejected"]

    assert await audited(env, first.id) == [
        ("corrected", "dana", f"legal_entity={entity} typo"),
        ("approved", "morgan", "within policy"),
    ]
    assert await audited(env, second.id) == [("rejected", "dana", "margin too thin")]
    assert await audited(env, third.id) == [
        ("escalated", None, "no deal-desk approval within 0:00:02; escalated to priya"),
        ("rejected", "psflow", "no approval within 0:00:04 (escalated to priya)"),
    ]
    filters = ["audit", "--kind", "escalated", "--since", started.isoformat(), "--json"]
    found = await asyncio.to_thread(runner.invoke, app, filters, env=env)
    assert found.exit_code == 0, found.output
    assert third.id in {e["workflow_id"] for e in json.loads(found.stdout)}
    assert {e["kind"] for e in json.loads(found.stdout)} == {"escalated"}
