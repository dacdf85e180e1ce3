"""The baseline: a bare Temporal workflow that runs N no-op activities one after another.

bench.bare_worker runs it (`python -m bench.bare_worker`).
"""

from datetime import timedelta

from temporalio import activity, workflow

NAME = "bench-bare"
TASK_QUEUE = "bench-bare"


@activity.defn(name="bench.noop")
async def noop(step: int) -> int:
    """Does nothing, as fast as the SDK allows."""
    return step


@workflow.defn(name=NAME)
class BareWorkflow:
    @workflow.run
    async def run(self, activities: int) -> int:
        for step in range(activities):
            await workflow.execute_activity(
                noop, step, start_to_close_timeout=timedelta(seconds=30)
            )
        return activities
