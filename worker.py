"""The psflow worker: builds the connectors, registers every workflow and activity, runs."""

import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import PollerBehaviorSimpleMaximum, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import telemetry
from activities.billing import BillingActivities
from activities.change_orders import ChangeOrderActivities
from activities.crm import CrmActivities
from activities.employees import EmployeeActivities
from activities.erp import ErpActivities
from activities.hcm import HcmActivities
from activities.in_flight import InFlight
from activities.invoicing import InvoicingActivities
from activities.policy import PolicyActivities
from activities.psa import PsaActivities
from activities.reconcile import ReconcileActivities
from activities.retry_window import RetryWindowInterceptor
from activities.staffing import StaffingActivities
from activities.store import StoreActivities
from config import ConfigError, Settings, WorkerSettings, load_settings
from connectors import systems
from connectors.base import Connector
from security.codec import codec_from, data_converter, plaintext_problem
from security.issuer import public_keys
from store.db import StoreError, open_engine
from workflows.catalog import ALL_WORKFLOWS, WORKFLOW_TYPES

log = logging.getLogger("psflow.worker")
C = TypeVar("C", bound=Connector)


def worker_options(tuning: WorkerSettings) -> dict[str, Any]:
    """The Worker keyword arguments `[worker]` sets: slots, pollers, cache, eagerness, sandbox."""
    options: dict[str, Any] = {
        "max_concurrent_activities": tuning.max_concurrent_activities,
        "max_concurrent_workflow_tasks": tuning.max_concurrent_workflow_tasks,
        "activity_task_poller_behavior": PollerBehaviorSimpleMaximum(tuning.activity_pollers),
        "workflow_task_poller_behavior": PollerBehaviorSimpleMaximum(tuning.workflow_pollers),
        "max_cached_workflows": tuning.max_cached_workflows,
        "disable_eager_activity_execution": not tuning.eager_activities,
    }
    options["workflow_runner"] = sandbox_runner(tuning.sandbox_passthrough)
    return options


# Checking decision proofs in workflows calls into these; they import parts of themselves
# (and the Rust and C extensions behind them) on first use, which a sandbox cannot import anew.
PROOF_MODULES = ("jwt", "cryptography", "_cffi_backend")


def sandbox_runner(passthrough_all: bool = False) -> SandboxedWorkflowRunner:
    """Temporal's workflow sandbox, with the proof libraries passed through (all modules
    with `[worker] sandbox_passthrough`)."""
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*PROOF_MODULES)
    if passthrough_all:
        restrictions = restrictions.with_passthrough_all_modules()
    return SandboxedWorkflowRunner(restrictions=restrictions)


async def connect(settings: Settings) -> Client:
    """A Temporal client speaking pydantic models, encrypted when `[codec]` has keys."""
    return await Client.connect(
        settings.temporal.address,
        namespace=settings.temporal.namespace,
        data_converter=data_converter(settings),
        plugins=telemetry.client_plugins(settings),  # traces, when [telemetry] traces is set
        runtime=telemetry.metrics_runtime(settings.telemetry),  # Prometheus, when set
    )


def build_activities(
    settings: Settings, client: Client, engine: Engine, stack: AsyncExitStack
) -> tuple[list[Callable[..., Any]], ThreadPoolExecutor]:
    """Every activity method, bound to connectors `stack` closes, and the thread pool the
    store's synchronous ones run in."""
    crm, erp = systems.crm(settings), systems.erp(settings)
    psa, hcm = systems.psa(settings), systems.hcm(settings)
    for connector in (crm, erp, psa, hcm):
        stack.push_async_callback(connector.aclose)
    # Only the store's synchronous activities use these threads, started on demand.
    threads = ThreadPoolExecutor(max_workers=settings.worker.max_concurrent_activities)
    executor = stack.enter_context(threads)
    objects = [
        CrmActivities(crm),
        ErpActivities(erp),
        PsaActivities(psa),
        HcmActivities(hcm),
        StaffingActivities(psa),
        EmployeeActivities(erp),
        PolicyActivities(
            settings.policy,
            settings.staffing,
            settings.billing,
            settings.change_orders,
            partial(public_keys, engine),
        ),
        StoreActivities(engine, codec_from(settings.codec)),
        BillingActivities(psa, erp, engine, settings.billing),
        InvoicingActivities(erp, crm),
        ChangeOrderActivities(psa, erp, crm, client),
        ReconcileActivities(crm, erp, psa, engine, client, settings.reconcile.policy()),
    ]
    methods = [
        getattr(obj, name)
        for obj in objects
        for name in dir(obj)
        if hasattr(getattr(obj, name), "__temporal_activity_definition")
    ]
    return methods, executor


