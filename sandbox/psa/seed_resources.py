"""The firm's consultants as the PSA sandbox holds them before psflow runs."""

import unicodedata
from decimal import Decimal
from typing import NamedTuple

from sandbox import catalog
from sandbox.psa.ids import RESOURCE, new_id
from sandbox.records import RecordStore


class _Resource(NamedTuple):
    external_id: str  # the worker id an earlier HCM import gave it
    name: str
    role: str
    skills: tuple[str, ...]
    location: str
    legal_entity: str
    cost_center: str
    available_from: str
    active: bool = True


# Three consultants staffed on the seeded projects, a bench of ten, and one leaver. They
# predate psflow (whose resources carry "hcm-<worker id>"), so their ids are not the HCM's.
_RESOURCES = [
    _Resource(
        "19001",
        "Elena Novak",
        "Solution Architect",
        ("SAP", "Cloud Architecture"),
        "New York",
        "US01",
        "CC-1300",
        "2025-03-03",
    ),
    _Resource(
        "19002",
        "James Whitaker",
        "Engagement Manager",
        ("Project Management", "Salesforce"),
        "London",
        "UK01",
        "CC-2100",
        "2024-09-02",
    ),
    _Resource(
        "19003",
        "Chloé Tremblay",
        "Senior Consultant",
        ("Salesforce", "Change Management"),
        "Toronto",
        "CA01",
        "CC-4100",
        "2025-06-02",
    ),
    _Resource(
        "19004",
        "Marcus Reed",
        "Senior Consultant",
        ("SAP", "Change Management"),
        "New York",
        "US01",
        "CC-1100",
        "2025-01-06",
    ),
    _Resource(
        "19005",
        "Priyanka Shah",
        "Senior Consultant",
        ("SAP",),
        "San Francisco",
        "US01",
        "CC-1200",
        "2025-08-04",
    ),
    _Resource(
        "19006",
        "Oliver Bennett",
        "Consultant",
        ("Salesforce", "Python"),
        "London",
        "UK01",
        "CC-2100",
        "2025-04-07",
    ),
    _Resource(
        "19007",
        "Hannah Clarke",
        "Consultant",
        ("Workday",),
        "London",
        "UK01",
        "CC-2100",
        "2025-10-06",
    ),
    _Resource(
        "19008",
        "Sophie Turner",
        "Analyst",
        ("Data Engineering",),
        "London",
        "UK01",
        "CC-2100",
        "2025-09-01",
    ),
    _Resource(
        "19009",
        "Lukas Becker",
        "Solution Architect",
        ("Data Engineering", "Cloud Architecture"),
        "Munich",
        "DE01",
        "CC-3100",
        "2024-11-04",
    ),
    _Resource(
        "19010",
        "Anna Schmidt",
        "Solution Architect",
        ("Cloud Architecture", "SAP"),
        "Berlin",
        "DE01",
        "CC-3100",
        "2025-02-03",
    ),
    _Resource(
        "19011",
        "Daniel Kim",
        "Consultant",
        ("NetSuite", "Python"),
        "Chicago",
        "US01",
        "CC-1100",
        "2026-06-01",
    ),
    _Resource(
        "19012",
        "Grace Liu",
        "Engagement Manager",
        ("Project Management",),
        "San Francisco",
        "US01",
        "CC-1200",
        "2025-05-05",
    ),
    _Resource(
        "19013",
        "Mathieu Roy",
        "Analyst",
        ("Python", "Data Engineering"),
        "Toronto",
        "CA01",
        "CC-4100",
        "2025-07-07",
    ),
    _Resource(
        "19014",
        "Tom Hughes",
        "Consultant",
        ("Salesforce",),
        "London",
        "UK01",
        "CC-2100",
        "2023-02-06",
        active=False,
    ),
]

# A consultant costs the firm this share of the role's standard billing rate.
_COST_SHARE = Decimal("0.45")


def cost_rate(role: str, currency: str) -> Decimal:
    """A plausible hourly cost for a role, derived from the standard rate card."""
    rate = catalog.RATE_CARDS[f"STD-{currency}-2026"][2][role]
    return (rate * _COST_SHARE).quantize(Decimal("0.01"))


def _seed_resource(store: RecordStore, seed: _Resource) -> str:
    resource_id = new_id(store, "RES")
    currency = catalog.LEGAL_ENTITIES[seed.legal_entity][2]
    ascii_name = unicodedata.normalize("NFKD", seed.name).encode("ascii", "ignore").decode()
    first, _, last = ascii_name.lower().partition(" ")
    resource = {
        "id": resource_id,
        "external_id": seed.external_id,
        "name": seed.name,
        "email": f"{first}.{last}@northwind.example",
        "role": seed.role,
        "skills": list(seed.skills),
        "location": seed.location,
        "legal_entity": seed.legal_entity,
        "cost_center": seed.cost_center,
        "cost_rate": str(cost_rate(seed.role, currency)),
        "currency": currency,
        "calendar": "Standard 40h",
        "available_from": seed.available_from,
        "active": seed.active,
    }
    store.insert(RESOURCE, resource_id, resource, external_id=seed.external_id)
    return resource_id


def seed_resources(store: RecordStore) -> dict[str, str]:
    """Insert every seeded resource; their PSA ids by external id (HCM worker id)."""
    return {r.external_id: _seed_resource(store, r) for r in _RESOURCES}
