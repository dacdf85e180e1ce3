"""Month-end volume in the CRM: one closed-won opportunity per volume project.

sandbox.volume generates the same projects for the same (projects, entries, period, seed) in
every system, so the CRM seeds its slice without asking the PSA or the ERP.
"""

import random
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sandbox import catalog
from sandbox.volume import Volume, VolumeProject, volume_projects

# Volume opportunity ids are sf_id("006", VOLUME_BASE + number); the demo seed stays below.
VOLUME_BASE = 50000
OWNERS = ("sam", "alex")


def is_volume_id(opportunity_id: str) -> bool:
    """Whether an opportunity id is one the volume seed hands out."""
    digits = opportunity_id[5:15]
    return digits.isascii() and digits.isdigit() and int(digits) > VOLUME_BASE


def volume_opportunity(project: VolumeProject, erp_project_id: str) -> dict[str, Any]:
    """The Opportunity record behind one volume project, already delivered in PSA and ERP."""
    rng = random.Random(f"psflow-volume-crm/{project.opportunity_id}")
    closed = project.start_date - timedelta(days=rng.randint(7, 30))
    return {
        "Id": project.opportunity_id,
        "Name": project.name,
        "AccountId": catalog.account_id(project.account_index),
        "OwnerId": catalog.USERS[rng.choice(OWNERS)][0],
        "StageName": "Closed Won",
        "IsClosed": True,
        "IsWon": True,
        "Amount": float(project.budget),
        "CurrencyIsoCode": project.currency,
        "CloseDate": closed.isoformat(),
        "Rate_Card__c": project.rate_card,
        "Legal_Entity__c": catalog.ACCOUNTS[project.account_index][2],
        "Billing_Terms__c": "Net 30",
        "Billing_Type__c": project.billing_type,
        "Start_Date__c": project.start_date.isoformat(),
        "ERP_Project_Id__c": erp_project_id,
        "PSA_Project_Id__c": project.psa_id,
        "Invoice_Status__c": None,
        "Last_Invoice_Number__c": None,
        "Last_Invoice_Amount__c": None,
        "Last_Invoiced_Period__c": None,
    }


def volume_opportunities(
    volume: Volume, erp_project_ids: Mapping[int, str] | None = None
) -> list[dict[str, Any]]:
    """Every volume project's opportunity, in project order; its ERP project id is
    `erp_project_ids[number]` when given, else the sandbox NetSuite's job id."""
    ids = erp_project_ids or {}
    return [volume_opportunity(p, ids.get(p.number, p.erp_job_id)) for p in volume_projects(volume)]
