"""The ERP sandbox's starting data: reference lists, the customers that predate psflow, a few
projects. Deterministic: the same ids and values on every reset."""

from typing import Any

from sandbox import catalog
from sandbox.records import RecordStore

CURRENCY_NAMES = {
    "USD": "US Dollar",
    "GBP": "British Pound",
    "EUR": "Euro",
    "CAD": "Canadian Dollar",
    "JPY": "Japanese Yen",
}
# JPY exists as a currency record, but no subsidiary allows it.
SEED_CURRENCIES = [*catalog.CURRENCIES, "JPY"]

# NetSuite's project billing types: internal id -> name
BILLING_TYPES = {
    "CB": "Charge-Based",
    "FF": "Fixed Bid, Interval",
    "FFM": "Fixed Bid, Milestone",
    "TM": "Time and Materials",
}
# Project (job) statuses: internal id -> name
JOB_STATUSES = {
    "1": "Closed",
    "2": "In Progress",
    "3": "Not Awarded",
    "4": "Pending",
    "5": "Awarded",
}
DEFAULT_JOB_STATUS = "5"

ENTITY_SEQUENCE = "entity"
ENTITY_START = 1000

# Customers not linked to any CRM account: (external id or None, name, legal entity, terms)
OTHER_CUSTOMERS: list[tuple[str | None, str, str, str]] = [
    ("LEGACY-C-0042", "Contoso Holdings", "US01", "Net 45"),
    (None, "Fabrikam Retail Ltd.", "UK01", "Net 30"),
    ("LEGACY-C-0107", "Tailspin Reisen GmbH", "DE01", "Net 60"),
]
# Projects of existing customers: (external id or None, name, customer name, billing, budget)
EXISTING_JOBS: list[tuple[str | None, str, str, str, str]] = [
    (
        "LEGACY-P-2024-017",
        "Acme Plant Analytics Phase 1",
        "Acme Manufacturing Corp.",
        "TM",
        "180000",
    ),
    (None, "Globex Risk Platform Support", "Globex Financial Services", "FFM", "95000"),
    ("LEGACY-P-2024-031", "Contoso Finance Transformation", "Contoso Holdings", "TM", "420000"),
    (None, "Tailspin Booking Engine Audit", "Tailspin Reisen GmbH", "FFM", "60000"),
]


def currency_id(code: str) -> str:
    """The sandbox's internal id of a currency, by ISO code."""
    return str(SEED_CURRENCIES.index(code) + 1)


def term_id(name: str) -> str:
    """The sandbox's internal id of a billing term, by name."""
    return str(catalog.BILLING_TERMS.index(name) + 1)


def ref(id: str, name: str) -> dict[str, str]:
    """A NetSuite reference to another record."""
    return {"id": id, "refName": name}


def _seed_references(store: RecordStore) -> None:
    for code in SEED_CURRENCIES:
        store.insert(
            "currency",
            currency_id(code),
            {
                "id": currency_id(code),
                "name": CURRENCY_NAMES[code],
                "symbol": code,
                "isBaseCurrency": code == "USD",
                "isInactive": False,
            },
        )
    for name in catalog.BILLING_TERMS:
        days = int(name.split()[-1])
        store.insert(
            "term",
            term_id(name),
            {"id": term_id(name), "name": name, "daysUntilNetDue": days, "isInactive": False},
        )
    for sub_id, sub_name, currency in catalog.LEGAL_ENTITIES.values():
        store.insert(
            "subsidiary",
            sub_id,
            {
                "id": sub_id,
                "name": sub_name,
                "currency": ref(currency_id(currency), CURRENCY_NAMES[currency]),
                "isInactive": False,
            },
        )


def _insert_customer(
    store: RecordStore, external_id: str | None, name: str, entity: str, terms: str, created: str
) -> dict[str, Any]:
    sub_id, sub_name, currency = catalog.LEGAL_ENTITIES[entity]
    id = str(store.next_number(ENTITY_SEQUENCE, ENTITY_START))
    record: dict[str, Any] = {
        "id": id,
        "externalId": external_id,
        "entityId": name,
        "companyName": name,
        "subsidiary": ref(sub_id, sub_name),
        "currency": ref(currency_id(currency), CURRENCY_NAMES[currency]),
        "terms": ref(term_id(terms), terms),
        "isInactive": False,
        "dateCreated": created,
        "lastModifiedDate": created,
    }
    return store.insert("customer", id, record, external_id)


def _insert_job(
    store: RecordStore, job: tuple[str | None, str, str, str, str], created: str
) -> None:
    external_id, name, customer_name, billing, budget = job
    customer = store.find("customer", companyName=customer_name)[0]
    id = str(store.next_number(ENTITY_SEQUENCE, ENTITY_START))
    parent = ref(customer["id"], customer_name)
    record = {
        "id": id,
        "externalId": external_id,
        "entityId": name,
        "companyName": name,
        "parent": parent,
        "customer": parent,
        "subsidiary": customer["subsidiary"],
        "currency": customer["currency"],
        "jobBillingType": ref(billing, BILLING_TYPES[billing]),
        "custentity_psflow_budget": float(budget),
        "entityStatus": ref("2", JOB_STATUSES["2"]),
        "dateCreated": created,
        "lastModifiedDate": created,
    }
    store.insert("job", id, record, external_id)


def seed(store: RecordStore) -> None:
    """Fill an empty store with the sandbox's starting data."""
    _seed_references(store)
    for n, index in enumerate(catalog.PREEXISTING_CUSTOMERS):
        name, _, entity = catalog.ACCOUNTS[index]
        crm_key = catalog.customer_external_id(catalog.account_id(index))
        _insert_customer(store, crm_key, name, entity, "Net 30", f"2023-0{n + 1}-15T09:00:00Z")
    for n, (legacy_key, name, entity, terms) in enumerate(OTHER_CUSTOMERS):
        _insert_customer(store, legacy_key, name, entity, terms, f"2022-1{n}-01T09:00:00Z")
    for n, job in enumerate(EXISTING_JOBS):
        _insert_job(store, job, f"2024-0{n + 2}-10T09:00:00Z")
