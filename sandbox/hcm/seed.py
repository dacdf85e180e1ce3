"""The HCM sandbox's workforce: 200+ workers across the legal entities, seeded deterministically.

Workers are stored in the canonical shape (snake_case, Employee_ID as `id`, the 32-hex WID as
`wid`, `status` one of active / pre-hire / terminated); the app renders them Workday-style.
A dozen pre-hires wait for hire events, some of them with the data problems hire-to-staff has
to catch: no cost center, a cost center of another legal entity, an unknown department, no
manager, no role.
"""

import random
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from sandbox import catalog
from sandbox.records import RecordStore

WORKER = "worker"
EVENT = "event"
RANDOM_SEED = 2026
EMAIL_DOMAIN = "northwind-consulting.example"
UNKNOWN_DEPARTMENT = ("DEP-SALES", "Sales")

DEMO_WORKERS: dict[str, str] = {
    "active_consultant_us": "20001",
    "prehire_consultant_us": "30001",
    "prehire_senior_us": "30002",
    "prehire_analyst_uk": "30003",
    "prehire_missing_cost_center": "30004",
    "prehire_bad_department": "30005",
    "prehire_foreign_cost_center": "30006",
    "prehire_no_manager": "30007",
    "prehire_no_role": "30008",
}
SPARE_PREHIRES: list[str] = ["30009", "30010", "30011", "30012"]

_FIRST_NAMES = {
    "US01": ["Olivia", "Liam", "Emma", "Noah", "Ava", "Ethan", "Sophia", "Mason", "Isabella",
             "Lucas", "Mia", "Jackson", "Harper", "Aiden", "Evelyn", "Caleb", "Abigail", "Owen",
             "Maya", "Julian", "Chloe", "Gabriel", "Priyanka", "Marcus", "Keisha", "Diego"],
    "UK01": ["Oliver", "Amelia", "George", "Isla", "Harry", "Poppy", "Jack", "Freya", "Alfie",
             "Imogen", "Archie", "Rosie", "Rhys", "Niamh", "Callum", "Aisha"],
    "DE01": ["Lukas", "Hannah", "Felix", "Lea", "Jonas", "Marie", "Paul", "Lena", "Maximilian",
             "Sophie", "Tobias", "Katharina", "Niklas", "Johanna"],
    "CA01": ["Liam", "Charlotte", "William", "Olivia", "Benjamin", "Emily", "Nathan", "Chloé",
             "Étienne", "Avery", "Rowan", "Simone"],
}  # fmt: skip
_LAST_NAMES = {
    "US01": ["Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Rodriguez",
             "Martinez", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee",
             "Thompson", "White", "Harris", "Clark", "Lewis", "Nguyen", "Chen", "Okafor"],
    "UK01": ["Smith", "Jones", "Evans", "Wilson", "Roberts", "Walker", "Wright", "Hughes",
             "Edwards", "Green", "Hall", "Wood", "Khan", "Patel"],
    "DE01": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
             "Hoffmann", "Schäfer", "Koch", "Richter"],
    "CA01": ["Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Gauthier", "MacDonald",
             "Campbell", "Fraser", "Singh"],
}  # fmt: skip
# entity -> how many workers the generator adds beyond the named ones
_HEADCOUNT = {"US01": 92, "UK01": 48, "DE01": 38, "CA01": 30}
_STAFF_ROLES = ["Solution Architect", "Senior Consultant", "Consultant", "Analyst"]
_STAFF_WEIGHTS = [2, 4, 5, 3]
_ROLE_DEPARTMENTS = {
    "Partner": ["DEP-CONS"],
    "Engagement Manager": ["DEP-PMO"],
    "Solution Architect": ["DEP-ARCH"],
    "Senior Consultant": ["DEP-CONS", "DEP-CONS", "DEP-DATA"],
    "Consultant": ["DEP-CONS", "DEP-CONS", "DEP-DATA"],
    "Analyst": ["DEP-DATA", "DEP-CONS"],
}
_MANAGERS_PER_ENTITY = {"US01": 8, "UK01": 4, "DE01": 3, "CA01": 3}
_TERMINATED_SHARE = 0.04


class Hire(NamedTuple):
    """A hand-written worker; `manager` "auto" means the entity's first engagement manager."""

    id: str
    first_name: str
    last_name: str
    legal_entity: str
    role: str | None
    department: str | None
    cost_center: str | None
    location: str
    skills: list[str]
    status: str = "pre-hire"
    manager: str | None = "auto"


