"""The CRM sandbox (Salesforce REST shape) and the CRM connector, together and apart."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from connectors.crm import API_VERSION, OPPORTUNITY_FIELDS, CrmConnector
from connectors.errors import (
    AuthenticationFailed,
    NotFound,
    RateLimited,
    RequestRejected,
    SystemUnavailable,
)
from sandbox import catalog
from sandbox.crm.app import create_app
from sandbox.crm.seed import DEMO_OPPORTUNITIES, SPARE_CLOSED_WON
from tests.vendor_keys import auth, crm_app, settings_for

BASE_URL = "http://crm.test"
CLIENT_ID = "psflow"
CLIENT_SECRET = "test-secret"
DATA = f"/services/data/{API_VERSION}"
OPPORTUNITY_COUNT = 60

Handler = Callable[[httpx.Request], httpx.Response]


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes requests to the app and remembers each one's method and path."""

    def __init__(self, app: FastAPI) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self.calls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        return await self._inner.handle_async_request(request)


KEYS = settings_for(BASE_URL, CLIENT_ID, CLIENT_SECRET)


def connect(transport: httpx.AsyncBaseTransport, secret: str = CLIENT_SECRET) -> CrmConnector:
    """A connector by the JWT bearer flow, or (another `secret`) by client credentials."""
    settings = KEYS
    if secret != CLIENT_SECRET:
        crm = KEYS.crm.model_copy(
            update={"auth": "client-credentials", "client_secret": SecretStr(secret)}
        )
        settings = KEYS.model_copy(update={"crm": crm})
    connector = CrmConnector.build(BASE_URL, auth(settings, "crm"), transport=transport)
    assert isinstance(connector, CrmConnector)
    return connector


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(
        tmp_path / "crm.db", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **crm_app(KEYS)
    )


@pytest.fixture
def transport(app: FastAPI) -> RecordingTransport:
    return RecordingTransport(app)


@pytest.fixture
async def crm(transport: RecordingTransport) -> AsyncIterator[CrmConnector]:
    connector = connect(transport)
    yield connector
    await connector.aclose()


@asynccontextmanager
async def authorised(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A plain client on a sandbox app, holding a valid token, for the wire format itself."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL
    ) as client:
        token = await client.post(
            "/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
        )
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield client


@pytest.fixture
async def raw(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with authorised(app) as client:
        yield client


def mocked(handler: Handler) -> CrmConnector:
    """A connector on a mock Salesforce that issues tokens and lets `handler` answer the rest."""

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/services/oauth2/token":
            return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer"})
        return handler(request)

    return connect(httpx.MockTransport(route))


def salesforce_error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json=[{"message": message, "errorCode": code}])


# --- reading deals ---------------------------------------------------------------------------


async def test_get_opportunity_maps_deal_account_lines_and_milestones(crm: CrmConnector) -> None:
    deal = await crm.get_opportunity(DEMO_OPPORTUNITIES["small_usd"])

    assert deal.id == DEMO_OPPORTUNITIES["small_usd"]
    assert (deal.stage, deal.is_won, deal.currency) == ("Closed Won", True, "USD")
    assert deal.account.id == catalog.account_id(0)
    assert deal.account.name == catalog.ACCOUNTS[0][0]
    assert deal.account.billing_country == "US"
    assert deal.owner_id == catalog.USERS["sam"][0]
    assert (deal.rate_card, deal.legal_entity) == ("STD-USD-2026", "US01")
    assert deal.billing_type == "Time and Materials"
    assert deal.billing_terms == "Net 30"
    assert deal.start_date is not None and deal.start_date > deal.close_date
    assert 2 <= len(deal.lines) <= 5
    rates = catalog.RATE_CARDS["STD-USD-2026"][2]
    assert all(line.rate == rates[line.role] for line in deal.lines)
    assert deal.amount == sum(line.hours * line.rate for line in deal.lines)
    assert 2 <= len(deal.milestones) <= 3
    assert all(m.amount == 0 for m in deal.milestones)
    # Currency and quantity fields arrive as JSON numbers (121600.0), read at their scale of 2.
    numbers = [deal.amount, deal.lines[0].rate, deal.lines[0].hours]
    assert all(str(n).endswith(".00") for n in numbers), numbers


async def test_fixed_fee_milestones_add_up_to_the_deal_amount(crm: CrmConnector) -> None:
    deal = await crm.get_opportunity(DEMO_OPPORTUNITIES["fixed_fee_eur"])

    assert deal.billing_type == "Fixed Fee"
    assert 3 <= len(deal.milestones) <= 4
    assert sum(m.amount for m in deal.milestones) == deal.amount
    assert deal.amount < catalog.APPROVAL_THRESHOLDS["EUR"]


