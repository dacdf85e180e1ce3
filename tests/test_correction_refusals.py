"""Decisions a person or a raw client gets wrong are refused; the run never wedges.

Real dev server, worker and sandbox. A workflow task that fails on user input shows in the
history as WorkflowTaskFailed, and every retry of it fails the same way: these tests look
there as well as at the refusal.
"""

import asyncio
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import RawValue
from temporalio.exceptions import FailureError
from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker import Worker as TemporalWorker

from config import Settings
from models.audit import AuditEntry
from models.hcm import Worker
from models.hire_to_staff import resource_external_id
from models.identity import Identity
from models.people import Approval, Correction
from models.policy import PeoplePolicy
from models.status import FieldProblem, RunState, WaitKind, WorkflowStatus
from sandbox.hcm.seed import DEMO_WORKERS
from security.issuer import LOCAL_ISSUER, issue_proof, public_keys
from store.db import open_engine
from tests.saga_support import fresh_deals, fresh_prehire
from tests.support import Sandbox, Systems, encrypting_converter, proof, proven
from tests.test_hire_to_staff import hcm_event, hire
from tests.test_opportunity_to_project import start, waiting_for
from workflows.hire_to_staff import HireToStaff
from workflows.interaction import Interactive
from workflows.opportunity_to_project import OpportunityToProject

UPDATE_TIMEOUT = 15  # a wedged run never answers an update: give up and read its history


async def task_failures(handle: WorkflowHandle[Any, Any]) -> list[str]:
    """The run's failed workflow tasks, decoded (none, for a healthy run)."""
    history = await handle.fetch_history()
    failed = [
        e.workflow_task_failed_event_attributes.failure
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    ]
    return [repr(await encrypting_converter().decode_failure(f)) for f in failed]


async def answered(handle: WorkflowHandle[Any, Any], name: str, *args: Any) -> Any:
    """The update's answer, kept raw (a client without the codec cannot read it); fails the
    test, naming the failed workflow tasks, if none comes."""
    try:
        async with asyncio.timeout(UPDATE_TIMEOUT):
            return await handle.execute_update(name, args=list(args), result_type=RawValue)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        failures = await task_failures(handle)
        pytest.fail(f"update {name}{args} never answered; failed workflow tasks: {failures}")


async def update_refusal(handle: WorkflowHandle[Any, Any], name: str, *args: Any) -> str:
    """The message an update is refused with; fails the test if it is taken or never answered."""
    try:
        await answered(handle, name, *args)
    except WorkflowUpdateFailedError as refused:
        cause = refused.cause
        return cause.message if isinstance(cause, FailureError) else str(cause)
    pytest.fail(f"update {name}{args} was taken")


async def result_of(handle: WorkflowHandle[Any, Any], within: float = 60) -> Any:
    """The run's result; fails the test, naming the failed workflow tasks, if it never ends."""
    try:
        async with asyncio.timeout(within):
            return await handle.result()
    except TimeoutError:
        failures = await task_failures(handle)
        pytest.fail(f"{handle.id} never ended; failed workflow tasks: {failures}")


async def when(
    handle: WorkflowHandle[Any, Any], ready: Callable[[WorkflowStatus], bool], within: float = 30
) -> WorkflowStatus:
    """Poll the status query briskly until `ready` holds (the fuzz sends hundreds of messages);
    a run that fails or ends on the way fails the test."""
    async with asyncio.timeout(within):
        while True:
            status = await handle.query("status", result_type=WorkflowStatus)
            assert isinstance(status, WorkflowStatus)
            if ready(status):
                return status
            assert status.state in (RunState.RUNNING, RunState.WAITING), status
            await asyncio.sleep(0.02)


def proved(settings: Settings, handle: WorkflowHandle[Any, Any], decision: str) -> dict[str, str]:
    """The `proof` field of dana's `decision` on the run, as a raw client sends it."""
    return {"proof": proof(settings, handle.id, decision, "dana")}


