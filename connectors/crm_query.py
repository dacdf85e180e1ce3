"""SOQL reads through the CRM connector: closed-won opportunities and what they link to."""

from typing import Any

from connectors.crm import CrmConnector
from models.reconcile import OpportunityLinks

CLOSED_WON = (
    "SELECT Id, Name, CloseDate, ERP_Project_Id__c, PSA_Project_Id__c, Invoice_Status__c, "
    "Last_Invoice_Number__c FROM Opportunity WHERE StageName = 'Closed Won'"
)


async def soql(crm: CrmConnector, query: str) -> list[dict[str, Any]]:
    """Every record a SOQL query selects, following nextRecordsUrl pages."""
    response = await crm.request(
        "GET", f"/services/data/{crm.api_version}/query", params={"q": query}
    )
    page = response.json()
    records: list[dict[str, Any]] = list(page["records"])
    while not page.get("done", True) and page.get("nextRecordsUrl"):
        page = (await crm.request("GET", page["nextRecordsUrl"])).json()
        records.extend(page["records"])
    return records


async def closed_won_opportunities(crm: CrmConnector) -> list[OpportunityLinks]:
    """Every closed-won opportunity with its project ids and latest invoice, by id."""
    records = await soql(crm, CLOSED_WON)
    found = [
        OpportunityLinks(
            id=r["Id"],
            name=r.get("Name") or "",
            close_date=r.get("CloseDate"),
            erp_project_id=r.get("ERP_Project_Id__c"),
            psa_project_id=r.get("PSA_Project_Id__c"),
            invoice_status=r.get("Invoice_Status__c"),
            invoice_number=r.get("Last_Invoice_Number__c"),
        )
        for r in records
    ]
    return sorted(found, key=lambda o: o.id)
