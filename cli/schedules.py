"""`psflow schedules apply`: the Temporal Schedule that runs reconciliation, as settings say."""

from datetime import timedelta

import typer
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from application.temporal import connect, rpc_problem
from cli.options import JsonOption
from cli.output import console, print_json
from cli.state import run, settings_of
from config import Settings
from models.reconcile import RECONCILE, SCHEDULE_ID, ReconcileInput

app = typer.Typer(
    name="schedules", help="Temporal Schedules psflow runs on its own.", no_args_is_help=True
)

SCHEDULED_WORKFLOW_ID = "reconcile/scheduled"
"""Temporal appends the scheduled time to it: reconcile/scheduled-2026-11-23T15:00:00Z."""


def interval_text(every: timedelta) -> str:
    """1h, 30m, 1d 2h: how people write intervals."""
    seconds = int(every.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s"))
    ]
    return " ".join(p for p in parts if not p.startswith("0")) or "0s"


def wanted_schedule(settings: Settings) -> Schedule:
    """Reconcile every `[reconcile] every` on the configured task queue; a run still going
    when the next is due makes the next one skip, and a run missed while Temporal was down is
    made up only within one interval (the next is due by then anyway)."""
    every = settings.reconcile.every
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RECONCILE,
            ReconcileInput(requested_by="schedule"),
            id=SCHEDULED_WORKFLOW_ID,
            task_queue=settings.temporal.task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=every),
    )


def _differences(current: Schedule, wanted: Schedule) -> list[str]:
    """What differs between the schedule Temporal has and the one settings want."""
    found = []
    now_every = [i.every for i in current.spec.intervals]
    want_every = [i.every for i in wanted.spec.intervals]
    if now_every != want_every:
        was = ", ".join(interval_text(e) for e in now_every) or "none"
        found.append(f"interval {was} -> {interval_text(want_every[0])}")
    action, want = current.action, wanted.action
    assert isinstance(want, ScheduleActionStartWorkflow)
    if not isinstance(action, ScheduleActionStartWorkflow):
        return [*found, "action -> start reconcile"]
    for name in ("workflow", "task_queue", "id"):
        if getattr(action, name) != getattr(want, name):
            found.append(f"{name} {getattr(action, name)} -> {getattr(want, name)}")
    if current.policy.overlap != wanted.policy.overlap:
        found.append("overlap -> skip")
    now_catchup, want_catchup = current.policy.catchup_window, wanted.policy.catchup_window
    if want_catchup is not None and now_catchup != want_catchup:
        was = interval_text(now_catchup) if now_catchup else "none"
        found.append(f"catch-up window {was} -> {interval_text(want_catchup)}")
    return found


async def apply_schedules(client: Client, settings: Settings) -> tuple[str, list[str]]:
    """Create the reconcile schedule, or update it to the settings; (what was done, changes)."""
    wanted = wanted_schedule(settings)
    handle = client.get_schedule_handle(SCHEDULE_ID)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise rpc_problem(exc, settings) from None
        try:
            await client.create_schedule(SCHEDULE_ID, wanted)
            return "created", []
        except ScheduleAlreadyRunningError:  # created by a concurrent apply
            description = await handle.describe()
    changes = _differences(description.schedule, wanted)
    if not changes:
        return "unchanged", []

    def update(input: ScheduleUpdateInput) -> ScheduleUpdate:
        # A schedule an operator paused stays paused, with the note saying why.
        wanted.state = input.description.schedule.state
        return ScheduleUpdate(schedule=wanted)

    try:
        await handle.update(update)
    except RPCError as exc:
        raise rpc_problem(exc, settings) from None
    return "updated", changes


@app.command("apply")
def apply(ctx: typer.Context, json: JsonOption = False) -> None:
    """Create or update psflow's schedules from the settings; running it again changes nothing.

    Example: psflow schedules apply
    """
    settings = settings_of(ctx)

    async def body() -> tuple[str, list[str]]:
        return await apply_schedules(await connect(settings), settings)

    done, changes = run(body())
    every = interval_text(settings.reconcile.every)
    queue = settings.temporal.task_queue
    if json:
        print_json(
            {
                "schedule": SCHEDULE_ID,
                "action": done,
                "changes": changes,
                "every": every,
                "task_queue": queue,
            }
        )
        return
    what = f"reconcile every {every} on task queue {queue}"
    if done == "created":
        console.print(f"created schedule {SCHEDULE_ID}: {what}")
    elif done == "updated":
        console.print(f"updated schedule {SCHEDULE_ID}: {'; '.join(changes)}")
    else:
        console.print(f"schedule {SCHEDULE_ID} is up to date: {what}")
