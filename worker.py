"""The psflow worker: builds the connectors, registers every workflow and activity, runs."""

import asyncio
import gc
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from typing import TypeVar

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from activities.billing import BillingActivities
from activities.change_orders import ChangeOrderActivities
from activities.crm import CrmActivities
from activities.employees import EmployeeActivities
from activities.erp import ErpActivities
from activities.hcm import HcmActivities
from activities.invoicing import InvoicingActivities
from activities.policy import PolicyActivities
from activities.psa import PsaActivities
from activities.staffing import StaffingActivities
from activities.store import StoreActivities
from config import Settings, SystemSettings, load_settings
from connectors.base import Connector
from connectors.crm import CrmConnector
from connectors.erp import ErpConnector
from connectors.hcm import HcmConnector
from connectors.psa import PsaConnector
from store.db import open_engine
from workflows.catalog import ALL_WORKFLOWS

log = logging.getLogger("psflow.worker")
C = TypeVar("C", bound=Connector)


def _connector(cls: type[C], system: SystemSettings) -> C:
    return cls.build(
        system.url,
        system.client_id,
        system.client_secret.get_secret_value(),
        concurrency=system.concurrency,
        timeout_seconds=system.timeout_seconds,
    )


async def connect(settings: Settings) -> Client:
    """A Temporal client speaking pydantic models."""
    return await Client.connect(
        settings.temporal.address,
        namespace=settings.temporal.namespace,
        data_converter=pydantic_data_converter,
    )


async def run_worker(
    settings: Settings, *, client: Client | None = None, stop: asyncio.Event | None = None
) -> None:
    """Run the worker until `stop` is set (or forever); connectors are closed on the way out."""
    client = client or await connect(settings)
    async with AsyncExitStack() as stack:
        crm = _connector(CrmConnector, settings.crm)
        erp = _connector(ErpConnector, settings.erp)
        psa = _connector(PsaConnector, settings.psa)
        hcm = HcmConnector.build(
            settings.hcm.url,
            settings.hcm.client_id,
            settings.hcm.client_secret.get_secret_value(),
            tenant=settings.hcm.tenant,
            concurrency=settings.hcm.concurrency,
            timeout_seconds=settings.hcm.timeout_seconds,
        )
        for connector in (crm, erp, psa, hcm):
            stack.push_async_callback(connector.aclose)
        engine = open_engine(settings.resolved_store_url)
        stack.callback(engine.dispose)
        executor = stack.enter_context(ThreadPoolExecutor(max_workers=4))
        activity_objects = [
            CrmActivities(crm),
            ErpActivities(erp),
            PsaActivities(psa),
            HcmActivities(hcm),
            StaffingActivities(psa),
            EmployeeActivities(erp),
            PolicyActivities(
                settings.policy, settings.staffing, settings.billing, settings.change_orders
            ),
            StoreActivities(engine),
            BillingActivities(psa, erp, engine),
            InvoicingActivities(erp, crm),
            ChangeOrderActivities(psa, erp, crm, client),
        ]
        worker = Worker(
            client,
            task_queue=settings.temporal.task_queue,
            workflows=ALL_WORKFLOWS,
            activities=[
                getattr(obj, name)
                for obj in activity_objects
                for name in dir(obj)
                if hasattr(getattr(obj, name), "__temporal_activity_definition")
            ],
            activity_executor=executor,
        )
        async with worker:
            log.info("worker polling task queue %s", settings.temporal.task_queue)
            await (stop.wait() if stop else asyncio.Future())


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        asyncio.run(run_worker(load_settings()))
    finally:
        gc.collect()  # free Temporal's Rust-backed objects before interpreter shutdown


if __name__ == "__main__":
    main()
