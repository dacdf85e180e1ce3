"""The ERP sandbox's starting data: reference lists, the customers that predate psflow, a few
projects, employees and their resource allocations. Deterministic: the same ids and values on
every reset."""

from decimal import Decimal
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

# Resource allocation units and types: internal id -> name. The sandbox plans in hours only.
ALLOCATION_UNITS = {"HOURS": "Hours"}
ALLOCATION_TYPES = {"1": "Hard", "2": "Soft"}

ENTITY_SEQUENCE = "entity"
ENTITY_START = 1000
ALLOCATION_SEQUENCE = "resourceAllocation"
ALLOCATION_START = 0
EMAIL_DOMAIN = "northwind-consulting.example"

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

# Employees before psflow: (external id or None, first name, last name, title, legal entity,
# HCM department code, cost center, hourly labour cost in the subsidiary's currency, inactive)
EXISTING_EMPLOYEES: list[tuple[str | None, str, str, str, str, str, str, str, bool]] = [
    ("LEGACY-E-0101", "Jordan", "Reyes", "Senior Consultant", "US01", "DEP-CONS", "CC-1100",
     "96.50", False),
    ("LEGACY-E-0102", "Mei", "Tanaka", "Solution Architect", "US01", "DEP-ARCH", "CC-1300",
     "118.00", False),
    (None, "Oliver", "Hughes", "Consultant", "UK01", "DEP-CONS", "CC-2100", "61.00", False),
    ("LEGACY-E-0104", "Lena", "Vogel", "Data Engineer", "DE01", "DEP-DATA", "CC-3100",
     "78.00", False),
    ("LEGACY-E-0105", "Marcus", "Bell", "Engagement Manager", "US01", "DEP-PMO", "CC-1200",
     "131.25", True),
]  # fmt: skip
# Their allocations: (external id, employee name, project name, hours, start, end)
EXISTING_ALLOCATIONS: list[tuple[str, str, str, str, str, str]] = [
    ("LEGACY-RA-0001", "Jordan Reyes", "Acme Plant Analytics Phase 1", "320",
     "2024-03-04", "2024-06-28"),
    ("LEGACY-RA-0002", "Mei Tanaka", "Contoso Finance Transformation", "480",
     "2024-05-06", "2024-12-20"),
    ("LEGACY-RA-0003", "Marcus Bell", "Globex Risk Platform Support", "120",
     "2024-04-01", "2024-09-30"),
]  # fmt: skip


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
    for code, (dep_id, dep_name) in catalog.DEPARTMENTS.items():
        store.insert(
            "department",
            dep_id,
            {"id": dep_id, "externalId": code, "name": dep_name, "isInactive": False},
            code,
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


def _insert_employee(
    store: RecordStore,
    employee: tuple[str | None, str, str, str, str, str, str, str, bool],
    created: str,
) -> None:
    external_id, first, last, title, entity, department, cost_center, cost, inactive = employee
    sub_id, sub_name, _ = catalog.LEGAL_ENTITIES[entity]
    dep_id, dep_name = catalog.DEPARTMENTS[department]
    id = str(store.next_number(ENTITY_SEQUENCE, ENTITY_START))
    record = {
        "id": id,
        "externalId": external_id,
        "entityId": f"{first} {last}",
        "firstName": first,
        "lastName": last,
        "email": f"{first}.{last}@{EMAIL_DOMAIN}".lower(),
        "title": title,
        "subsidiary": ref(sub_id, sub_name),
        "department": ref(dep_id, dep_name),
        "custentity_psflow_cost_center": cost_center,
        "laborCost": float(cost),
        "isInactive": inactive,
        "dateCreated": created,
        "lastModifiedDate": created,
    }
    store.insert("employee", id, record, external_id)


def _insert_allocation(
    store: RecordStore, allocation: tuple[str, str, str, str, str, str], created: str
) -> None:
    external_id, employee_name, job_name, hours, start, end = allocation
    employee = store.find("employee", entityId=employee_name)[0]
    job = store.find("job", companyName=job_name)[0]
    cost = (Decimal(hours) * Decimal(str(employee["laborCost"]))).quantize(Decimal("0.01"))
    id = str(store.next_number(ALLOCATION_SEQUENCE, ALLOCATION_START))
    record = {
        "id": id,
        "externalId": external_id,
        "allocationResource": ref(employee["id"], employee_name),
        "project": ref(job["id"], job_name),
        "allocationAmount": float(hours),
        "allocationUnit": ref("HOURS", ALLOCATION_UNITS["HOURS"]),
        "allocationType": ref("1", ALLOCATION_TYPES["1"]),
        "startDate": start,
        "endDate": end,
        "custrecord_psflow_cost": float(cost),
        "dateCreated": created,
        "lastModifiedDate": created,
    }
    store.insert("resourceAllocation", id, record, external_id)


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
    for n, employee in enumerate(EXISTING_EMPLOYEES):
        _insert_employee(store, employee, f"2021-0{n + 3}-01T09:00:00Z")
    for n, allocation in enumerate(EXISTING_ALLOCATIONS):
        _insert_allocation(store, allocation, f"2024-0{n + 2}-20T09:00:00Z")