def refusals(status: WorkflowStatus) -> list[str]:
    return [e.detail for e in status.events if e.kind == "refused"]


def refused_more_than(count: int) -> Callable[[WorkflowStatus], bool]:
    return lambda s: len(refusals(s)) > count


async def finish_hire(settings: Settings, handle: WorkflowHandle[Any, Any]) -> str:
    """Approve the proposed assignment if there is one (proven by `settings`, the worker's);
    the outcome."""
    status = await when(
        handle, lambda s: s.state == RunState.COMPLETED or waiting_for(WaitKind.APPROVAL)(s)
    )
    if status.waiting_for is not None:
        approval = proven(settings, handle.id, "approve", Approval(user="rita"))
        await handle.execute_update(HireToStaff.approve, approval)
    result = await result_of(handle)
    return str(result.outcome)


async def test_a_cost_rate_that_is_not_a_number_is_refused_and_the_run_goes_on(
    client: Client, worker: Settings, systems: Systems, sandbox: Sandbox
) -> None:
    """`psflow correct hire-to-staff/30004 --set cost_rate=abc` used to be accepted, then fail
    every workflow task of the run on pydantic validation: the run could neither go on nor
    be updated."""
    worker_id = fresh_prehire(sandbox, DEMO_WORKERS["prehire_missing_cost_center"])
    hcm_event(sandbox, "hire", worker_id)
    handle = await hire(client, worker, worker_id)
    await when(handle, waiting_for(WaitKind.CORRECTION))

    bad = Correction(user="rita", fields={"cost_center": "CC-1100", "cost_rate": "abc"})
    message = await update_refusal(handle, "correct", proven(worker, handle.id, "correct", bad))
    assert message == "cost_rate: 'abc' is not a decimal number: give an amount such as 95.00"

    # By signal: refused in the status events (without repeating the pay field's value).
    await handle.signal(HireToStaff.correct_signal, proven(worker, handle.id, "correct", bad))
    status = await when(handle, refused_more_than(0))
    assert refusals(status) == [
        "correct refused: cost_rate: the value given is not a decimal number: "
        "give an amount such as 95.00"
    ]
    assert status.waiting_for is not None and status.waiting_for.kind == WaitKind.CORRECTION
    assert [p.field for p in status.waiting_for.problems] == ["cost_center"]

    # As the plain `temporal` CLI sends it: JSON, the amount a number.
    raw = Client(client.service_client, namespace=client.namespace)
    good = {"user": "rita", "fields": {"cost_center": "CC-1100", "cost_rate": 101.5}}
    good["proof"] = proof(worker, handle.id, "correct", "rita")
    await answered(raw.get_workflow_handle(handle.id), "correct", good)
    assert await finish_hire(worker, handle) in ("assigned", "on bench")
    resource = await systems.psa.find_resource(resource_external_id(worker_id))
    assert resource is not None and resource.cost_rate == Decimal("101.5")
    assert await task_failures(handle) == []


# What the plain `temporal` CLI or a client without psflow's models can send: JSON of any
# shape, no argument at all, or more than one.
BAD_CORRECTIONS: list[list[Any]] = [
    [],
    [None],
    ["cost_center=CC-1100"],
    [{"user": "dana"}],
    [{"user": "dana", "fields": "legal_entity=US01"}],
    [{"user": "dana", "fields": ["legal_entity", "US01"]}],
    [{"user": "dana", "fields": {}}],
    [{"user": "dana", "fields": {"legal_entity": None}}],
    [{"user": "dana", "fields": {"legal_entity": {"code": "US01"}}}],
    [{"user": "dana", "fields": {"legal_entity": True}}],
    [{"user": "", "fields": {"legal_entity": "US01"}}],
    [{"user": ["dana"], "fields": {"legal_entity": "US01"}}],
    [{"fields": {"legal_entity": "US01"}}],
    [{"user": "dana", "fields": {"legal_entity": "US01"}}, {"user": "dana"}],
]
BAD_DECISIONS: list[list[Any]] = [
    [],
    [None],
    ["dana"],
    [{}],
    [{"user": ""}],
    [{"user": None}],
    [{"user": 7}],
    [{"user": ["dana"]}],
    [{"comment": "ok"}],
    [{"user": "dana"}, {"user": "dana"}],
]


