"""Words and weights that make the generated month-end look like a consulting firm's."""

from decimal import Decimal

FIRST_NAMES = (
    "Ava Ben Carla Dev Emma Felix Grace Hugo Ines Jonas Kira Liam Maya Nils Olivia Pablo "
    "Quinn Rosa Sven Tara Umar Vera Wes Yara Zoe Anton Bianca Chen Dara Elif"
).split()
LAST_NAMES = (
    "Adler Brooks Costa Dubois Evans Fischer Garcia Hansen Ito Jensen Kowalski Larsen "
    "Moreau Nakamura Okafor Petrov Quinlan Rossi Schmidt Tanaka Usman Varga Walsh Young "
    "Zimmer"
).split()
ENGAGEMENTS = (
    "Salesforce Rollout|NetSuite Implementation|Workday HCM Deployment|"
    "Data Platform Build|Cloud Migration|Finance Transformation|"
    "Supply Chain Analytics|CRM Optimisation|ERP Upgrade|PMO Support"
).split("|")
MILESTONES = ("Design sign-off", "Build complete", "Go-live")
BILLABLE_NOTES = (
    "Workshop prep|Client workshop|Requirements analysis|Solution design|"
    "Configuration|Data migration testing|Stakeholder interviews|Sprint review|"
    "Status meeting with client|User acceptance testing support|Documentation|"
    "Integration build"
).split("|")
INTERNAL_NOTES = (
    "Internal training|Travel to client site|Team meeting|Proposal support|"
    "Knowledge transfer (internal)"
).split("|")
ROLE_WEIGHTS = [5, 10, 15, 25, 30, 15]  # catalog.ROLES order: few partners, many consultants
ENTITY_WEIGHTS = {"US01": 55, "UK01": 15, "DE01": 15, "CA01": 15}
HOURS = [Decimal(f"{h / 2:.1f}") for h in range(1, 17)]
HOUR_WEIGHTS = [1, 2, 2, 4, 3, 5, 3, 8, 3, 6, 3, 8, 3, 6, 3, 20]
# category -> (USD low, USD high, billable share, note)
EXPENSES = {
    "Airfare": (180, 900, 0.9, "Flight to client site"),
    "Hotel": (120, 450, 0.9, "Hotel near client office"),
    "Meals": (15, 90, 0.8, "Working dinner"),
    "Ground Transport": (10, 120, 0.85, "Taxi to client office"),
    "Mileage": (20, 160, 0.85, "Mileage to client site"),
    "Software": (30, 400, 0.5, "Test environment licence"),
}