_NAMED: list[Hire] = [
    Hire("20001", "Grace", "Holloway", "US01", "Consultant", "DEP-CONS", "CC-1100", "New York",
         ["Salesforce", "Change Management"], status="active"),
    Hire("30001", "Nora", "Castellano", "US01", "Consultant", "DEP-CONS", "CC-1100", "New York",
         ["Salesforce", "Project Management"]),
    Hire("30002", "Victor", "Ames", "US01", "Senior Consultant", "DEP-CONS", "CC-1200",
         "Chicago", ["NetSuite", "Data Engineering", "Python"]),
    Hire("30003", "Eleanor", "Price", "UK01", "Analyst", "DEP-DATA", "CC-2100", "London",
         ["Data Engineering", "Python"]),
    Hire("30004", "Samuel", "Ortiz", "US01", "Consultant", "DEP-CONS", None, "San Francisco",
         ["Workday"]),
    Hire("30005", "Hana", "Kobayashi", "US01", "Consultant", UNKNOWN_DEPARTMENT[0], "CC-1100",
         "New York", ["Salesforce"]),
    Hire("30006", "Miguel", "Serrano", "US01", "Senior Consultant", "DEP-CONS", "CC-3100",
         "Chicago", ["SAP", "Change Management"]),
    Hire("30007", "Tessa", "Lindqvist", "UK01", "Consultant", "DEP-CONS", "CC-2100", "London",
         ["Salesforce", "Project Management"], manager=None),
    Hire("30008", "Rohan", "Mehta", "US01", None, "DEP-CONS", "CC-1300", "San Francisco",
         ["Cloud Architecture"]),
    Hire("30009", "Jana", "Vogel", "DE01", "Consultant", "DEP-CONS", "CC-3100", "Munich",
         ["SAP", "Data Engineering"]),
    Hire("30010", "Owen", "Beaulieu", "CA01", "Senior Consultant", "DEP-CONS", "CC-4100",
         "Toronto", ["Salesforce", "NetSuite"]),
    Hire("30011", "Adaeze", "Nwosu", "US01", "Solution Architect", "DEP-ARCH", "CC-1300",
         "San Francisco", ["Cloud Architecture", "Python", "Workday"]),
    Hire("30012", "Callum", "Reid", "UK01", "Consultant", "DEP-CONS", "CC-2100", "London",
         ["NetSuite", "Project Management"]),
]  # fmt: skip


def wid_for(rng: random.Random) -> str:
    """A Workday-style 32-hex reference id."""
    return f"{rng.getrandbits(128):032x}"


def cost_rate(rng: random.Random, legal_entity: str, role: str | None) -> Decimal:
    """35-50% of the role's standard bill rate in the entity's currency (Analyst if no role)."""
    currency = catalog.LEGAL_ENTITIES[legal_entity][2]
    bill = catalog.RATE_CARDS[f"STD-{currency}-2026"][2][role or "Analyst"]
    share = Decimal(rng.randint(35, 50)) / 100
    return (bill * share).quantize(Decimal("0.01"))


class _Builder:
    """Accumulates worker records, keeping names and emails unique."""

    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng = rng
        self.today = today
        self.records: list[dict[str, Any]] = []
        self.emails: set[str] = set()
        self.next_number = 21001

    def email(self, first: str, last: str) -> str:
        base = f"{first}.{last}".lower().replace(" ", "")
        base = base.encode("ascii", "ignore").decode() or "worker"
        address, n = f"{base}@{EMAIL_DOMAIN}", 1
        while address in self.emails:
            n += 1
            address = f"{base}{n}@{EMAIL_DOMAIN}"
        self.emails.add(address)
        return address

    def add(
        self,
        *,
        employee_id: str | None = None,
        first_name: str,
        last_name: str,
        legal_entity: str,
        role: str | None,
        department: str | None,
        cost_center: str | None,
        location: str,
        skills: list[str],
        manager_id: str | None,
        hire_date: date,
        status: str = "active",
    ) -> dict[str, Any]:
        if employee_id is None:
            employee_id = str(self.next_number)
            self.next_number += 1
        terminated = status == "terminated"
        record: dict[str, Any] = {
            "id": employee_id,
            "wid": wid_for(self.rng),
            "first_name": first_name,
            "last_name": last_name,
            "email": self.email(first_name, last_name),
            "legal_entity": legal_entity,
            "department": department,
            "cost_center": cost_center,
            "manager_id": manager_id,
            "role": role,
            "skills": skills,
            "location": location,
            "cost_rate": str(cost_rate(self.rng, legal_entity, role)),
            "currency": catalog.LEGAL_ENTITIES[legal_entity][2],
            "hire_date": hire_date.isoformat(),
            "termination_date": self.termination_date(hire_date) if terminated else None,
            "status": status,
        }
        self.records.append(record)
        return record

    def person(self, entity: str) -> tuple[str, str]:
        return self.rng.choice(_FIRST_NAMES[entity]), self.rng.choice(_LAST_NAMES[entity])

    def past_hire_date(self) -> date:
        return self.today - timedelta(days=self.rng.randint(120, 12 * 365))

    def termination_date(self, hire_date: date) -> str:
        days = (self.today - hire_date).days
        return (hire_date + timedelta(days=self.rng.randint(60, days - 1))).isoformat()

    def skills(self) -> list[str]:
        return sorted(self.rng.sample(catalog.SKILLS, self.rng.randint(1, 4)))

    def cost_center(self, entity: str) -> str:
        return self.rng.choice([c for c, (e, _) in catalog.COST_CENTERS.items() if e == entity])