async def test_fifteen_character_id_reads_the_same_deal(crm: CrmConnector) -> None:
    full_id = DEMO_OPPORTUNITIES["small_gbp"]

    deal = await crm.get_opportunity(full_id[:15])

    assert deal.id == full_id


async def test_missing_opportunity_is_not_found_and_not_retried(crm: CrmConnector) -> None:
    missing = catalog.sf_id("006", 9999)

    with pytest.raises(NotFound) as caught:
        await crm.get_opportunity(missing)

    assert caught.value.non_retryable is True
    assert caught.value.status == 404
    assert "The requested resource does not exist" in caught.value.message


# --- writing deals ---------------------------------------------------------------------------


async def test_updated_values_are_read_back(crm: CrmConnector) -> None:
    deal_id = DEMO_OPPORTUNITIES["no_rate_card"]

    await crm.update_opportunity(
        deal_id, {"rate_card": "STD-USD-2026", "erp_project_id": "PRJ-1001"}
    )

    values = await crm.get_opportunity_values(deal_id, ["rate_card", "erp_project_id", "currency"])
    assert values == {"rate_card": "STD-USD-2026", "erp_project_id": "PRJ-1001", "currency": "USD"}
    assert (await crm.get_opportunity(deal_id)).rate_card == "STD-USD-2026"


async def test_none_clears_a_field(crm: CrmConnector) -> None:
    deal_id = DEMO_OPPORTUNITIES["small_usd"]

    await crm.update_opportunity(deal_id, {"psa_project_id": "P-1"})
    await crm.update_opportunity(deal_id, {"psa_project_id": None})

    assert await crm.get_opportunity_values(deal_id, ["psa_project_id"]) == {"psa_project_id": None}


async def test_unknown_canonical_field_names_the_allowed_ones(crm: CrmConnector) -> None:
    with pytest.raises(ValueError, match="use rate_card, legal_entity") as caught:
        await crm.update_opportunity(DEMO_OPPORTUNITIES["small_usd"], {"discount": "10"})

    assert "discount" in str(caught.value)
    assert set(OPPORTUNITY_FIELDS) <= set(str(caught.value).replace(",", " ").split())


async def test_unknown_salesforce_field_is_rejected_with_its_message_and_field(
    crm: CrmConnector,
) -> None:
    with pytest.raises(RequestRejected) as caught:
        await crm.upsert_by_external_id(
            "Account", "Psflow_External_Id__c", "ext-1", {"Name": "N", "Discount__c": 10}
        )

    error = caught.value
    assert error.non_retryable is True
    assert error.status == 400
    assert error.fields == ["Discount__c"]
    assert "INVALID_FIELD: No such column 'Discount__c' on sobject of type Account" in error.message


async def test_upsert_creates_once_then_updates_the_same_account(crm: CrmConnector) -> None:
    key = "sfdc-customer/42"

    created = await crm.upsert_by_external_id(
        "Account", "Psflow_External_Id__c", key, {"Name": "Tyrell East", "BillingCountry": "US"}
    )
    updated = await crm.upsert_by_external_id(
        "Account", "Psflow_External_Id__c", key, {"Invoice_Status__c": "Sent"}
    )

    assert created[1] is True
    assert updated == (created[0], False)


# --- the wire format -------------------------------------------------------------------------


async def test_data_routes_refuse_a_missing_token_as_salesforce_does(app: FastAPI) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL
    ) as client:
        response = await client.get(f"{DATA}/sobjects/Opportunity/{DEMO_OPPORTUNITIES['open']}")

    assert response.status_code == 401
    assert response.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


async def test_read_only_field_is_refused(raw: httpx.AsyncClient) -> None:
    url = f"{DATA}/sobjects/Opportunity/{DEMO_OPPORTUNITIES['open']}"

    response = await raw.patch(url, json={"IsWon": True})

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert response.json()[0]["fields"] == ["IsWon"]


async def test_closing_a_deal_as_won_sets_is_won_and_is_closed(raw: httpx.AsyncClient) -> None:
    url = f"{DATA}/sobjects/Opportunity/{DEMO_OPPORTUNITIES['open']}"

    response = await raw.patch(url, json={"StageName": "Closed Won"})
    record = (await raw.get(url, params={"fields": "StageName,IsWon,IsClosed"})).json()

    assert response.status_code == 204
    assert (record["StageName"], record["IsWon"], record["IsClosed"]) == ("Closed Won", True, True)


