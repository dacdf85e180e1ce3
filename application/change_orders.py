"""Reading a change order from a file or the PSA, and checking it before anything starts."""

import json
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from activities.change_orders import read_project_state
from application.errors import AppError
from application.prechecks import checking
from config import Settings
from connectors import systems
from connectors.crm import CrmConnector
from connectors.erp_port import Erp
from connectors.errors import ConnectorError
from connectors.psa import PsaConnector
from models.change_order import ChangeOrder
from models.change_state import ChangeOrderInput
from workflows.change_rules import change_order_problems

TIMEOUT_SECONDS = 10.0


def from_file(path: Path) -> ChangeOrder:
    """The change order in a JSON file; every bad field named at once."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise AppError(f"change order file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AppError(f"cannot read change order file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise AppError(f"{path} is not JSON: {exc.msg} at line {exc.lineno}") from None
    try:
        return ChangeOrder.model_validate(data)
    except ValidationError as exc:
        raise AppError(f"{path}: " + "; ".join(_problem(e) for e in exc.errors())) from None


def _problem(error: ErrorDetails) -> str:
    field = ".".join(f"[{p}]" if isinstance(p, int) else p for p in error["loc"]).replace(".[", "[")
    message = error["msg"].removeprefix("Value error, ")
    return f"{field or 'file'}: {message}"


def _connectors(settings: Settings) -> tuple[PsaConnector, Erp, CrmConnector]:
    return (
        systems.psa(settings, timeout_seconds=TIMEOUT_SECONDS),
        systems.erp(settings, timeout_seconds=TIMEOUT_SECONDS),
        systems.crm(settings, timeout_seconds=TIMEOUT_SECONDS),
    )


async def checked_input(
    settings: Settings, key: str | None, file: Path | None
) -> tuple[str, ChangeOrderInput]:
    """(change order id, workflow input), after checking it against the live project."""
    if (key is None) == (file is None):
        raise AppError("give the change order id (held in the PSA) or --file co.json, not both")
    psa, erp, crm = _connectors(settings)
    try:
        if file is not None:
            order = from_file(file)
        else:
            assert key is not None
            async with checking("psa", settings.psa, f"change order {key}"):
                found = await psa.get_change_order(key)
            if found is None:
                raise AppError(f"change order {key} does not exist in the PSA: check the id")
            order = found
        try:
            state = await read_project_state(psa, erp, crm, order.project_id)
        except ConnectorError as exc:
            raise AppError(f"cannot check change order {order.id}: {exc.message}") from None
    finally:
        for connector in (psa, erp, crm):
            await connector.aclose()
    problems = change_order_problems(order, state, settings.change_orders)
    if problems:
        listed = "; ".join(f"{p.field}: {p.message}" for p in problems)
        raise AppError(f"change order {order.id} is refused: {listed}")
    return order.id, ChangeOrderInput(change_order=order)
