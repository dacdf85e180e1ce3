"""Dead letters and the audit log, end to end: a real worker, the sandbox, and the CLI."""

import asyncio
import json
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDReusePolicy
from typer.testing import CliRunner, Result

from cli.main import app
from config import CodecSettings, Settings
from models.dead_letter import FailedRun
from models.hcm import WorkerEvent, WorkerEventKind
from models.opportunity_to_project import OpportunityToProjectInput, workflow_id
from models.time_to_bill import Outcome, TimeToBillInput
from security.codec import codec_from
from store.db import open_engine
from store.dead_letters import SEALED, record_dead_letter
from tests.support import CODEC_KEYS, Sandbox, Systems, env_for, write_settings
from workflows.opportunity_to_project import OpportunityToProject
from workflows.time_to_bill import TimeToBill

runner = CliRunner()
PSA_PROJECTS = "/api/v1/projects"
PSFLOW = str(Path(sys.executable).parent / "psflow")


async def cli(env: dict[str, str], *args: str) -> Result:
    """The psflow CLI in a thread (it runs its own event loop), as a user would run it."""
    return await asyncio.to_thread(runner.invoke, app, list(args), env=env)


async def cli_json(env: dict[str, str], *args: str) -> Any:
    result = await cli(env, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def new_deal(sandbox: Sandbox) -> str:
    """A closed-won deal of this test's own, so no other test's workflow shares its id."""
    response = httpx.post(
        f"{sandbox.urls['crm']}/__admin/seed/deals",
        json={"count": 1, "seed": uuid.uuid4().int % 10_000},
        timeout=10,
    )
    response.raise_for_status()
    opportunity: str = response.json()["opportunities"][0]
    return opportunity


async def fails_for_good(client: Client, settings: Settings, sandbox: Sandbox, deal: str) -> str:
    """Run opportunity-to-project into a permanent PSA refusal; its workflow id."""
    sandbox.fault("psa", path=PSA_PROJECTS, method="POST", status=400, count=100)
    handle = await client.start_workflow(
        OpportunityToProject.run,
        OpportunityToProjectInput(opportunity_id=deal, requested_by="sam"),
        id=workflow_id(deal),
        task_queue=settings.temporal.task_queue,
    )
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    return handle.id


async def console_script(env: dict[str, str], *args: str) -> tuple[int | None, str]:
    """The psflow console script in a process of its own (CliRunner is not thread-safe)."""
    process = await asyncio.create_subprocess_exec(
        PSFLOW, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await process.communicate()
    return process.returncode, out.decode()


def stored_input(settings: Settings, workflow: str) -> str:
    """The dead letter's input column as the store holds it, raw."""
    engine = open_engine(settings.resolved_store_url)
    try:
        with engine.connect() as connection:
            query = text("SELECT input FROM dead_letters WHERE workflow_id = :w")
            return str(connection.execute(query, {"w": workflow}).scalar_one())
    finally:
        engine.dispose()


async def letter_for(env: dict[str, str], workflow: str, state: str = "open") -> dict[str, Any]:
    letters = await cli_json(env, "dlq", "list", "--state", state)
    mine = [d for d in letters if d["workflow_id"] == workflow]
    assert len(mine) == 1, letters
    return mine[0]


async def test_a_permanent_failure_lands_in_the_dead_letters_and_a_retry_completes(
    client: Client, worker: Settings, sandbox: Sandbox, systems: Systems, config_file: Path
) -> None:
    env = env_for(config_file, PSFLOW_TASK_QUEUE=worker.temporal.task_queue)
    deal = new_deal(sandbox)
    wid = await fails_for_good(client, worker, sandbox, deal)

    letter = await letter_for(env, wid)
    assert (letter["workflow_type"], letter["business_key"], letter["step"]) == (
        "opportunity-to-project",
        deal,
        "create PSA project",
    )
    assert "400" in letter["error"]
    assert letter["input"] == {"opportunity_id": deal, "requested_by": "sam"}
    assert letter["input_key_id"] == "2026-11"  # the suite's estate encrypts payloads
    raw = stored_input(worker, wid)
    assert list(json.loads(raw)) == [SEALED] and "sam" not in raw and deal not in raw
    shown = await cli(env, "dlq", "show", str(letter["id"]))
    assert shown.exit_code == 0
    assert "create PSA project" in shown.stdout and '"requested_by": "sam"' in shown.stdout

    # Refused while a run of the workflow is in progress (one no worker polls stays running).
    blocker = await client.start_workflow(
        OpportunityToProject.run,
        OpportunityToProjectInput(opportunity_id=deal),
        id=wid,
        task_queue=f"nobody-polls-{uuid.uuid4()}",
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    )
    refused = await cli(env, "dlq", "retry", str(letter["id"]), "--as", "fatima")
    assert refused.exit_code == 1
    assert f"{wid} is running" in refused.output
    await blocker.terminate("test: make way for the retry")
    assert (await letter_for(env, wid))["state"] == "open"

    # Two retries at once start one run; the other is refused, exit 1.
    sandbox.clear_faults()
    retry = ("dlq", "retry", str(letter["id"]), "--as", "fatima")
    outcomes = await asyncio.gather(*(console_script(env, *retry) for _ in range(2)))
    assert sorted(code for code, _ in outcomes) == [0, 1], outcomes
    refused_output = next(out for code, out in outcomes if code == 1)
    # Refused at its claim (the other is starting its run) or after (the run is recorded).
    assert any(
        f"dead letter {letter['id']} is {state}" in refused_output
        for state in ("being retried by fatima since", "already retried")
    ), refused_output
    assert f"retried dead letter {letter['id']}" in next(o for c, o in outcomes if c == 0)
    result = await client.get_workflow_handle(wid).result()
    assert result["outcome"] == "completed"
    opportunity = await systems.crm.get_opportunity(deal)
    assert opportunity.psa_project_id and opportunity.erp_project_id

    closed = await letter_for(env, wid, "retried")
    run_id = (await client.get_workflow_handle(wid).describe()).run_id
    assert (closed["closed_by"], closed["retry_run_id"]) == ("fatima", run_id)
    audited = await cli_json(env, "audit", "--workflow", wid, "--kind", "retried")
    assert [(a["user"], a["detail"]) for a in audited] == [
        ("fatima", f"dead letter {letter['id']} retried: new run {run_id}")
    ]
    again = await cli(env, "dlq", "retry", str(letter["id"]), "--as", "fatima")
    assert again.exit_code == 1 and "already retried" in again.output

    # Posting is audited too: a time-to-bill of the new project, with nothing yet to bill.
    billing = await client.start_workflow(
        TimeToBill.run,
        TimeToBillInput(project_id=opportunity.psa_project_id, period="2026-10"),
        id=f"time-to-bill/{opportunity.psa_project_id}/2026-10",
        task_queue=worker.temporal.task_queue,
    )
    assert (await billing.result()).outcome is Outcome.NOTHING_TO_INVOICE
    posted = await cli_json(env, "audit", "--workflow", billing.id, "--kind", "posted")
    assert [a["detail"].split(":")[0] for a in posted] == ["post time", "post expenses"]
    assert all(a["user"] is None and "0 posted" in a["detail"] for a in posted)
    table = await cli(env, "audit", "--workflow", billing.id)
    assert table.exit_code == 0 and "post expenses" in table.stdout


async def test_a_discard_needs_a_reason_and_a_person_and_is_audited(
    client: Client, worker: Settings, sandbox: Sandbox, config_file: Path
) -> None:
    env = env_for(config_file, PSFLOW_TASK_QUEUE=worker.temporal.task_queue)
    wid = await fails_for_good(client, worker, sandbox, new_deal(sandbox))
    letter_id = str((await letter_for(env, wid))["id"])

    no_reason = await cli(env, "dlq", "discard", letter_id, "--as", "greta")
    assert no_reason.exit_code == 1 and "discard needs --reason" in no_reason.output
    nobody = await cli(env, "dlq", "discard", letter_id, "--reason", "deal withdrawn")
    assert nobody.exit_code == 1 and "discard needs --as" in nobody.output
    assert (await letter_for(env, wid))["state"] == "open"

    discarded = await cli(
        env, "dlq", "discard", letter_id, "--reason", "deal withdrawn", "--as", "greta"
    )
    assert discarded.exit_code == 0, discarded.output
    closed = await letter_for(env, wid, "discarded")
    assert (closed["closed_by"], closed["reason"]) == ("greta", "deal withdrawn")
    audited = await cli_json(env, "audit", "--workflow", wid, "--user", "greta")
    assert [(a["kind"], a["detail"]) for a in audited] == [
        ("discarded", f"dead letter {letter_id}: deal withdrawn")
    ]
    table = await cli(env, "audit", "--kind", "discarded", "--since", "2020-01-01")
    assert table.exit_code == 0 and "greta" in table.stdout

    retry = await cli(env, "dlq", "retry", letter_id, "--as", "greta")
    assert retry.exit_code == 1 and "already discarded" in retry.output
    bad_date = await cli(env, "audit", "--since", "last week")
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.output

    for command in (("show", "999999"), ("retry", "999999", "--as", "greta")):
        missing = await cli(env, "dlq", *command)
        assert missing.exit_code == 1 and "no dead letter 999999" in missing.output
    gone = await cli(env, "dlq", "discard", "999999", "--reason", "x", "--as", "greta")
    assert gone.exit_code == 1 and "no dead letter 999999" in gone.output
    not_a_number = await cli(env, "dlq", "show", "three")
    assert not_a_number.exit_code == 2
    bad_kind = await cli(env, "audit", "--kind", "approve")
    assert bad_kind.exit_code == 2 and "'approve' is not one of approved" in bad_kind.output


def test_an_encrypted_input_opens_after_key_rotation_and_never_lies_in_the_store_in_clear(
    tmp_path: Path,
) -> None:
    config = write_settings(tmp_path)  # keys 2026-05 and 2026-11, current 2026-11
    settings = Settings.model_validate({"data_dir": tmp_path / "data"})
    event = WorkerEvent(
        event_id="evt-1",
        kind=WorkerEventKind.TRANSFER,
        worker_id="30007",
        effective_date=date(2026, 11, 1),
        occurred_at=datetime(2026, 10, 30, tzinfo=UTC),
        sequence=2,
        changes={"cost_rate": "187.25", "cost_center": "CC-1200"},
    )

    def failed(workflow: str, run_id: str) -> FailedRun:
        return FailedRun(
            workflow_id=workflow,
            run_id=run_id,
            workflow_type="worker-change",
            business_key="30007/evt-1",
            step="update ERP employee",
            error="ERP answered 400",
            input=event.model_dump(mode="json"),
            failed_at=datetime(2026, 11, 2, tzinfo=UTC),
        )

    # Sealed under the key that was current then; the key has rotated since.
    old_key = {"2026-05": SecretStr(CODEC_KEYS["2026-05"])}
    before = codec_from(CodecSettings(keys=old_key, current="2026-05"))
    engine = open_engine(settings.resolved_store_url)
    record_dead_letter(engine, failed("worker-change/30007/evt-1", "run-sealed"), before)
    record_dead_letter(engine, failed("worker-change/30007/evt-2", "run-plain"), None)
    engine.dispose()
    raw = stored_input(settings, "worker-change/30007/evt-1")
    assert "187.25" not in raw and "CC-1200" not in raw and "30007" not in raw
    assert "187.25" in stored_input(settings, "worker-change/30007/evt-2")  # no keys: as before

    env = env_for(config)
    shown = runner.invoke(app, ["dlq", "show", "1"], env=env)
    assert shown.exit_code == 0, shown.output
    assert '"cost_rate": "187.25"' in shown.stdout and 'key id "2026-05"' in shown.stdout
    listed = json.loads(runner.invoke(app, ["dlq", "list", "--json"], env=env).stdout)
    assert [(d["input"]["changes"]["cost_rate"], d["input_key_id"]) for d in listed] == [
        ("187.25", "2026-05"),
        ("187.25", None),
    ]

    # Once the old key is dropped, the letter says which key it needs; nothing is started.
    dropped = config.read_text().replace(f'"2026-05" = "{CODEC_KEYS["2026-05"]}", ', "")
    (tmp_path / "new-key-only.toml").write_text(dropped)
    env = env_for(tmp_path / "new-key-only.toml")
    for command in (["show", "1"], ["retry", "1", "--as", "fatima"], ["list", "--json"]):
        refused = runner.invoke(app, ["dlq", *command], env=env)
        assert refused.exit_code == 1, refused.output
        assert 'key id "2026-05", which [codec] keys does not list' in refused.output
    assert runner.invoke(app, ["dlq", "list"], env=env).exit_code == 0  # the table needs no key
    plain = write_settings(tmp_path, name="plain.toml", codec=False)
    no_keys = runner.invoke(app, ["dlq", "show", "1"], env=env_for(plain))
    assert no_keys.exit_code == 1 and "[codec] keys lists none" in no_keys.output
