"""Checks made before starting a workflow, so a wrong key starts nothing.

Keyed by workflow name; a workflow without a check here starts unchecked and its first step
validates the key.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from application.errors import AppError
from config import Settings, SystemSettings
from connectors.errors import (
    AuthenticationFailed,
    NotFound,
    RateLimited,
    RequestRejected,
    SystemUnavailable,
)

Precheck = Callable[[Settings, str], Awaitable[None]]
CHECK_TIMEOUT_SECONDS = 10.0


@asynccontextmanager
async def checking(system: str, settings: SystemSettings, what: str) -> AsyncIterator[None]:
    """Turn a connector's typed errors into one line naming `what` and the fix."""
    label = system.upper()
    try:
        yield
    except NotFound:
        raise AppError(f"{what} does not exist in the {label}: check the id") from None
    except (SystemUnavailable, RateLimited):
        raise AppError(
            f"cannot check {what}: the {label} at {settings.url} does not answer; "
            "start the sandbox with `psflow sandbox up` or `psflow dev`, "
            f"or set PSFLOW_{label}_URL"
        ) from None
    except AuthenticationFailed:
        raise AppError(
            f"the {label} at {settings.url} refused psflow's credentials: "
            f"check PSFLOW_{label}_CLIENT_ID and PSFLOW_{label}_CLIENT_SECRET"
        ) from None
    except RequestRejected as exc:
        reason = exc.message.partition(f"answered {exc.status}: ")[2] or exc.message
        raise AppError(f"the {label} does not accept {what} ({reason}): check the id") from None


async def opportunity_exists(settings: Settings, opportunity_id: str) -> None:
    """The opportunity must exist in the CRM; its data is the workflow's to validate."""
    from connectors import systems

    crm = settings.crm
    connector = systems.crm(settings, timeout_seconds=CHECK_TIMEOUT_SECONDS)
    try:
        async with checking("crm", crm, f"opportunity {opportunity_id}"):
            # One field is enough to learn that the record exists.
            await connector.get_opportunity_values(opportunity_id, ["currency"])
    finally:
        await connector.aclose()


async def worker_exists(settings: Settings, worker_id: str) -> None:
    """The worker must exist in the HCM; their attributes are the workflow's to validate."""
    from connectors import systems

    hcm = settings.hcm
    connector = systems.hcm(settings, timeout_seconds=CHECK_TIMEOUT_SECONDS)
    try:
        async with checking("hcm", hcm, f"worker {worker_id}"):
            await connector.get_worker(worker_id)
    finally:
        await connector.aclose()


async def project_exists(settings: Settings, key: str) -> None:
    """The PSA project of `<project>/<period>` must exist; its entries are the workflow's."""
    from connectors import systems

    project_id = key.rpartition("/")[0]
    psa = settings.psa
    connector = systems.psa(settings, timeout_seconds=CHECK_TIMEOUT_SECONDS)
    try:
        async with checking("psa", psa, f"project {project_id}"):
            if await connector.billing_project(project_id) is None:
                raise AppError(f"project {project_id} does not exist in the PSA: check the id")
    finally:
        await connector.aclose()


PRECHECKS: dict[str, Precheck] = {
    "opportunity-to-project": opportunity_exists,
    "hire-to-staff": worker_exists,
    "time-to-bill": project_exists,
}


async def precheck(settings: Settings, workflow_name: str, key: str) -> None:
    """Run the workflow's check, if it has one."""
    check = PRECHECKS.get(workflow_name)
    if check is not None:
        await check(settings, key)
