"""Custom search attributes: the business terms the Temporal UI and `psflow list` filter by."""

from temporalio.common import SearchAttributeKey

CUSTOMER = SearchAttributeKey.for_keyword("PsflowCustomer")
STEP = SearchAttributeKey.for_keyword("PsflowStep")
WAITING_FOR = SearchAttributeKey.for_keyword("PsflowWaitingFor")
"""`approval` or `correction` while a person is needed; unset otherwise."""
WAITING_SINCE = SearchAttributeKey.for_datetime("PsflowWaitingSince")

ALL = [CUSTOMER, STEP, WAITING_FOR, WAITING_SINCE]


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={key.indexed_value_type.name.title()}"]
    return flags
