"""The CRM's side of time-to-bill: invoice status on the opportunity, and month-end volume."""

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from connectors.crm import CrmConnector
from connectors.errors import NotFound, RequestRejected
from models.billing import InvoiceStatus, InvoiceStatusUpdate
from sandbox import catalog
from sandbox.crm.app import create_app
from sandbox.crm.seed import DEMO_OPPORTUNITIES
from sandbox.volume import Volume, volume_projects
from tests.test_crm import CLIENT_ID, CLIENT_SECRET, DATA, KEYS, authorised, connect
from tests.vendor_keys import crm_app

DEMO_COUNT = 60
DEAL = DEMO_OPPORTUNITIES["small_usd"]
INVOICE_SOQL = (
    "SELECT Id, Invoice_Status__c, Last_Invoice_Number__c, Last_Invoice_Amount__c, "
    "Last_Invoiced_Period__c FROM Opportunity"
)
VOLUME = Volume(projects=12, entries=60, period="2026-10", seed=7)


def update(
    status: InvoiceStatus, total: str = "12345.67", number: str = "INV-1001"
) -> InvoiceStatusUpdate:
    return InvoiceStatusUpdate(
        opportunity_id=DEAL,
        invoice_number=number,
        status=status,
        total=Decimal(total),
        currency="USD",
        period="2026-10",
    )


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(
        tmp_path / "crm.db", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **crm_app(KEYS)
    )


@pytest.fixture
async def crm(app: FastAPI) -> AsyncIterator[CrmConnector]:
    connector = connect(httpx.ASGITransport(app=app))
    yield connector
    await connector.aclose()