async def test_malformed_decisions_from_a_raw_client_are_refused_and_never_fail_a_task(
    client: Client, worker: Settings, systems: Systems, sandbox: Sandbox
) -> None:
    raw = Client(client.service_client, namespace=client.namespace)  # plain JSON, no models
    (broken,) = fresh_deals(sandbox, 1, like="unknown_legal_entity")
    (large,) = fresh_deals(sandbox, 1, like="large_usd")
    correcting = await start(client, worker, broken)
    approving = await start(client, worker, large)
    await when(correcting, waiting_for(WaitKind.CORRECTION))
    await when(approving, waiting_for(WaitKind.APPROVAL))
    raw_correcting = raw.get_workflow_handle(correcting.id)
    raw_approving = raw.get_workflow_handle(approving.id)

    for args in BAD_CORRECTIONS:
        await update_refusal(raw_correcting, "correct", *args)
    for name in ("approve", "reject"):
        for args in BAD_DECISIONS:
            await update_refusal(raw_approving, name, *args)

    # By signal, each is refused in the status events: none is dropped, none fails a task.
    for args in BAD_CORRECTIONS:
        await raw_correcting.signal("correct", args=args)
    for name in ("approve", "reject"):
        for args in BAD_DECISIONS:
            await raw_approving.signal(name, args=args)
    # Signals are handled in order: these good ones come after every bad one.
    fix = {"user": "dana", "fields": {"legal_entity": "US01"}}
    await raw_correcting.signal("correct", fix | proved(worker, correcting, "correct"))
    no = {"user": "dana", "reason": "not this quarter"}
    await raw_approving.signal("reject", no | proved(worker, approving, "reject"))

    fixed = await result_of(correcting)
    rejected = await result_of(approving)
    assert fixed.outcome == "completed" and rejected.outcome == "rejected"
    assert await task_failures(correcting) == []
    assert await task_failures(approving) == []
    deal = await systems.crm.get_opportunity(broken)
    assert deal.legal_entity == "US01"

    corrections = refusals(await correcting.query(OpportunityToProject.status))
    assert len(corrections) == len(BAD_CORRECTIONS)
    assert corrections[0] == (
        "correct refused: 0 arguments given, one expected: "
        'send {"user": "dana", "fields": {"legal_entity": "US01"}, "proof": "..."}'
    )
    assert corrections[4].startswith("correct refused: fields: Input should be a valid dict")
    status = await approving.query(OpportunityToProject.status)
    assert len(refusals(status)) == 2 * len(BAD_DECISIONS)
    assert refusals(status)[3].startswith("approve refused: user: Field required")
    assert status.state == RunState.REJECTED
    assert [e.user for e in status.events if e.kind == "rejected"] == ["dana"]


async def test_a_malformed_deal_change_is_refused_and_the_run_goes_on(
    client: Client, worker: Settings, sandbox: Sandbox
) -> None:
    raw = Client(client.service_client, namespace=client.namespace)
    (large,) = fresh_deals(sandbox, 1, like="large_usd")
    approving = await start(client, worker, large)
    await when(approving, waiting_for(WaitKind.APPROVAL))
    raw_handle = raw.get_workflow_handle(approving.id)
    for args in ([], [{"event_id": "evt-1", "amount": "abc", "stage": "Closed Won"}], [1, 2]):
        await raw_handle.signal("deal_changed", args=args)
    status = await when(approving, refused_more_than(2))
    assert refusals(status)[1].startswith("deal_changed refused: amount: ")
    assert status.waiting_for is not None and status.waiting_for.kind == WaitKind.APPROVAL
    no = {"user": "dana", "reason": "not this quarter"}
    await raw_handle.signal("reject", no | proved(worker, approving, "reject"))
    assert (await result_of(approving)).outcome == "rejected"
    assert await task_failures(approving) == []


