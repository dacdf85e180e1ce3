"""`python -m bench.bare_worker`: a worker for the bare workflows on their own task queue,
with the same `[worker]` settings (slots, pollers, cache, eager activities, sandbox) as the
psflow worker, so the two differ only in what their workflows do. It runs psflow's own
activities too (for bench.bare_saga), without psflow's activity interceptor."""

import asyncio
import contextlib
import gc
import logging
from contextlib import AsyncExitStack

from temporalio.worker import Worker

from bench.bare import TASK_QUEUE, BareWorkflow, noop
from bench.bare_saga import BareSaga
from config import load_settings
from store.db import open_engine
from worker import build_activities, connect, worker_options


async def run_bare_worker() -> None:
    """The bare worker, until interrupted."""
    settings = load_settings()
    client = await connect(settings)
    async with AsyncExitStack() as stack:
        engine = open_engine(settings.resolved_store_url)
        stack.callback(engine.dispose)
        methods, executor = build_activities(settings, client, engine, stack)
        worker = Worker(
            client,
            task_queue=TASK_QUEUE,
            workflows=[BareWorkflow, BareSaga],
            activities=[noop, *methods],
            activity_executor=executor,
            **worker_options(settings.worker),
        )
        async with worker:
            logging.getLogger("bench.bare").info("worker polling task queue %s", TASK_QUEUE)
            await asyncio.Future()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_bare_worker())
    finally:
        gc.collect()  # free Temporal's Rust-backed objects before interpreter shutdown


if __name__ == "__main__":
    main()