async def test_related_lists_use_the_query_result_shape(raw: httpx.AsyncClient) -> None:
    url = f"{DATA}/sobjects/Opportunity/{DEMO_OPPORTUNITIES['small_usd']}/OpportunityLineItems"

    body = (await raw.get(url)).json()

    assert body["done"] is True
    assert body["totalSize"] == len(body["records"])
    line = body["records"][0]
    assert line["attributes"]["type"] == "OpportunityLineItem"
    assert line["TotalPrice"] == line["Quantity"] * line["UnitPrice"]


async def test_soql_subset_filters_by_stage(raw: httpx.AsyncClient) -> None:
    q = "SELECT Id, StageName FROM Opportunity WHERE StageName = 'Closed Lost'"

    body = (await raw.get(f"{DATA}/query", params={"q": q})).json()

    assert DEMO_OPPORTUNITIES["closed_lost"] in [r["Id"] for r in body["records"]]
    assert {r["StageName"] for r in body["records"]} == {"Closed Lost"}


async def test_reset_restores_the_seed_and_keeps_tokens(
    raw: httpx.AsyncClient, crm: CrmConnector
) -> None:
    deal_id = DEMO_OPPORTUNITIES["small_usd"]
    await crm.update_opportunity(deal_id, {"erp_project_id": "PRJ-9"})

    assert (await raw.post("/__admin/reset")).status_code == 204

    assert await crm.get_opportunity_values(deal_id, ["erp_project_id"]) == {"erp_project_id": None}
    assert (await raw.get(f"{DATA}/sobjects/Opportunity")).status_code == 200


# --- failures the connector classifies ---------------------------------------------------------


