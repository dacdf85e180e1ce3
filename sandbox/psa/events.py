"""PSA events announced to the webhook: a change order submitted, a time entry approved.

Only a change the request made is announced: a replayed Idempotency-Key, the same change
order submitted again or an approved entry approved again announce nothing.
"""

import json
from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse

from sandbox.webhooks import Outbox

CHANGE_ORDER_SUBMITTED = "change_order.submitted"
TIMESHEET_APPROVED = "timesheet.approved"

# Called with a route's response (and, for approvals, the status the entry had before).
Announce = Callable[[JSONResponse], None]
AnnounceApproval = Callable[[JSONResponse, str], None]


def _made(response: JSONResponse, status: int) -> dict[str, Any] | None:
    """The response's record when the request itself made the change, else None."""
    if response.status_code != status or response.headers.get("Idempotent-Replayed"):
        return None
    body: dict[str, Any] = json.loads(bytes(response.body))
    return body


def change_order_submitted(outbox: Outbox) -> Announce:
    def announce(response: JSONResponse) -> None:
        order = _made(response, 201)  # 200 is the same change order submitted again
        if order is not None:
            outbox.emit(
                CHANGE_ORDER_SUBMITTED,
                {
                    "change_order_id": order["id"],
                    "project_id": order["project_id"],
                    "requested_by": order["requested_by"],
                    "currency": order["currency"],
                    "budget_change": order["budget_change"],
                },
            )

    return announce


def time_entry_approved(outbox: Outbox) -> AnnounceApproval:
    def announce(response: JSONResponse, status_before: str) -> None:
        entry = _made(response, 200)
        if entry is None or status_before == "approved" or entry["status"] != "approved":
            return
        outbox.emit(
            TIMESHEET_APPROVED,
            {
                "time_entry_id": entry["id"],
                "project_id": entry["project_id"],
                "worker_id": entry["worker_id"],
                "date": entry["date"],
                "period": entry["date"][:7],
                "hours": entry["hours"],
                "approver": entry["approver"],
            },
        )

    return announce
