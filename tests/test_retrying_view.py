"""What `psflow status` and `psflow list` make of a retried activity, from a hand-built
pending-activity record (the live journey is in tests/test_cli_retrying.py)."""

import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflow.v1 import PendingActivityInfo
from typer.testing import CliRunner

from application.retrying import attach, decoded_failure, retrying_from, system_of
from cli.main import app
from cli.options import duration_option
from cli.render import list_table, status_view
from connectors.errors import error_for_status
from models.retrying import LAST_ERROR_CHARS, Retrying
from models.status import RunState, Step, StepState, WorkflowStatus
from tests.support import encrypting_converter

NOW = datetime.now(UTC).replace(microsecond=0)
MESSAGE = "GET /services/rest/record/v1/customer/eid:c-1 answered 503: injected fault"


def pending(attempt: int, state: PendingActivityState.ValueType) -> PendingActivityInfo:
    info = PendingActivityInfo(activity_id="7", attempt=attempt, state=state)
    info.activity_type.name = "erp.upsert_customer"
    info.last_attempt_complete_time.FromDatetime(NOW - timedelta(seconds=4))
    info.next_attempt_schedule_time.FromDatetime(NOW + timedelta(seconds=30))
    info.scheduled_time.FromDatetime(NOW + timedelta(seconds=30))
    return info


async def encoded_503() -> Failure:
    """The failure as the server keeps it: encrypted by the estate's codec."""
    failure = Failure()
    await encrypting_converter().encode_failure(error_for_status("erp", 503, MESSAGE), failure)
    return failure


def status_with(retrying: Retrying | None) -> WorkflowStatus:
    status = WorkflowStatus(
        workflow_id="opportunity-to-project/006Hs0000000001IAA",
        workflow="opportunity-to-project",
        state=RunState.RUNNING,
        business_key="006Hs0000000001IAA",
        customer="Acme",
        steps=[
            Step(name="read opportunity", state=StepState.DONE, started_at=NOW),
            Step(name="upsert ERP customer", state=StepState.RUNNING, started_at=NOW),
            Step(name="create ERP project"),
        ],
    )
    return attach(status, retrying)


def rendered(renderable: object, width: int = 160) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(renderable)
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()


async def test_an_encrypted_503_names_the_system_status_and_message() -> None:
    failure = await encoded_503()
    assert MESSAGE not in failure.message  # the server only ever sees it encrypted
    message, details = await decoded_failure(encrypting_converter(), failure)
    assert message == f"erp: {MESSAGE}"
    assert details == {"system": "erp", "status": 503, "fields": []}

    since = NOW - timedelta(minutes=12)
    info = pending(4, PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED)
    retrying = retrying_from(info, message, details, since)
    assert retrying == Retrying(
        activity="erp.upsert_customer",
        system="ERP",
        attempt=4,
        last_error=f"erp: {MESSAGE}",
        http_status=503,
        since=since,
        last_attempt_at=NOW - timedelta(seconds=4),
        next_try=NOW + timedelta(seconds=30),
    )
    assert retrying.retrying_for(NOW) == timedelta(minutes=12)


def test_an_attempt_in_flight_has_no_next_try_and_long_errors_are_cut() -> None:
    info = pending(3, PendingActivityState.PENDING_ACTIVITY_STATE_STARTED)
    retrying = retrying_from(info, "x" * 9000, {}, NOW)
    assert retrying.next_try is None
    assert retrying.last_error is not None and len(retrying.last_error) == LAST_ERROR_CHARS
    assert retrying.last_error.endswith("…")
    assert retrying.system == "ERP"  # from the activity, as the error names none


@pytest.mark.parametrize(
    ("activity", "details", "system"),
    [
        ("billing.post_page", {"system": "erp"}, "ERP"),
        ("erp.upsert_customer", {}, "ERP"),
        ("ErpActivities.upsert_customer", {}, "ERP"),
        ("changes.set_psa_budget", {}, "PSA"),
        ("store.record_audit", {}, "store"),
        ("policy.deal_policy", {}, None),
    ],
)
def test_the_system_comes_from_the_error_else_the_activity(
    activity: str, details: dict[str, object], system: str | None
) -> None:
    assert system_of(activity, details) == system


def sample(attempt: int = 4) -> Retrying:
    now = datetime.now(UTC)  # shown relative to the clock: 12m ago, in 29s
    return Retrying(
        activity="erp.upsert_customer",
        system="ERP",
        attempt=attempt,
        last_error=f"erp: {MESSAGE}",
        http_status=503,
        since=now - timedelta(minutes=12),
        last_attempt_at=now - timedelta(seconds=4),
        next_try=now + timedelta(seconds=30),
    )


def test_status_shows_the_retried_step_with_system_error_attempt_and_times() -> None:
    status = status_with(sample())
    assert [s.retrying is not None for s in status.steps] == [False, True, False]
    text = rendered(status_view(status))
    [row] = [line for line in text.splitlines() if "upsert ERP customer" in line and "│" in line]
    assert "retrying" in row and "ERP, attempt 4" in row
    assert "retrying: upsert ERP customer" in text
    assert "ERP (erp.upsert_customer), attempt 4" in text
    assert "since " in text and "(12m ago)" in text
    assert "next try " in text and "(in 2" in text  # in 29s or 30s
    assert f"last error: erp: {MESSAGE}" in text
    dumped = status.model_dump(mode="json")["steps"][1]["retrying"]
    assert dumped["system"] == "ERP" and dumped["attempt"] == 4 and dumped["http_status"] == 503


def test_list_marks_a_retried_run_as_waiting_for_its_system() -> None:
    calm = status_with(None)
    calm.workflow_id = "opportunity-to-project/006Hs0000000002IAA"
    text = rendered(list_table([(status_with(sample()), "upsert ERP customer"), (calm, None)]))
    retried, healthy = (line for line in text.splitlines() if "opportunity-to-project/" in line)
    assert "retrying" in retried and "ERP (attempt 4)" in retried and "12m ago" in retried
    assert "running" in healthy and "retrying" not in healthy and "ERP" not in healthy
    narrow = rendered(list_table([(status_with(sample()), "upsert ERP customer")], 80), 80)
    assert "retrying" in narrow and "ERP (attempt" in narrow  # folded, not dropped


@pytest.mark.parametrize(
    ("text", "length"),
    [("10m", timedelta(minutes=10)), ("1s", timedelta(seconds=1)), ("90", timedelta(seconds=90)),
     ("2h", timedelta(hours=2)), ("PT1H", timedelta(hours=1)), ("1d", timedelta(days=1))],
)  # fmt: skip
def test_durations_read_as_in_the_settings(text: str, length: timedelta) -> None:
    assert duration_option(text, "--for") == length


runner = CliRunner()


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("PSFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--for", "5m"], "--for goes with --stalled"),
        (["--stalled", "--for", "soon"], "'soon' is not a duration"),
        (["--stalled", "--all"], "--stalled lists running workflows only"),
    ],
)
def test_stalled_options_are_checked_before_temporal_is_asked(
    isolated: None, args: list[str], says: str
) -> None:
    result = runner.invoke(app, ["--address", "127.0.0.1:9", "list", *args])
    assert result.exit_code == 2, result.output
    assert says in " ".join(result.stderr.split())