# ---- the apply step, should a value ever get past the validator --------------------------


@activity.defn(name="store.record_audit")
def record_audit(entry: AuditEntry) -> None:
    """The audit log, left out: this test is about the workflow alone."""


class LaxInput(BaseModel):
    worker: Worker
    policy: PeoplePolicy
    """Whose decision proofs the run takes: the keys of the test's own issuer."""


@workflow.defn(name="lax-correction-test")
class LaxValidator(Interactive):
    """Waits for a cost rate like hire-to-staff, with validators that let anything past, as a
    worker without the model check (or a validator bug) would."""

    @workflow.init
    def __init__(self, lax: LaxInput) -> None:
        self.init_status("lax-correction-test", lax.worker.id, ["validate worker"])
        self.correctable = ("cost_rate",)
        self.policy = lax.policy

    @workflow.run
    async def run(self, lax: LaxInput) -> Worker:
        async with self.step("validate worker") as step:
            checked = await self.correct_until_valid(lax.worker, step, self._problems)
        assert isinstance(checked, Worker)
        return checked

    async def _problems(self, worker: Worker) -> list[FieldProblem]:
        missing = FieldProblem(field="cost_rate", message="cost rate is missing")
        return [] if worker.cost_rate else [missing]

    def correction_refusal(self, correction: Correction) -> str | None:
        return None

    def value_refusal(self, correction: Correction, reveal: bool) -> str | None:
        return None


def proven_by(engine: Engine, workflow_id: str, correction: Correction) -> Correction:
    """`correction` with a proof from the issuer whose keys are in `engine`'s store."""
    who = Identity(user=correction.user, subject=f"test-{correction.user}", issuer=LOCAL_ISSUER)
    return correction.model_copy(update={"proof": issue_proof(engine, who, workflow_id, "correct")})


@pytest.fixture
def own_issuer(tmp_path: Path) -> Iterator[Engine]:
    """A store of the test's own, whose issuer signs the proofs a test workflow takes."""
    engine = open_engine(f"sqlite:///{tmp_path}/s.db")
    yield engine
    engine.dispose()


async def test_a_value_that_got_past_the_validator_is_refused_not_a_task_failure(
    client: Client, own_issuer: Engine
) -> None:
    queue = f"lax-{uuid.uuid4()}"
    person = Worker(id="lax-1", wid="0" * 32, first_name="Ada", last_name="Lax",
                    hire_date=date(2026, 12, 1))  # fmt: skip
    policy = Settings().staffing.model_copy(update={"proof_keys": public_keys(own_issuer)})
    workflow_id = f"lax-correction/{queue}"
    async with TemporalWorker(
        client,
        task_queue=queue,
        workflows=[LaxValidator],
        activities=[record_audit],
        activity_executor=ThreadPoolExecutor(1),
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await client.start_workflow(
            LaxValidator.run, LaxInput(worker=person, policy=policy), id=workflow_id,
            task_queue=queue,
        )  # fmt: skip
        await when(handle, waiting_for(WaitKind.CORRECTION))
        bad = Correction(user="rita", fields={"cost_rate": "abc"})
        await answered(handle, "correct", proven_by(own_issuer, workflow_id, bad))
        status = await when(handle, refused_more_than(0))
        assert refusals(status) == [
            "correct refused: cost_rate: the value given is not a decimal number: "
            "give an amount such as 95.00"
        ]
        await when(handle, waiting_for(WaitKind.CORRECTION))
        good = Correction(user="rita", fields={"cost_rate": "95.00"})
        await handle.execute_update(LaxValidator.correct, proven_by(own_issuer, workflow_id, good))
        fixed = await result_of(handle)
    assert fixed.cost_rate == Decimal("95.00")
    assert await task_failures(handle) == []
