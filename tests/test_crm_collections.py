"""The CRM sandbox's sObject Collections (/composite/sobjects) as a Salesforce client sees them:
many records written in one request with one SaveResult each, allOrNone undoing the whole batch
(no record, no event), the 200-record limit, retrieve with null for an id not found, create,
delete, and the bearer token every data route needs. Then the connector's
`set_invoice_statuses`: 200 opportunities to a request, each one's outcome its own."""

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from connectors.crm import CrmConnector
from connectors.crm_status_batch import InvoiceStatusBatcher
from connectors.errors import RequestRejected, SystemUnavailable
from models.billing import InvoiceStatus, InvoiceStatusUpdate
from sandbox.crm.app import create_app
from sandbox.crm.seed import SPARE_CLOSED_WON
from tests.vendor_keys import auth, crm_app, settings_for

BASE_URL = "http://crm.test"
KEYS = settings_for(BASE_URL, "psflow", "collections-secret")
DATA = "/services/data/v60.0"
COLLECTION = f"{DATA}/composite/sobjects"
DEALS = SPARE_CLOSED_WON[:3]
MISSING = "006000000000000AAA"  # well-formed, no such opportunity
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was "
    "using AllOrNone header",
    "fields": [],
}


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(
        tmp_path / "crm.db",
        client_id="psflow",
        client_secret="collections-secret",
        **crm_app(KEYS),
    )


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL, auth=auth(KEYS, "crm")
    ) as client:
        yield client


def opportunity(record_id: str | None, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"attributes": {"type": "Opportunity"}, **fields}
    return record | ({"id": record_id} if record_id else {})


async def patch(
    api: httpx.AsyncClient, records: list[dict[str, Any]], all_or_none: bool
) -> httpx.Response:
    body = {"allOrNone": all_or_none, "records": records}
    return await api.patch(COLLECTION, json=body)


async def statuses(api: httpx.AsyncClient, ids: list[str]) -> list[Any]:
    answer = await api.get(
        f"{COLLECTION}/Opportunity", params={"ids": ",".join(ids), "fields": "Invoice_Status__c"}
    )
    assert answer.status_code == 200, answer.text
    return [r and r["Invoice_Status__c"] for r in answer.json()]


async def test_an_update_of_several_records_writes_each_and_answers_in_order(
    api: httpx.AsyncClient,
) -> None:
    records = [opportunity(d, Invoice_Status__c=s) for d, s in zip(DEALS, ["Draft", "Released",
               "Voided"], strict=True)]  # fmt: skip
    answer = await patch(api, records, all_or_none=False)
    assert answer.status_code == 200, answer.text
    assert answer.json() == [{"id": d, "success": True, "errors": []} for d in DEALS]
    assert await statuses(api, DEALS) == ["Draft", "Released", "Voided"]


async def test_all_or_none_with_one_bad_record_writes_nothing_and_says_why(
    api: httpx.AsyncClient,
) -> None:
    before = await statuses(api, DEALS)
    events = (await api.get("/__admin/webhooks")).json()["data"]
    records = [
        opportunity(DEALS[0], Invoice_Status__c="Released"),
        opportunity(DEALS[1], Invoice_Status__c="Paid"),
        opportunity(DEALS[2], StageName="Closed Lost", Invoice_Status__c="Released"),
    ]
    answer = await patch(api, records, all_or_none=True)

    assert answer.status_code == 200, answer.text
    refused = {
        "statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "message": "Invoice Status: bad value for restricted picklist field: Paid",
        "fields": ["Invoice_Status__c"],
    }
    assert answer.json() == [
        {"id": DEALS[0], "success": False, "errors": [ROLLED_BACK]},
        {"id": None, "success": False, "errors": [refused]},
        {"id": DEALS[2], "success": False, "errors": [ROLLED_BACK]},
    ]
    assert await statuses(api, DEALS) == before
    stages = await api.get(f"{DATA}/sobjects/Opportunity/{DEALS[2]}", params={"fields": "IsClosed"})
    assert stages.json()["IsClosed"] is True  # still Closed Won, not Closed Lost
    assert (await api.get("/__admin/webhooks")).json()["data"] == events


