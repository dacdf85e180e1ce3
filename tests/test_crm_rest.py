"""The CRM sandbox's Salesforce REST as clients use it: SOQL as a Salesforce developer writes
it, each query's answer checked against the records read another way (the admin listing);
an object's basic info and describe (the custom fields psflow writes, with whether they can
be written), the org's limits, and a 405 that says which methods the URL takes."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from connectors.crm import CrmConnector
from connectors.crm_query import soql
from sandbox import catalog
from sandbox.crm.app import create_app
from tests.vendor_keys import auth, crm_app, settings_for

BASE_URL = "http://crm.test"
KEYS = settings_for(BASE_URL, "psflow", "rest-secret")
DATA = "/services/data/v60.0"


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(
        tmp_path / "crm.db", client_id="psflow", client_secret="rest-secret", **crm_app(KEYS)
    )


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL, auth=auth(KEYS, "crm")
    ) as client:
        yield client


async def listing(api: httpx.AsyncClient, sobject: str) -> list[dict[str, Any]]:
    answer = await api.get(f"/__admin/records/{sobject}", params={"limit": 5000})
    records: list[dict[str, Any]] = answer.json()["records"]
    return records


async def query(api: httpx.AsyncClient, text: str) -> dict[str, Any]:
    answer = await api.get(f"{DATA}/query", params={"q": text})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [r["Id"] for r in body["records"]]


async def test_keywords_names_and_string_values_ignore_case(api: httpx.AsyncClient) -> None:
    deals = await listing(api, "Opportunity")
    won = sorted(d["Id"] for d in deals if d["StageName"] == "Closed Won")

    lower = await query(api, "select id from opportunity where stagename = 'closed won'")
    upper = await query(api, "SELECT Id FROM Opportunity WHERE StageName = 'Closed Won'")

    assert ids(lower) == ids(upper) == won
    assert lower["records"][0]["attributes"]["type"] == "Opportunity"


async def test_order_by_limit_and_offset(api: httpx.AsyncClient) -> None:
    deals = await listing(api, "Opportunity")
    by_amount = sorted(deals, key=lambda d: d["Id"])
    by_amount.sort(key=lambda d: d["Amount"], reverse=True)

    first = await query(api, "SELECT Id, Amount FROM Opportunity ORDER BY Amount DESC LIMIT 5")
    next_five = await query(
        api, "SELECT Id FROM Opportunity ORDER BY Amount DESC, Id LIMIT 5 OFFSET 5"
    )

    assert ids(first) == [d["Id"] for d in by_amount[:5]]
    assert ids(next_five) == [d["Id"] for d in by_amount[5:10]]


async def test_count_in_comparisons_and_boolean_logic(api: httpx.AsyncClient) -> None:
    deals = await listing(api, "Opportunity")

    def expect(keep: Any) -> list[str]:
        return sorted(d["Id"] for d in deals if keep(d))

    counted = await query(api, "SELECT COUNT() FROM Opportunity WHERE IsWon = true")
    assert counted == {
        "totalSize": sum(1 for d in deals if d["IsWon"]), "done": True, "records": []
    }  # fmt: skip
    picked = await query(
        api,
        "SELECT Id FROM Opportunity WHERE CurrencyIsoCode IN ('GBP', 'EUR') AND Amount > 100000",
    )
    assert ids(picked) == expect(
        lambda d: d["CurrencyIsoCode"] in ("GBP", "EUR") and d["Amount"] > 100000
    )
    either = await query(
        api,
        "SELECT Id FROM Opportunity WHERE (StageName != 'Closed Won' OR Amount <= 50000) "
        "AND NOT CurrencyIsoCode = 'USD'",
    )
    assert ids(either) == expect(
        lambda d: (
            (d["StageName"] != "Closed Won" or d["Amount"] <= 50000)
            and d["CurrencyIsoCode"] != "USD"
        )
    )
    excluded = await query(api, "SELECT Id FROM Opportunity WHERE CurrencyIsoCode NOT IN ('USD')")
    assert ids(excluded) == expect(lambda d: d["CurrencyIsoCode"] != "USD")
    unlinked = await query(api, "SELECT Id FROM Opportunity WHERE ERP_Project_Id__c = null")
    assert ids(unlinked) == expect(lambda d: d["ERP_Project_Id__c"] is None)


async def test_date_literals(api: httpx.AsyncClient) -> None:
    deals = await listing(api, "Opportunity")
    today = datetime.now(UTC).date().isoformat()

    past = await query(api, "SELECT Id FROM Opportunity WHERE CloseDate < TODAY")
    recent = await query(api, "SELECT Id FROM Opportunity WHERE CloseDate = LAST_N_DAYS:3650")
    after = await query(api, "SELECT Id FROM Opportunity WHERE CloseDate >= 2026-01-01")

    assert ids(past) == sorted(d["Id"] for d in deals if d["CloseDate"] < today)
    assert set(ids(recent)) <= {d["Id"] for d in deals if d["CloseDate"] <= today}
    assert ids(after) == sorted(d["Id"] for d in deals if d["CloseDate"] >= "2026-01-01")


async def test_relationship_fields_follow_the_lookups(api: httpx.AsyncClient) -> None:
    accounts = {a["Id"]: a["Name"] for a in await listing(api, "Account")}
    owners = {user_id: name for user_id, name, _ in catalog.USERS.values()}
    deals = await listing(api, "Opportunity")

    found = await query(
        api,
        "SELECT Name, Account.Name, owner.name FROM Opportunity "
        "WHERE Account.Name LIKE 'acme%' ORDER BY Name",
    )

    expected = [d for d in deals if accounts[d["AccountId"]].startswith("Acme")]
    assert found["totalSize"] == len(expected) > 0
    first = found["records"][0]
    assert (
        first["Account"]["Name"].startswith("Acme")
        and first["Account"]["attributes"]["type"] == "Account"
    )
    assert first["Owner"]["Name"] in owners.values()


async def test_a_large_result_comes_in_batches_the_connector_follows(
    app: FastAPI, api: httpx.AsyncClient
) -> None:
    added = await api.post("/__admin/seed/deals", json={"count": 2100})
    assert added.status_code == 201
    first = await query(api, "SELECT Id FROM Opportunity")
    assert len(first["records"]) == 2000 and first["done"] is False
    rest = (await api.get(first["nextRecordsUrl"])).json()
    total = first["totalSize"]
    assert rest["done"] is True and len(rest["records"]) == total - 2000 > 0
    assert not set(ids(first)) & set(ids(rest))

    calls: list[str] = []

    class Counting(httpx.ASGITransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            calls.append(request.url.path)
            return await super().handle_async_request(request)

    crm = CrmConnector.build(BASE_URL, auth(KEYS, "crm"), transport=Counting(app=app))
    try:
        records = await soql(crm, "SELECT Id FROM Opportunity")
    finally:
        await crm.aclose()
    assert len(records) == total
    pages = [c for c in calls if "/query" in c]
    assert len(pages) == 2 and pages[0] == f"{DATA}/query"
    assert pages[1].startswith(f"{DATA}/query/01g") and pages[1].endswith("-2000")


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ("SELECT Id, Nope FROM Opportunity", "INVALID_FIELD", "No such column 'Nope'"),
        ("SELECT Id FROM Opportunity WHERE Account.Nope = 'x'", "INVALID_FIELD", "'Nope'"),
        ("SELECT Id FROM Nothing", "INVALID_TYPE", "Nothing"),
        ("SELECT Id Opportunity", "MALFORMED_QUERY", "FROM"),
        ("SELECT Id FROM Opportunity WHERE Amount ~ 3", "MALFORMED_QUERY", "unexpected"),
        ("SELECT Id FROM Opportunity LIMIT many", "MALFORMED_QUERY", "LIMIT"),
    ],
    ids=["unknown field", "unknown related field", "unknown object", "no FROM", "bad operator",
         "bad LIMIT"],
)  # fmt: skip
async def test_a_query_salesforce_refuses_is_refused_the_same_way(
    api: httpx.AsyncClient, text: str, code: str, words: str
) -> None:
    answer = await api.get(f"{DATA}/query", params={"q": text})
    assert answer.status_code == 400
    (error,) = answer.json()
    assert error["errorCode"] == code and words in error["message"]


async def test_an_unknown_query_locator_is_refused(api: httpx.AsyncClient) -> None:
    answer = await api.get(f"{DATA}/query/01gNOPE-2000")
    assert (answer.status_code, answer.json()[0]["errorCode"]) == (400, "INVALID_QUERY_LOCATOR")


# ---- describe, basic info, limits, 405 -------------------------------------------------


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
