"""Reference data the sandbox systems share, so their seeds agree with each other."""

from decimal import Decimal

from models.crm import salesforce_id_18
from models.erp import customer_external_id

__all__ = ["customer_external_id"]  # re-exported for the seeds

# CRM legal entity code -> (ERP subsidiary id, name, base currency)
LEGAL_ENTITIES: dict[str, tuple[str, str, str]] = {
    "US01": ("1", "Northwind Consulting Inc.", "USD"),
    "UK01": ("2", "Northwind Consulting Ltd.", "GBP"),
    "DE01": ("3", "Northwind Beratung GmbH", "EUR"),
    "CA01": ("4", "Northwind Consulting Canada ULC", "CAD"),
}
CURRENCIES = ["USD", "GBP", "EUR", "CAD"]
BILLING_TERMS = ["Net 15", "Net 30", "Net 45", "Net 60"]
BILLING_TYPES = ["Time and Materials", "Fixed Fee"]

ROLES = [
    "Partner",
    "Engagement Manager",
    "Solution Architect",
    "Senior Consultant",
    "Consultant",
    "Analyst",
]
_BASE_RATES = {
    "Partner": Decimal("450"),
    "Engagement Manager": Decimal("320"),
    "Solution Architect": Decimal("290"),
    "Senior Consultant": Decimal("240"),
    "Consultant": Decimal("190"),
    "Analyst": Decimal("140"),
}
_FX = {"USD": Decimal("1"), "GBP": Decimal("0.8"), "EUR": Decimal("0.92"), "CAD": Decimal("1.36")}

# rate card code -> (currency, active, {role: hourly rate})
RATE_CARDS: dict[str, tuple[str, bool, dict[str, Decimal]]] = {
    f"STD-{cur}-2026": (
        cur,
        True,
        {r: (v * fx).quantize(Decimal("1")) for r, v in _BASE_RATES.items()},
    )
    for cur, fx in _FX.items()
}
RATE_CARDS["LEGACY-USD-2019"] = ("USD", False, {r: v - 40 for r, v in _BASE_RATES.items()})

# psflow user name -> (CRM user id, display name, roles)
USERS: dict[str, tuple[str, str, list[str]]] = {
    "sam": ("005Hs00000A1b2cIAB", "Sam Patel", ["sales"]),
    "alex": ("005Hs00000A1b2dIAB", "Alex Kim", ["sales"]),
    "dana": ("005Hs00000A1b2eIAB", "Dana Whitfield", ["deal-desk"]),
    "morgan": ("005Hs00000A1b2fIAB", "Morgan Lee", ["deal-desk"]),
    "priya": ("005Hs00000A1b2gIAB", "Priya Nair", ["deal-desk", "deal-desk-lead"]),
    "finn": ("005Hs00000A1b2hIAB", "Finn Olsen", ["finance"]),
    "rita": ("005Hs00000A1b2iIAB", "Rita Alvarez", ["resource-manager"]),
    "omar": ("005Hs00000A1b2jIAB", "Omar Haddad", ["resource-manager"]),
    "fatima": ("005Hs00000A1b2kIAB", "Fatima Rahman", ["finance"]),
    "greta": ("005Hs00000A1b2lIAB", "Greta Lindqvist", ["finance", "finance-lead"]),
    "paula": ("005Hs00000A1b2mIAB", "Paula Moreno", ["project-manager"]),
    "victor": ("005Hs00000A1b2nIAB", "Victor Chen", ["project-manager"]),
}

# Deals above these amounts need a deal-desk approval.
APPROVAL_THRESHOLDS = {
    "USD": Decimal("250000"),
    "GBP": Decimal("200000"),
    "EUR": Decimal("230000"),
    "CAD": Decimal("340000"),
}

# Change orders moving the budget by at least the first amount need finance too; by at least
# the second, the deal desk as well.
CHANGE_ORDER_TIERS = {
    "USD": [Decimal("25000"), Decimal("100000")],
    "GBP": [Decimal("20000"), Decimal("80000")],
    "EUR": [Decimal("23000"), Decimal("92000")],
    "CAD": [Decimal("34000"), Decimal("136000")],
}


def sf_id(prefix: str, number: int) -> str:
    """An 18-character Salesforce id for a prefix (001, 006, ...) and a sequence number."""
    return salesforce_id_18(f"{prefix}Hs{number:010d}"[:15])


# (account name, billing country, legal entity); index i has id sf_id("001", i + 1)
ACCOUNTS: list[tuple[str, str, str]] = [
    ("Acme Manufacturing Corp.", "US", "US01"),
    ("Globex Financial Services", "US", "US01"),
    ("Initech Software", "US", "US01"),
    ("Umbrella Health Systems", "US", "US01"),
    ("Stark Logistics", "US", "US01"),
    ("Wayne Energy Partners", "US", "US01"),
    ("Cyberdyne Retail Group", "US", "US01"),
    ("Soylent Foods", "US", "US01"),
    ("Hooli Media", "US", "US01"),
    ("Vandelay Industries", "US", "US01"),
    ("Wonka Consumer Brands", "GB", "UK01"),
    ("Sterling Cooper Insurance", "GB", "UK01"),
    ("Oceanic Airlines", "GB", "UK01"),
    ("Blackwood Pharmaceuticals", "GB", "UK01"),
    ("Kruger Automotive AG", "DE", "DE01"),
    ("Rheinland Versicherung", "DE", "DE01"),
    ("Bayern Chemie GmbH", "DE", "DE01"),
    ("Nordlicht Telekom", "DE", "DE01"),
    ("Maple Leaf Utilities", "CA", "CA01"),
    ("Northern Rail Canada", "CA", "CA01"),
    ("Pacific Timber Co.", "CA", "CA01"),
    ("Tyrell Biotech", "US", "US01"),
]


def account_id(index: int) -> str:
    return sf_id("001", index + 1)


# ERP customers that exist before psflow runs (indexes into ACCOUNTS): never to be deleted.
PREEXISTING_CUSTOMERS = [0, 1, 10, 14, 18]


# HCM department code -> (ERP department id, name)
DEPARTMENTS: dict[str, tuple[str, str]] = {
    "DEP-CONS": ("101", "Consulting"),
    "DEP-ARCH": ("102", "Architecture"),
    "DEP-DATA": ("103", "Data & Analytics"),
    "DEP-PMO": ("104", "Delivery Management"),
}
# HCM cost center -> (legal entity, name); the ERP keeps the same codes
COST_CENTERS: dict[str, tuple[str, str]] = {
    "CC-1100": ("US01", "Consulting East"),
    "CC-1200": ("US01", "Consulting West"),
    "CC-1300": ("US01", "Architecture US"),
    "CC-2100": ("UK01", "Consulting London"),
    "CC-3100": ("DE01", "Beratung München"),
    "CC-4100": ("CA01", "Consulting Toronto"),
}
LOCATIONS: dict[str, list[str]] = {
    "US01": ["New York", "Chicago", "San Francisco"],
    "UK01": ["London"],
    "DE01": ["Munich", "Berlin"],
    "CA01": ["Toronto"],
}
SKILLS = [
    "Salesforce",
    "NetSuite",
    "Workday",
    "Data Engineering",
    "Cloud Architecture",
    "Change Management",
    "Project Management",
    "Python",
    "SAP",
]
HCM_TENANT = "northwind"