async def test_without_all_or_none_the_good_records_are_written(api: httpx.AsyncClient) -> None:
    records = [
        opportunity(DEALS[0], Invoice_Status__c="Approved"),
        opportunity(MISSING, Invoice_Status__c="Approved"),
        opportunity(DEALS[1], Nope__c="x"),
        opportunity(None, Invoice_Status__c="Approved"),
        opportunity(DEALS[2], Invoice_Status__c="Approved"),
    ]
    answer = await patch(api, records, all_or_none=False)

    assert answer.status_code == 200, answer.text
    results = answer.json()
    assert [r["success"] for r in results] == [True, False, False, False, True]
    assert [r["errors"][0]["statusCode"] for r in results[1:4]] == [
        "NOT_FOUND", "INVALID_FIELD", "MISSING_ARGUMENT",
    ]  # fmt: skip
    assert results[2]["errors"][0]["fields"] == ["Nope__c"]
    assert await statuses(api, [DEALS[0], DEALS[2]]) == ["Approved", "Approved"]


async def test_more_than_200_records_are_refused_whole(api: httpx.AsyncClient) -> None:
    before = await statuses(api, DEALS)
    records = [opportunity(DEALS[i % 3], Invoice_Status__c="Voided") for i in range(201)]
    answer = await patch(api, records, all_or_none=False)
    assert answer.status_code == 400
    assert answer.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert "cannot submit more than 200 records" in answer.json()[0]["message"]
    assert await statuses(api, DEALS) == before


async def test_a_record_without_a_known_type_makes_the_request_malformed(
    api: httpx.AsyncClient,
) -> None:
    answer = await patch(api, [{"id": DEALS[0], "Invoice_Status__c": "Draft"}], False)
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    unknown = {"attributes": {"type": "Contact"}, "id": DEALS[0]}
    answer = await patch(api, [unknown], False)
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "INVALID_TYPE"


