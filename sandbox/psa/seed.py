"""What the PSA sandbox holds before psflow runs: rate cards, engagements and consultants."""

from typing import Any, NamedTuple

from sandbox import catalog
from sandbox.psa.ids import ASSIGNMENT, PROJECT, RATE_CARD, STAFFING_REQUEST, new_id
from sandbox.psa.seed_resources import seed_resources
from sandbox.rates import RATE_LINES
from sandbox.records import RecordStore


class _Request(NamedTuple):
    role: str
    hours: str
    start_date: str
    status: str
    skills: tuple[str, ...] = ()
    location: str | None = None
    assignee: str | None = None  # external id of the resource a filled request is staffed by


class _Project(NamedTuple):
    external_id: str
    name: str
    customer_name: str
    erp_project_id: str
    rate_card: str
    billing_type: str
    budget: str
    start_date: str
    status: str
    milestones: list[tuple[str, str, str]]  # name, due date, amount
    staffing: list[_Request]


_PROJECTS = [
    _Project(
        "import-2025-q4-0117",
        "Acme Manufacturing - S/4HANA Readiness Assessment",
        "Acme Manufacturing Corp.",
        "4312",
        "STD-USD-2026",
        "Fixed Fee",
        "180000.00",
        "2026-01-12",
        "active",
        [
            ("Discovery complete", "2026-02-06", "60000.00"),
            ("Assessment report", "2026-03-13", "80000.00"),
            ("Roadmap sign-off", "2026-04-03", "40000.00"),
        ],
        [
            _Request(
                "Solution Architect", "320.00", "2026-01-12", "filled", ("SAP",), None, "19001"
            ),
            _Request(
                "Senior Consultant",
                "480.00",
                "2026-02-02",
                "open",
                ("SAP", "Change Management"),
                "New York",
            ),
        ],
    ),
    _Project(
        "import-2025-q4-0121",
        "Wonka Consumer Brands - Service Cloud Rollout",
        "Wonka Consumer Brands",
        "4318",
        "STD-GBP-2026",
        "Time and Materials",
        "240000.00",
        "2026-02-02",
        "active",
        [("Pilot go-live", "2026-05-29", "0.00")],
        [
            _Request("Engagement Manager", "200.00", "2026-02-02", "filled", assignee="19002"),
            _Request("Consultant", "640.00", "2026-02-16", "open", ("Salesforce",), "London"),
            _Request("Analyst", "320.00", "2026-03-02", "open"),
        ],
    ),
    _Project(
        "import-2025-q4-0126",
        "Kruger Automotive - Data Platform Migration",
        "Kruger Automotive AG",
        "4325",
        "STD-EUR-2026",
        "Fixed Fee",
        "310000.00",
        "2026-03-02",
        "active",
        [
            ("Target architecture approved", "2026-04-10", "90000.00"),
            ("Wave 1 migrated", "2026-06-19", "120000.00"),
            ("Decommission legacy warehouse", "2026-08-28", "100000.00"),
        ],
        [
            _Request(
                "Solution Architect",
                "400.00",
                "2026-03-02",
                "open",
                ("Data Engineering", "Cloud Architecture"),
                "Munich",
            )
        ],
    ),
    _Project(
        "import-2025-q4-0130",
        "Maple Leaf Utilities - Field Service Optimisation",
        "Maple Leaf Utilities",
        "4331",
        "STD-CAD-2026",
        "Time and Materials",
        "150000.00",
        "2026-01-19",
        "active",
        [],
        [
            _Request(
                "Senior Consultant",
                "360.00",
                "2026-01-19",
                "filled",
                ("Salesforce",),
                "Toronto",
                "19003",
            )
        ],
    ),
    _Project(
        "import-2024-q2-0042",
        "Globex Financial - Regulatory Reporting Uplift",
        "Globex Financial Services",
        "3977",
        "LEGACY-USD-2019",
        "Fixed Fee",
        "95000.00",
        "2024-04-08",
        "archived",
        [
            ("Gap analysis", "2024-05-10", "35000.00"),
            ("Reporting pack live", "2024-07-26", "60000.00"),
        ],
        [_Request("Consultant", "240.00", "2024-04-08", "cancelled")],
    ),
]


def _seed_rate_cards(store: RecordStore) -> None:
    for code, (currency, active, _) in catalog.RATE_CARDS.items():
        rates = [
            {
                "role": line.role,
                "rate": str(line.rate),
                "effective_from": line.effective_from and line.effective_from.isoformat(),
                "effective_to": line.effective_to and line.effective_to.isoformat(),
            }
            for line in RATE_LINES[code]
        ]
        card = {"code": code, "currency": currency, "active": active, "rates": rates}
        store.insert(RATE_CARD, code, card)


def _seed_project(store: RecordStore, seed: _Project) -> list[tuple[str, str, _Request]]:
    """Insert the project and its staffing; the (project id, request id, seed) of each request."""
    project_id = new_id(store, "PRJ")
    currency = catalog.RATE_CARDS[seed.rate_card][0]
    milestones: list[dict[str, Any]] = [
        {"id": new_id(store, "MS"), "name": name, "due_date": due, "amount": amount}
        for name, due, amount in seed.milestones
    ]
    project = {
        "id": project_id,
        "external_id": seed.external_id,
        "name": seed.name,
        "customer_name": seed.customer_name,
        "erp_project_id": seed.erp_project_id,
        "status": seed.status,
        "currency": currency,
        "budget": seed.budget,
        "billing_type": seed.billing_type,
        "rate_card": seed.rate_card,
        "start_date": seed.start_date,
        "milestones": milestones,
        "flags": [],
    }
    store.insert(PROJECT, project_id, project, external_id=seed.external_id)
    requests = []
    for staffing in seed.staffing:
        request_id = new_id(store, "SR")
        request = {
            "id": request_id,
            "project_id": project_id,
            "role": staffing.role,
            "hours": staffing.hours,
            "start_date": staffing.start_date,
            "skills": list(staffing.skills),
            "location": staffing.location,
            "status": staffing.status,
        }
        store.insert(STAFFING_REQUEST, request_id, request)
        requests.append((project_id, request_id, staffing))
    return requests


def seed(store: RecordStore) -> None:
    """Fill an empty store with every catalog rate card, the demo engagements, the firm's
    consultants and the assignments that fill the engagements' filled staffing requests."""
    _seed_rate_cards(store)
    requests = [r for project in _PROJECTS for r in _seed_project(store, project)]
    resources = seed_resources(store)
    for project_id, request_id, staffing in requests:
        if staffing.assignee is None:
            continue
        assignment_id = new_id(store, "ASG")
        assignment = {
            "id": assignment_id,
            "resource_id": resources[staffing.assignee],
            "project_id": project_id,
            "staffing_request_id": request_id,
            "hours": staffing.hours,
            "start_date": staffing.start_date,
            "end_date": None,
            "status": "active",
        }
        store.insert(ASSIGNMENT, assignment_id, assignment)