async def run_worker(
    settings: Settings, *, client: Client | None = None, stop: asyncio.Event | None = None
) -> None:
    """Run the worker until `stop` is set (or forever); connectors are closed on the way out."""
    problem = plaintext_problem(settings)
    if problem:
        raise ConfigError(problem)
    async with AsyncExitStack() as stack:
        engine = open_engine(settings.resolved_store_url)  # a bad store_url fails first
        stack.callback(engine.dispose)
        client = client or await connect(settings)
        client = await telemetry.on_metrics_runtime(client, settings.telemetry)
        queue = settings.temporal.task_queue
        telemetry.kpis_at_zero(client, settings.telemetry, queue, WORKFLOW_TYPES)
        methods, executor = build_activities(settings, client, engine, stack)
        in_flight = InFlight()
        grace = settings.worker.shutdown_grace_seconds
        worker = Worker(
            client,
            task_queue=settings.temporal.task_queue,
            workflows=ALL_WORKFLOWS,
            activities=methods,
            activity_executor=executor,
            interceptors=[in_flight, RetryWindowInterceptor(settings.retry.windows(), client)],
            plugins=telemetry.worker_plugins(settings, client),
            graceful_shutdown_timeout=timedelta(seconds=grace),
            **worker_options(settings.worker),
        )
        async with worker:
            log.info("worker polling task queue %s", settings.temporal.task_queue)
            try:
                await (stop.wait() if stop else asyncio.Future())
            finally:
                running = in_flight.stop()
                log.info("worker stopping: %d activities in flight, %g s to finish", running, grace)
                _evict_cached_runs(worker)
        counts = in_flight.counts
        log.info(
            "worker stopped: %d activities finished while stopping, %d handed back to Temporal",
            counts.finished_while_stopping,
            counts.handed_back,
        )


def _evict_cached_runs(worker: Worker) -> None:
    """Ask for every cached run to be evicted, so that the shutdown that follows waits for it.

    temporalio 1.35 stops a worker without evicting the runs idle in its cache (one waiting
    for an approval, say): their coroutines are left for the garbage collector, which closes
    them on whatever thread and event loop it runs in, outside the workflow's, and their
    `finally` blocks and open spans fail there ("Not in workflow event loop", OpenTelemetry's
    "Failed to detach context"). An eviction cancels them inside their own event loop instead.
    It uses the SDK's private attributes, hence the guard: without them, nothing is evicted.
    """
    workflows = getattr(worker, "_workflow_worker", None)
    running = getattr(workflows, "_running_workflows", None)
    bridge = getattr(workflows, "_bridge_worker", None)
    if not running or bridge is None:
        return
    for run_id in list(running):
        bridge().request_workflow_eviction(run_id)


async def run_until_signalled(settings: Settings) -> None:
    """Run the worker until SIGINT or SIGTERM (how a container platform stops it)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_worker(settings, stop=stop)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = load_settings()
        asyncio.run(run_until_signalled(settings))
    except (ConfigError, StoreError) as exc:
        sys.exit(f"error: {exc}")  # exit 1, no traceback
    except RuntimeError as exc:
        if not str(exc).startswith("Failed client connect"):  # how the SDK core says it
            raise
        sys.exit(
            f"error: cannot reach Temporal at {settings.temporal.address}: "
            "start it (psflow dev) or set PSFLOW_TEMPORAL_ADDRESS"
        )
    finally:
        gc.collect()  # free Temporal's Rust-backed objects before interpreter shutdown


if __name__ == "__main__":
    main()