async def test_retrieve_answers_null_for_an_id_not_found(api: httpx.AsyncClient) -> None:
    answer = await api.get(
        f"{COLLECTION}/Opportunity",
        params={"ids": f"{DEALS[0]},{MISSING},not-an-id,{DEALS[1]}", "fields": "id,Name"},
    )
    assert answer.status_code == 200, answer.text
    first, missing, malformed, second = answer.json()
    assert missing is None and malformed is None
    assert [first["Id"], second["Id"]] == DEALS[:2]
    assert set(first) == {"attributes", "Id", "Name"}
    assert first["attributes"] == {
        "type": "Opportunity", "url": f"{DATA}/sobjects/Opportunity/{DEALS[0]}",
    }  # fmt: skip
    bad = await api.get(f"{COLLECTION}/Opportunity", params={"ids": DEALS[0], "fields": "Nope"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_FIELD"


async def test_create_makes_each_valid_record_and_refuses_the_rest(
    api: httpx.AsyncClient,
) -> None:
    good = opportunity(None, Name="Collections deal", StageName="Prospecting",
                       CloseDate="2026-12-31", Amount=1200)  # fmt: skip
    no_stage = opportunity(None, Name="No stage", CloseDate="2026-12-31")
    account = {"attributes": {"type": "Account"}, "Name": "Collections Ltd"}
    answer = await api.post(
        COLLECTION, json={"allOrNone": False, "records": [good, no_stage, account]}
    )

    assert answer.status_code == 200, answer.text
    made, refused, made_account = answer.json()
    assert made["success"] and made["id"].startswith("006") and made["errors"] == []
    assert made_account["success"] and made_account["id"].startswith("001")
    missing = "Required fields are missing: [StageName]"
    assert refused == {"id": None, "success": False, "errors": [
        {"statusCode": "REQUIRED_FIELD_MISSING", "message": missing, "fields": ["StageName"]}
    ]}  # fmt: skip
    read = await api.get(f"{DATA}/sobjects/Opportunity/{made['id']}")
    assert read.json()["Name"] == "Collections deal" and read.json()["IsClosed"] is False

    # allOrNone: the valid record is not created either.
    again = await api.post(COLLECTION, json={"allOrNone": True, "records": [good, no_stage]})
    assert [r["errors"][0]["statusCode"] for r in again.json()] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK", "REQUIRED_FIELD_MISSING",
    ]  # fmt: skip
    query = await api.get(
        f"{DATA}/query", params={"q": "SELECT Id FROM Opportunity WHERE Name = 'Collections deal'"}
    )
    assert query.json()["totalSize"] == 1


async def test_delete_removes_the_records_found(api: httpx.AsyncClient) -> None:
    made = await api.post(COLLECTION, json={"records": [
        {"attributes": {"type": "Account"}, "Name": f"Doomed {i}"} for i in range(2)
    ]})  # fmt: skip
    ids = [r["id"] for r in made.json()]
    answer = await api.delete(COLLECTION, params={"ids": ",".join([*ids, MISSING])})
    assert answer.status_code == 200, answer.text
    assert [r["success"] for r in answer.json()] == [True, True, False]
    gone = await api.get(f"{COLLECTION}/Account", params={"ids": ",".join(ids), "fields": "Id"})
    assert gone.json() == [None, None]


async def test_every_collection_route_needs_a_token(app: FastAPI) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL
    ) as anonymous:
        answers = [
            await anonymous.patch(COLLECTION, json={"records": [opportunity(DEALS[0])]}),
            await anonymous.post(COLLECTION, json={"records": []}),
            await anonymous.get(f"{COLLECTION}/Opportunity", params={"ids": DEALS[0],
                                                                    "fields": "Id"}),
            await anonymous.delete(COLLECTION, params={"ids": DEALS[0]}),
        ]  # fmt: skip
    assert [a.status_code for a in answers] == [401] * 4
    assert {a.json()[0]["errorCode"] for a in answers} == {"INVALID_SESSION_ID"}


# ---- the connector: many opportunities' invoice status, 200 to a request ---------------


class Counting(httpx.ASGITransport):
    """The app, remembering each request's method and path."""

    def __init__(self, app: FastAPI) -> None:
        super().__init__(app=app)
        self.calls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        return await super().handle_async_request(request)


def update(opportunity_id: str, number: str) -> InvoiceStatusUpdate:
    return InvoiceStatusUpdate(
        opportunity_id=opportunity_id, invoice_number=number, status=InvoiceStatus.RELEASED,
        total=Decimal("1200.50"), currency="USD", period="2026-05",
    )  # fmt: skip


async def test_450_invoice_statuses_go_in_three_requests_and_an_unknown_deal_is_reported(
    app: FastAPI, api: httpx.AsyncClient
) -> None:
    added = await api.post("/__admin/seed/deals", json={"count": 449})
    deals = added.json()["opportunities"]
    updates = [update(d, f"INV-{i:04d}") for i, d in enumerate(deals)]
    updates.insert(300, update(MISSING, "INV-LOST"))
    transport = Counting(app)
    crm = CrmConnector.build(BASE_URL, auth(KEYS, "crm"), transport=transport)
    try:
        outcomes = await crm.set_invoice_statuses(updates)
    finally:
        await crm.aclose()

    data = [c for c in transport.calls if not c.endswith("/oauth2/token")]
    assert data == [f"PATCH {COLLECTION}"] * 3
    assert len(outcomes) == 450 and outcomes[300] is not None
    assert outcomes[300].startswith("NOT_FOUND: ")
    assert outcomes[:300] + outcomes[301:] == [None] * 449
    listed = await api.get("/__admin/records/Opportunity", params={"limit": 5000})
    written = {r["Id"]: r for r in listed.json()["records"] if r["Id"] in set(deals)}
    assert len(written) == 449
    assert all(
        (r["Invoice_Status__c"], r["Last_Invoice_Amount__c"], r["Last_Invoiced_Period__c"])
        == ("Released", 1200.5, "2026-05")
        for r in written.values()
    )
    assert written[deals[448]]["Last_Invoice_Number__c"] == "INV-0448"


