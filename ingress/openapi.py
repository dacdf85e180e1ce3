"""What ingress's OpenAPI document says: how a request is signed, the body each route takes
and every status it answers."""

from typing import Any

from fastapi.security import APIKeyHeader

from application.openapi import errors
from ingress.signing import SIGNATURE_HEADER

MAX_BODY_BYTES = 64 * 1024  # an event is well under 2 KB; anything near this is not one
RETRY_AFTER_SECONDS = 5

SIGNED = f"""Each system (crm, hcm, psa) signs with its own shared secret
(`[ingress.secrets]`): `{SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex>` where the hex is
HMAC-SHA256 of `"<t>.<raw body>"`; more than one `v1` may be given while a secret is rolled."""

DESCRIPTION = f"""
Webhooks from the CRM, HCM and PSA. {SIGNED} Answers: 202 accepted (body says what was
started or signalled), 401 unsigned, badly signed or outside the time tolerance, 409 a
signature seen before, 413 a body over {MAX_BODY_BYTES} bytes, 422 a body ingress cannot use,
503 Temporal (or a system a check needs) is unavailable: send it again.
"""

# Declares the scheme; the check itself needs the body, so receive() makes it.
SIGNATURE = APIKeyHeader(
    name=SIGNATURE_HEADER, scheme_name="PsflowSignature", description=SIGNED, auto_error=False
)

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the event again",
        "schema": {"type": "integer"},
    }
}
ERRORS: dict[int | str, dict[str, Any]] = errors(
    {
        401: "Missing or wrong signature, or timestamp outside the tolerance",
        409: "The same signature was received before (a replay)",
        413: f"The body is over {MAX_BODY_BYTES} bytes",
        422: "The body is not an event ingress can act on (not JSON, or a field is wrong)",
        503: "Temporal or a system is unavailable: send the event again",
    },
    headers={503: RETRY_AFTER},
)
OPEN: dict[str, Any] = {"security": []}  # declared open: no signature needed

AT = "2026-01-15T10:00:00Z"
EXAMPLES: dict[str, dict[str, Any]] = {
    "crm": {
        "closed_won": {"event_id": "CRM-EVT-1001", "type": "opportunity.closed_won",
                       "occurred_at": AT, "opportunity_id": "0065g00000ExAmP",
                       "stage": "Closed Won"},
        "amount_changed": {"event_id": "CRM-EVT-1002", "type": "opportunity.amount_changed",
                           "occurred_at": AT, "opportunity_id": "0065g00000ExAmP",
                           "stage": "Negotiation", "amount": "120000.00",
                           "previous_amount": "100000.00", "currency": "USD"},
    },
    "hcm": {
        "hire": {"event_id": "HCM-EVT-2001", "kind": "hire", "worker_id": "W-EXAMPLE-1",
                 "effective_date": "2026-02-01", "occurred_at": AT, "sequence": 1},
        "transfer": {"event_id": "HCM-EVT-2002", "kind": "transfer", "worker_id": "W-EXAMPLE-2",
                     "effective_date": "2026-02-01", "occurred_at": AT, "sequence": 2,
                     "changes": {"cost_center": "CC-1200"}},
    },
    "psa": {
        "change_order": {"event_id": "PSA-EVT-3001", "type": "change_order.submitted",
                         "occurred_at": AT, "project_id": "PRJ-EXAMPLE",
                         "change_order_id": "CO-EXAMPLE-1"},
        "time_approved": {"event_id": "PSA-EVT-3002", "type": "timesheet.approved",
                          "occurred_at": AT, "project_id": "PRJ-EXAMPLE",
                          "time_entry_id": "TE-EXAMPLE-1", "period": "2026-01",
                          "worker_id": "W-EXAMPLE-1", "hours": "7.5", "approver": "paula"},
    },
}  # fmt: skip