@pytest.fixture
async def raw(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with authorised(app) as client:
        yield client


async def soql(raw: httpx.AsyncClient, q: str) -> list[dict[str, Any]]:
    response = await raw.get(f"{DATA}/query", params={"q": q})
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records


async def seed_volume(raw: httpx.AsyncClient, volume: Volume) -> dict[str, int]:
    body = {"projects": volume.projects, "entries": volume.entries}
    response = await raw.post("/__admin/seed/volume", json=body | {"period": volume.period})
    assert response.status_code == 200, response.text
    counts: dict[str, int] = response.json()
    return counts


# --- invoice status on the opportunity -------------------------------------------------------


async def test_invoice_status_is_written_and_read_back(
    crm: CrmConnector, raw: httpx.AsyncClient
) -> None:
    assert await crm.invoice_status(DEAL) is None

    await crm.set_invoice_status(update(InvoiceStatus.RELEASED))

    assert await crm.invoice_status(DEAL) == update(InvoiceStatus.RELEASED)
    record = (await raw.get(f"{DATA}/sobjects/Opportunity/{DEAL}")).json()
    assert record["Invoice_Status__c"] == "Released"  # the picklist label
    assert record["Last_Invoice_Amount__c"] == 12345.67  # a JSON number
    assert (record["Last_Invoice_Number__c"], record["Last_Invoiced_Period__c"]) == (
        "INV-1001",
        "2026-10",
    )


async def test_invoice_fields_are_selectable_and_filterable_with_soql(
    crm: CrmConnector, raw: httpx.AsyncClient
) -> None:
    await crm.set_invoice_status(update(InvoiceStatus.APPROVED))

    records = await soql(raw, f"{INVOICE_SOQL} WHERE Invoice_Status__c = 'Approved'")

    assert [(r["Id"], r["Last_Invoice_Amount__c"]) for r in records] == [(DEAL, 12345.67)]
    assert await soql(raw, f"{INVOICE_SOQL} WHERE Invoice_Status__c = 'Released'") == []


async def test_a_later_status_replaces_the_earlier_one_and_a_repeat_changes_nothing(
    crm: CrmConnector,
) -> None:
    await crm.set_invoice_status(update(InvoiceStatus.DRAFT))
    await crm.set_invoice_status(update(InvoiceStatus.VOIDED))
    await crm.set_invoice_status(update(InvoiceStatus.DRAFT, "990", "INV-1002"))
    await crm.set_invoice_status(update(InvoiceStatus.DRAFT, "990", "INV-1002"))

    assert await crm.invoice_status(DEAL) == update(InvoiceStatus.DRAFT, "990", "INV-1002")


async def test_a_value_outside_the_picklist_is_refused(raw: httpx.AsyncClient) -> None:
    url = f"{DATA}/sobjects/Opportunity/{DEAL}"

    response = await raw.patch(url, json={"Invoice_Status__c": "Sent"})

    assert response.status_code == 400
    assert response.json() == [
        {
            "message": "Invoice Status: bad value for restricted picklist field: Sent",
            "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "fields": ["Invoice_Status__c"],
        }
    ]


async def test_an_amount_a_float_would_round_is_refused_before_sending(
    crm: CrmConnector,
) -> None:
    with pytest.raises(RequestRejected, match="cannot be sent exactly"):
        await crm.set_invoice_status(update(InvoiceStatus.DRAFT, "12345678901234567.89"))

    assert await crm.invoice_status(DEAL) is None


async def test_invoice_status_for_a_missing_opportunity_is_not_found(crm: CrmConnector) -> None:
    missing = update(InvoiceStatus.DRAFT).model_copy(
        update={"opportunity_id": catalog.sf_id("006", 9999)}
    )

    with pytest.raises(NotFound):
        await crm.set_invoice_status(missing)


# --- month-end volume ------------------------------------------------------------------------


async def test_volume_seed_creates_a_closed_won_opportunity_per_project(
    crm: CrmConnector, raw: httpx.AsyncClient
) -> None:
    counts = await seed_volume(raw, VOLUME)

    assert counts == {"opportunities": VOLUME.projects, "replaced": 0}
    for project in volume_projects(VOLUME):
        deal = await crm.get_opportunity(project.opportunity_id)
        assert (deal.stage, deal.is_won) == ("Closed Won", True)
        assert deal.account.id == catalog.account_id(project.account_index)
        assert (deal.name, deal.currency, deal.amount) == (
            project.name,
            project.currency,
            project.budget,
        )
        assert (deal.rate_card, deal.billing_type) == (project.rate_card, project.billing_type)
        assert (deal.erp_project_id, deal.psa_project_id) == (project.erp_job_id, project.psa_id)
    won = await soql(raw, "SELECT Id FROM Opportunity WHERE IsWon = true")
    assert {p.opportunity_id for p in volume_projects(VOLUME)} <= {r["Id"] for r in won}


async def test_a_new_volume_seed_replaces_the_earlier_volume(raw: httpx.AsyncClient) -> None:
    await seed_volume(raw, VOLUME)
    smaller = Volume(projects=5, entries=20, period="2026-11")

    counts = await seed_volume(raw, smaller)

    assert counts == {"opportunities": 5, "replaced": VOLUME.projects}
    ids = {r["Id"] for r in await soql(raw, "SELECT Id FROM Opportunity")}
    assert len(ids) == DEMO_COUNT + 5
    assert {p.opportunity_id for p in volume_projects(smaller)} <= ids
    assert set(DEMO_OPPORTUNITIES.values()) <= ids


async def test_reset_removes_the_volume_opportunities(raw: httpx.AsyncClient) -> None:
    await seed_volume(raw, VOLUME)

    assert (await raw.post("/__admin/reset")).status_code == 204

    assert len(await soql(raw, "SELECT Id FROM Opportunity")) == DEMO_COUNT
    first = volume_projects(VOLUME)[0].opportunity_id
    assert (await raw.get(f"{DATA}/sobjects/Opportunity/{first}")).status_code == 404


async def test_volume_seed_refuses_a_period_that_is_not_a_month(raw: httpx.AsyncClient) -> None:
    response = await raw.post(
        "/__admin/seed/volume", json={"projects": 5, "entries": 20, "period": "2026-13"}
    )

    assert response.status_code == 400
    assert "is not a month written YYYY-MM" in response.json()[0]["message"]
    assert len(await soql(raw, "SELECT Id FROM Opportunity")) == DEMO_COUNT
