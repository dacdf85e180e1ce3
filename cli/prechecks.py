"""Checks made before starting a workflow, so a wrong key starts nothing.

Keyed by workflow name; a workflow without a check here starts unchecked and its first step
validates the key.
"""

from collections.abc import Awaitable, Callable

from cli.output import CliError
from config import Settings

Precheck = Callable[[Settings, str], Awaitable[None]]
CHECK_TIMEOUT_SECONDS = 10.0


async def opportunity_exists(settings: Settings, opportunity_id: str) -> None:
    """The opportunity must exist in the CRM; its data is the workflow's to validate."""
    from connectors.crm import CrmConnector
    from connectors.errors import (
        AuthenticationFailed,
        NotFound,
        RateLimited,
        RequestRejected,
        SystemUnavailable,
    )

    crm = settings.crm
    connector = CrmConnector.build(
        crm.url,
        crm.client_id,
        crm.client_secret.get_secret_value(),
        timeout_seconds=CHECK_TIMEOUT_SECONDS,
    )
    try:
        # One field is enough to learn that the record exists.
        await connector.get_opportunity_values(opportunity_id, ["currency"])
    except NotFound:
        raise CliError(
            f"opportunity {opportunity_id} does not exist in the CRM: check the id"
        ) from None
    except (SystemUnavailable, RateLimited):
        raise CliError(
            f"cannot check opportunity {opportunity_id}: the CRM at {crm.url} does not answer; "
            "start the sandbox with `psflow sandbox up` or `psflow dev`, or set PSFLOW_CRM_URL"
        ) from None
    except AuthenticationFailed:
        raise CliError(
            f"the CRM at {crm.url} refused psflow's credentials: "
            "check PSFLOW_CRM_CLIENT_ID and PSFLOW_CRM_CLIENT_SECRET"
        ) from None
    except RequestRejected as exc:
        reason = exc.message.partition(f"answered {exc.status}: ")[2] or exc.message
        raise CliError(
            f"the CRM does not accept opportunity {opportunity_id} ({reason}): check the id"
        ) from None
    finally:
        await connector.aclose()


PRECHECKS: dict[str, Precheck] = {"opportunity-to-project": opportunity_exists}


async def precheck(settings: Settings, workflow_name: str, key: str) -> None:
    """Run the workflow's check, if it has one."""
    check = PRECHECKS.get(workflow_name)
    if check is not None:
        await check(settings, key)