def _entity(b: _Builder, entity: str, firm_head: str | None) -> tuple[str, str]:
    """One legal entity's head, managers and staff; returns the head and the first engagement
    manager (who the named workers report to)."""
    rng = b.rng

    def worker(role: str, manager: str | None, status: str = "active") -> dict[str, Any]:
        first, last = b.person(entity)
        return b.add(
            first_name=first,
            last_name=last,
            legal_entity=entity,
            role=role,
            department=rng.choice(_ROLE_DEPARTMENTS[role]),
            cost_center=b.cost_center(entity),
            location=rng.choice(catalog.LOCATIONS[entity]),
            skills=b.skills(),
            manager_id=manager,
            hire_date=b.past_hire_date(),
            status=status,
        )

    head = worker("Partner", firm_head)["id"]
    managers = [
        worker("Engagement Manager" if i % 3 else "Partner", head)
        for i in range(1, _MANAGERS_PER_ENTITY[entity])
    ]
    for _ in range(_HEADCOUNT[entity] - len(managers) - 1):
        role = rng.choices(_STAFF_ROLES, _STAFF_WEIGHTS)[0]
        status = "terminated" if rng.random() < _TERMINATED_SHARE else "active"
        worker(role, rng.choice(managers)["id"], status)
    lead = next(m for m in managers if m["role"] == "Engagement Manager")
    return head, lead["id"]


def _break_some(b: _Builder) -> None:
    """Active workers with the data problems a real HCM accumulates."""
    staff = [
        r
        for r in b.records
        if r["status"] == "active" and r["role"] in _STAFF_ROLES and r["legal_entity"] == "US01"
    ]
    victims = b.rng.sample(staff, 5)
    victims[0]["cost_center"] = None
    victims[1]["cost_center"] = "CC-2100"
    victims[2]["department"] = UNKNOWN_DEPARTMENT[0]
    victims[3]["manager_id"] = None
    victims[4]["role"] = None


def build_workers(today: date | None = None) -> list[dict[str, Any]]:
    """Every seeded worker record; the same on every call of one day. Dates count from
    `today`, so pre-hires always start in the next few weeks."""
    b = _Builder(random.Random(RANDOM_SEED), today or date.today())
    firm_head: str | None = None
    leads: dict[str, str] = {}
    for entity in catalog.LEGAL_ENTITIES:
        head, leads[entity] = _entity(b, entity, firm_head)
        firm_head = firm_head or head
    _break_some(b)
    for index, hire in enumerate(_NAMED):
        start = b.today + timedelta(days=14 + 7 * (index % 5))
        b.add(
            employee_id=hire.id,
            first_name=hire.first_name,
            last_name=hire.last_name,
            legal_entity=hire.legal_entity,
            role=hire.role,
            department=hire.department,
            cost_center=hire.cost_center,
            location=hire.location,
            skills=hire.skills,
            manager_id=leads[hire.legal_entity] if hire.manager == "auto" else None,
            hire_date=start if hire.status == "pre-hire" else b.past_hire_date(),
            status=hire.status,
        )
    return b.records


def department_name(code: str | None) -> str | None:
    """The department's name, including the one unknown department the seed uses."""
    if code is None:
        return None
    if code in catalog.DEPARTMENTS:
        return catalog.DEPARTMENTS[code][1]
    return UNKNOWN_DEPARTMENT[1] if code == UNKNOWN_DEPARTMENT[0] else code


def seed(store: RecordStore) -> None:
    """Fill an empty store with the workforce."""
    for record in build_workers():
        store.insert(WORKER, record["wid"], record, external_id=record["id"])


ADDED_PREHIRES_BASE = 32000


def add_prehires(store: RecordStore, like: str, count: int) -> list[str]:
    """Add `count` pre-hires made as the named pre-hire `like` (its role, entity, cost center
    or the lack of one...), each with an Employee_ID of its own; their ids, in order."""
    template = next(
        (r for r in build_workers() if r["id"] == like and r["status"] == "pre-hire"), None
    )
    if template is None:
        named = ", ".join(h.id for h in _NAMED if h.status == "pre-hire")
        raise ValueError(f"like must be a named pre-hire: {named}")
    ids = []
    for _ in range(count):
        employee_id = str(store.next_number("AddedPrehire", start=ADDED_PREHIRES_BASE))
        first, last = template["first_name"], template["last_name"]
        record = template | {
            "id": employee_id,
            "wid": uuid.uuid4().hex,
            "email": f"{first}.{last}.{employee_id}@{EMAIL_DOMAIN}".lower(),
        }
        store.insert(WORKER, record["wid"], record, external_id=employee_id)
        ids.append(employee_id)
    return ids
