"""Which record types the sandbox knows, and which of them the integration role may write."""

from sandbox.erp.allocations import RESOURCE_ALLOCATION
from sandbox.erp.billing_query import BILLING_TYPES
from sandbox.erp.customers import CUSTOMER, JOB
from sandbox.erp.employees import EMPLOYEE
from sandbox.erp.errors import NetSuiteError
from sandbox.erp.schema import RecordType

WRITABLE: dict[str, RecordType] = {
    t.name: t for t in (CUSTOMER, JOB, EMPLOYEE, RESOURCE_ALLOCATION)
}
READ_ONLY_TYPES = ("subsidiary", "currency", "term", "department")


def known_type(record_type: str, *, writing: bool = False) -> RecordType | None:
    """The writable type's definition (None for a reference list); 404 or 403 otherwise."""
    if record_type in BILLING_TYPES:
        # billing_routes answers every method it supports before these routes are reached
        detail = f"This operation is not supported for record type '{record_type}'."
        raise NetSuiteError(405, detail, "INVALID_REQUEST")
    if record_type not in (*WRITABLE, *READ_ONLY_TYPES):
        raise NetSuiteError(
            404, f"Record type '{record_type}' does not exist.", "INVALID_RCRD_TYPE"
        )
    if writing and record_type in READ_ONLY_TYPES:
        detail = f"Permission Violation: the integration role may only view '{record_type}'."
        raise NetSuiteError(403, detail, "INSUFFICIENT_PERMISSION")
    return WRITABLE.get(record_type)


def writable(record_type: str) -> RecordType:
    """The definition of a type the integration role may write (403/404 otherwise)."""
    definition = known_type(record_type, writing=True)
    assert definition is not None  # known_type refuses reference lists for writing
    return definition
