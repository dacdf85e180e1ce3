"""What a Salesforce client reads besides records: an object's basic info and describe (the
custom fields psflow writes among its fields, with whether they can be written), the org's
limits, and a 405 that says which methods the URL takes."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from sandbox.crm.app import create_app
from tests.vendor_keys import auth, crm_app, settings_for

BASE_URL = "http://crm.test"
KEYS = settings_for(BASE_URL, "psflow", "api-secret")
DATA = "/services/data/v60.0"


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(
        tmp_path / "crm.db", client_id="psflow", client_secret="api-secret", **crm_app(KEYS)
    )


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL, auth=auth(KEYS, "crm")
    ) as client:
        yield client


async def test_describe_lists_the_fields_psflow_writes_with_their_rights(
    api: httpx.AsyncClient,
) -> None:
    described = (await api.get(f"{DATA}/sobjects/Opportunity/describe")).json()
    fields = {f["name"]: f for f in described["fields"]}

    assert described["name"] == "Opportunity" and described["keyPrefix"] == "006"
    for name in ("ERP_Project_Id__c", "PSA_Project_Id__c", "Invoice_Status__c"):
        assert fields[name]["custom"] and fields[name]["updateable"]
    assert fields["IsWon"]["updateable"] is False
    assert fields["Amount"]["type"] == "currency"
    statuses = [v["value"] for v in fields["Invoice_Status__c"]["picklistValues"]]
    assert statuses == ["Draft", "Approved", "Released", "Voided"]
    account = (await api.get(f"{DATA}/sobjects/account/describe")).json()
    assert {f["name"]: f["externalId"] for f in account["fields"]}["Psflow_External_Id__c"]


async def test_basic_info_is_the_objects_summary_not_its_records(api: httpx.AsyncClient) -> None:
    info = (await api.get(f"{DATA}/sobjects/Opportunity")).json()
    assert set(info) == {"objectDescribe", "recentItems"}
    assert info["objectDescribe"]["urls"]["describe"] == f"{DATA}/sobjects/Opportunity/describe"


async def test_limits_count_the_days_api_requests(api: httpx.AsyncClient) -> None:
    first = (await api.get(f"{DATA}/limits")).json()["DailyApiRequests"]
    await api.get(f"{DATA}/sobjects/Opportunity/describe")
    second = (await api.get(f"{DATA}/limits")).json()["DailyApiRequests"]
    assert first["Max"] == second["Max"] == 15_000
    assert second["Remaining"] == first["Remaining"] - 2


async def test_a_method_the_url_does_not_take_is_answered_405_with_allow(
    api: httpx.AsyncClient,
) -> None:
    answer = await api.delete(f"{DATA}/query", params={"q": "SELECT Id FROM Opportunity"})
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET"
    assert answer.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"
