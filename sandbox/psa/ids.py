"""Record kinds of the PSA sandbox and the ids it gives them."""

from sandbox.records import RecordStore

RATE_CARD = "rate_card"
PROJECT = "project"
STAFFING_REQUEST = "staffing_request"
RESOURCE = "resource"
ASSIGNMENT = "assignment"
CHANGE_ORDER = "change_order"
FORECAST_REVISION = "forecast_revision"
ID_SEQUENCE = "psa"


def new_id(store: RecordStore, prefix: str) -> str:
    """The next PSA id, e.g. "PRJ-001042"; every kind draws from one counter."""
    return f"{prefix}-{store.next_number(ID_SEQUENCE):06d}"