async def test_rate_limit_is_retryable_after_the_delay_salesforce_asks() -> None:
    crm = mocked(
        lambda _: httpx.Response(
            429,
            headers={"Retry-After": "7"},
            json=[{"message": "Too many requests", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
        )
    )

    with pytest.raises(RateLimited) as caught:
        await crm.get_opportunity(DEMO_OPPORTUNITIES["small_usd"])

    assert caught.value.non_retryable is False
    assert caught.value.next_retry_delay == timedelta(seconds=7)
    assert "REQUEST_LIMIT_EXCEEDED: Too many requests" in caught.value.message


async def test_unavailable_salesforce_is_retryable() -> None:
    crm = mocked(lambda _: salesforce_error(503, "SERVER_UNAVAILABLE", "down for maintenance"))

    with pytest.raises(SystemUnavailable) as caught:
        await crm.get_opportunity_values(DEMO_OPPORTUNITIES["small_usd"], ["rate_card"])

    assert caught.value.non_retryable is False
    assert caught.value.status == 503


async def test_unreachable_salesforce_is_retryable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(SystemUnavailable) as caught:
        await mocked(refuse).get_opportunity(DEMO_OPPORTUNITIES["small_usd"])

    assert caught.value.non_retryable is False


async def test_wrong_client_secret_fails_authentication(transport: RecordingTransport) -> None:
    crm = connect(transport, secret="wrong")

    with pytest.raises(AuthenticationFailed) as caught:
        await crm.get_opportunity(DEMO_OPPORTUNITIES["small_usd"])

    assert caught.value.non_retryable is True
    assert "check the client id and secret" in caught.value.message


async def test_opportunity_without_amount_is_rejected_by_name() -> None:
    record = {
        "Id": DEMO_OPPORTUNITIES["open"],
        "AccountId": catalog.account_id(0),
        "Amount": None,
    }
    crm = mocked(lambda _: httpx.Response(200, json=record))

    with pytest.raises(RequestRejected) as caught:
        await crm.get_opportunity(DEMO_OPPORTUNITIES["open"])

    assert caught.value.fields == ["Amount"]


async def test_expired_session_gets_one_new_token_and_succeeds(
    raw: httpx.AsyncClient, crm: CrmConnector, transport: RecordingTransport
) -> None:
    deal_id = DEMO_OPPORTUNITIES["small_usd"]
    await crm.get_opportunity_values(deal_id, ["rate_card"])
    fault = {"path": f"*/sobjects/Opportunity/{deal_id}", "status": 401, "count": 1}
    assert (await raw.post("/__admin/faults", json=fault)).status_code == 201
    transport.calls.clear()

    values = await crm.get_opportunity_values(deal_id, ["rate_card"])

    assert values == {"rate_card": "STD-USD-2026"}
    opportunity = f"GET {DATA}/sobjects/Opportunity/{deal_id}"
    assert transport.calls == [opportunity, "POST /services/oauth2/token", opportunity]


async def test_injected_faults_fail_exactly_that_many_calls(
    raw: httpx.AsyncClient, crm: CrmConnector
) -> None:
    fault = {"path": "*/sobjects/Opportunity/*", "status": 503, "count": 2}
    assert (await raw.post("/__admin/faults", json=fault)).status_code == 201
    deal_id = DEMO_OPPORTUNITIES["small_gbp"]

    for _ in range(2):
        with pytest.raises(SystemUnavailable) as caught:
            await crm.get_opportunity_values(deal_id, ["currency"])
        assert "SERVER_UNAVAILABLE" in caught.value.message

    assert await crm.get_opportunity_values(deal_id, ["currency"]) == {"currency": "GBP"}


# --- the seed ------------------------------------------------------------------------------------


async def test_seed_holds_accounts_users_and_deals(raw: httpx.AsyncClient) -> None:
    accounts = (await raw.get("/__admin/records/Account", params={"limit": 2000})).json()
    deals = (await raw.get("/__admin/records/Opportunity", params={"limit": 2000})).json()
    user = (await raw.get(f"{DATA}/sobjects/User/{catalog.USERS['dana'][0]}")).json()

    assert accounts["totalSize"] == len(catalog.ACCOUNTS)
    assert deals["totalSize"] == OPPORTUNITY_COUNT
    assert user["Name"] == "Dana Whitfield"
    records = deals["records"]
    assert {r["StageName"] for r in records} >= {
        "Closed Won",
        "Closed Lost",
        "Prospecting",
        "Proposal/Price Quote",
        "Negotiation/Review",
    }
    assert {r["CurrencyIsoCode"] for r in records} >= {"USD", "GBP", "EUR", "CAD", "JPY"}


async def test_seed_is_the_same_every_time(tmp_path: Path, raw: httpx.AsyncClient) -> None:
    url = "/__admin/records/Opportunity"
    other = create_app(
        tmp_path / "again.db", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **crm_app(KEYS)
    )
    async with authorised(other) as other_client:
        fresh = await other_client.get(url, params={"limit": 2000})
    first = await raw.get(url, params={"limit": 2000})
    await raw.post("/__admin/reset")
    after_reset = await raw.get(url, params={"limit": 2000})

    assert first.json() == fresh.json() == after_reset.json()


def _over_threshold(deal_amount: Decimal, currency: str) -> bool:
    return deal_amount > catalog.APPROVAL_THRESHOLDS[currency]


async def test_demo_deals_have_the_properties_their_names_promise(crm: CrmConnector) -> None:
    deals = {name: await crm.get_opportunity(i) for name, i in DEMO_OPPORTUNITIES.items()}

    small_usd = deals["small_usd"]
    assert small_usd.currency == "USD" and small_usd.billing_type == "Time and Materials"
    assert not _over_threshold(small_usd.amount, "USD")
    assert deals["small_gbp"].currency == "GBP"
    assert not _over_threshold(deals["small_gbp"].amount, "GBP")
    assert _over_threshold(deals["large_usd"].amount, "USD")
    assert deals["large_usd"].owner_id == catalog.USERS["sam"][0]
    dana = deals["large_owned_by_dana"]
    assert _over_threshold(dana.amount, dana.currency)
    assert dana.owner_id == catalog.USERS["dana"][0]
    assert deals["no_rate_card"].rate_card is None
    assert deals["unknown_legal_entity"].legal_entity == "XX99"
    assert deals["unsupported_currency"].currency == "JPY"
    assert deals["inactive_rate_card"].rate_card == "LEGACY-USD-2019"
    assert deals["unknown_billing_terms"].billing_terms == "Net 90"
    assert not deals["open"].is_won and deals["open"].stage == "Negotiation/Review"
    assert deals["closed_lost"].stage == "Closed Lost" and not deals["closed_lost"].is_won
    closed_won = [d for n, d in deals.items() if n not in ("open", "closed_lost")]
    assert all(d.is_won for d in closed_won)


async def test_spare_deals_are_fresh_valid_small_closed_won(crm: CrmConnector) -> None:
    assert len(SPARE_CLOSED_WON) >= 6
    assert not set(SPARE_CLOSED_WON) & set(DEMO_OPPORTUNITIES.values())

    for deal_id in SPARE_CLOSED_WON:
        deal = await crm.get_opportunity(deal_id)
        entity = catalog.LEGAL_ENTITIES[deal.legal_entity or ""]
        assert deal.is_won
        assert deal.currency == entity[2]
        assert deal.rate_card == f"STD-{deal.currency}-2026"
        assert deal.billing_terms in catalog.BILLING_TERMS
        assert not _over_threshold(deal.amount, deal.currency)
        assert deal.erp_project_id is None and deal.psa_project_id is None