async def test_a_failed_collection_request_is_retryable_and_an_inexact_amount_is_not_sent(
    app: FastAPI, api: httpx.AsyncClient
) -> None:
    fault = {"path": "*/composite/sobjects", "method": "PATCH", "status": 503, "count": 1}
    assert (await api.post("/__admin/faults", json=fault)).status_code == 201
    crm = CrmConnector.build(BASE_URL, auth(KEYS, "crm"), transport=httpx.ASGITransport(app=app))
    inexact = update(DEALS[1], "INV-X").model_copy(
        update={"total": Decimal("0.1000000000000000001")}
    )
    try:
        with pytest.raises(SystemUnavailable) as failed:
            await crm.set_invoice_statuses([update(DEALS[0], "INV-1")])
        assert failed.value.retryable and failed.value.status == 503
        outcomes = await crm.set_invoice_statuses([update(DEALS[0], "INV-1"), inexact])
    finally:
        await crm.aclose()
    assert outcomes[0] is None
    assert outcomes[1] is not None and "cannot be sent exactly" in outcomes[1]
    assert await statuses(api, DEALS[:2]) == ["Released", None]


# ---- invoice statuses written at about the same time share a request ------------------


async def test_concurrent_status_writes_share_one_request_each_answering_for_itself(
    app: FastAPI, api: httpx.AsyncClient
) -> None:
    added = await api.post("/__admin/seed/deals", json={"count": 249})
    deals = added.json()["opportunities"]
    transport = Counting(app)
    crm = CrmConnector.build(BASE_URL, auth(KEYS, "crm"), transport=transport)
    batcher = InvoiceStatusBatcher(crm)
    writes = [update(d, f"INV-{i:04d}") for i, d in enumerate(deals)]
    writes.insert(10, update(MISSING, "INV-LOST"))
    try:
        answers = await asyncio.gather(*(batcher.write(w) for w in writes), return_exceptions=True)
    finally:
        await crm.aclose()

    data = [c for c in transport.calls if not c.endswith("/oauth2/token")]
    assert data == [f"PATCH {COLLECTION}"] * 2  # 250 writes: 200, then 50
    refused = answers.pop(10)
    assert isinstance(refused, RequestRejected) and not refused.retryable
    assert f"opportunity {MISSING}: NOT_FOUND" in refused.message
    assert answers == [None] * 249
    assert await statuses(api, deals[:1] + deals[-1:]) == ["Released", "Released"]


async def test_two_writes_for_one_deal_go_in_turn_and_a_failed_request_fails_each(
    app: FastAPI, api: httpx.AsyncClient
) -> None:
    transport = Counting(app)
    crm = CrmConnector.build(BASE_URL, auth(KEYS, "crm"), transport=transport)
    batcher = InvoiceStatusBatcher(crm)
    first = update(DEALS[0], "INV-1").model_copy(update={"status": InvoiceStatus.APPROVED})
    try:
        await asyncio.gather(batcher.write(first), batcher.write(update(DEALS[0], "INV-1")))
        assert [c for c in transport.calls if "composite" in c] == [f"PATCH {COLLECTION}"] * 2
        assert await statuses(api, DEALS[:1]) == ["Released"]  # the later write wins

        fault = {"path": "*/composite/sobjects", "method": "PATCH", "status": 503, "count": 1}
        assert (await api.post("/__admin/faults", json=fault)).status_code == 201
        failed = await asyncio.gather(
            batcher.write(update(DEALS[1], "INV-2")),
            batcher.write(update(DEALS[2], "INV-3")),
            return_exceptions=True,
        )
    finally:
        await crm.aclose()
    assert [type(f) for f in failed] == [SystemUnavailable, SystemUnavailable]
    assert all(isinstance(f, SystemUnavailable) and f.retryable for f in failed)
