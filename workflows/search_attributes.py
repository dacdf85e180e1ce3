"""Custom search attributes: the business terms the Temporal UI and `psflow list` filter by."""

from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

CUSTOMER = SearchAttributeKey.for_keyword("PsflowCustomer")
"""A customer's or worker's name: set by runs started before ids replaced names (visibility
stores hold search attributes in clear); read, never set, by today's code."""
CUSTOMER_ID = SearchAttributeKey.for_keyword("PsflowCustomerId")
"""The CRM account id of the deal an opportunity-to-project run provisions."""
PROJECT_ID = SearchAttributeKey.for_keyword("PsflowProjectId")
"""The PSA project a time-to-bill or change-order run works on."""
WORKER_ID = SearchAttributeKey.for_keyword("PsflowWorkerId")
"""The HCM worker a hire-to-staff or worker-change run is about."""
STEP = SearchAttributeKey.for_keyword("PsflowStep")
"""Where the run is stopped (waiting for a person, stalled on a system) or where it ended;
unset while it runs. Runs started before QUIET_STEPS_PATCH name every step as it starts."""
STALLED_ON = SearchAttributeKey.for_keyword("PsflowStalledOn")
"""The system (ERP, CRM, PSA, HCM) a step keeps failing on; unset once it is through."""
WAITING_FOR = SearchAttributeKey.for_keyword("PsflowWaitingFor")
"""`approval` or `correction` while a person is needed; unset otherwise."""
WAITING_SINCE = SearchAttributeKey.for_datetime("PsflowWaitingSince")

ALL: list[SearchAttributeKey[Any]] = [
    CUSTOMER, CUSTOMER_ID, PROJECT_ID, WORKER_ID, STEP, WAITING_FOR, WAITING_SINCE, STALLED_ON,
]  # fmt: skip
SUBJECTS = (CUSTOMER_ID, PROJECT_ID, WORKER_ID, CUSTOMER)
"""What a run is about, by id (by name for runs from before), in the order lists look."""


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={key.indexed_value_type.name.title()}"]
    return flags


async def register(client: Client, namespace: str) -> None:
    """Add psflow's search attributes to a namespace (fails if one exists with another type)."""
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in ALL
            },
        )
    )
