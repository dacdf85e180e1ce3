"""The PSA sandbox API and the PSA connector that talks to it."""

from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from connectors.errors import (
    NotFound,
    RateLimited,
    RequestRejected,
    SystemUnavailable,
)
from connectors.psa import PsaConnector
from models.psa import PsaMilestoneInput, PsaProjectInput, StaffingRequestInput
from sandbox.psa.app import create_app

URL = "http://psa.test"
CLIENT_ID = "psflow"
CLIENT_SECRET = "psa-test-secret"


def make_connector(transport: httpx.AsyncBaseTransport) -> PsaConnector:
    connector = PsaConnector.build(URL, CLIENT_ID, CLIENT_SECRET, transport=transport)
    assert isinstance(connector, PsaConnector)
    return connector


def project_input(**changes: Any) -> PsaProjectInput:
    data: dict[str, Any] = {
        "external_id": "opp-006Hs0000001",
        "name": "Initech Software - CRM Modernisation",
        "customer_name": "Initech Software",
        "erp_project_id": "5120",
        "currency": "USD",
        "budget": Decimal("150000.00"),
        "billing_type": "Fixed Fee",
        "rate_card": "STD-USD-2026",
        "start_date": date(2026, 5, 4),
        "milestones": [
            PsaMilestoneInput(name="Design", due_date=date(2026, 6, 5), amount=Decimal("50000")),
            PsaMilestoneInput(name="Go-live", due_date=date(2026, 8, 7), amount=Decimal("100000")),
        ],
    }
    return PsaProjectInput(**(data | changes))


def staffing_input(project_id: str, role: str = "Senior Consultant") -> StaffingRequestInput:
    return StaffingRequestInput(
        project_id=project_id, role=role, hours=Decimal("320"), start_date=date(2026, 5, 4)
    )


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(tmp_path / "psa.db", client_id=CLIENT_ID, client_secret=CLIENT_SECRET)


@pytest.fixture
async def psa(app: FastAPI) -> AsyncIterator[PsaConnector]:
    connector = make_connector(httpx.ASGITransport(app=app))
    yield connector
    await connector.aclose()


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A plain client holding a token, for what the connector does not expose."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=URL) as client:
        form = {
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }
        token = (await client.post("/oauth/token", data=form)).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def mock_psa(answer: Callable[[httpx.Request], httpx.Response]) -> PsaConnector:
    """A connector whose token call succeeds and whose API calls get `answer`."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer"})
        return answer(request)

    return make_connector(httpx.MockTransport(handler))


async def test_create_project_returns_active_project_with_milestones(
    psa: PsaConnector, http: httpx.AsyncClient
) -> None:
    project = await psa.create_project(project_input(), "key-1")

    assert project.id.startswith("PRJ-")
    assert project.status == "active"
    assert await psa.get_project(project.id) == project
    milestones = (await http.get(f"/api/v1/projects/{project.id}/milestones")).json()["data"]
    assert [(m["name"], m["amount"]) for m in milestones] == [
        ("Design", "50000"),
        ("Go-live", "100000"),
    ]
    assert all(m["id"].startswith("MS-") for m in milestones)


async def test_same_idempotency_key_replays_the_first_project_and_keeps_one_record(
    psa: PsaConnector, http: httpx.AsyncClient
) -> None:
    first = await psa.create_project(project_input(), "key-1")
    again = await psa.create_project(project_input(), "key-1")

    assert again == first
    listed = await http.get("/api/v1/projects", params={"external_id": first.external_id})
    assert [p["id"] for p in listed.json()["data"]] == [first.id]


async def test_replayed_post_answers_the_first_status_and_says_it_was_replayed(
    http: httpx.AsyncClient,
) -> None:
    body = project_input().model_dump(mode="json")
    headers = {"Idempotency-Key": "key-1"}
    first = await http.post("/api/v1/projects", json=body, headers=headers)
    again = await http.post("/api/v1/projects", json=body, headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"


async def test_same_idempotency_key_with_a_different_body_is_rejected(
    psa: PsaConnector,
) -> None:
    await psa.create_project(project_input(), "key-1")

    with pytest.raises(RequestRejected) as caught:
        await psa.create_project(project_input(name="Another name"), "key-1")

    assert caught.value.status == 422
    assert "idempotency_key_reused" in caught.value.message
    assert caught.value.non_retryable


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rate_card": "STD-XYZ-2026"}, "rate_card"),
        ({"rate_card": "LEGACY-USD-2019"}, "rate_card"),
        ({"currency": "EUR"}, "currency"),
        ({"budget": Decimal("160000.00")}, "milestones"),
    ],
    ids=["unknown-rate-card", "inactive-rate-card", "currency-mismatch", "milestones-off-budget"],
)
async def test_invalid_project_is_rejected_naming_the_field(
    psa: PsaConnector, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(RequestRejected) as caught:
        await psa.create_project(project_input(**changes), "key-1")

    assert caught.value.status == 422
    assert caught.value.fields == [field]
    assert caught.value.non_retryable


async def test_negative_amounts_are_rejected_naming_each_field(http: httpx.AsyncClient) -> None:
    body = project_input().model_dump(mode="json")
    body["budget"] = "-1.00"
    body["milestones"][1]["amount"] = "-5.00"

    response = await http.post("/api/v1/projects", json=body)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["fields"] == ["budget", "milestones.1.amount"]


async def test_rejected_create_is_not_remembered_so_the_key_works_after_correction(
    psa: PsaConnector,
) -> None:
    with pytest.raises(RequestRejected):
        await psa.create_project(project_input(rate_card="LEGACY-USD-2019"), "key-1")

    project = await psa.create_project(project_input(), "key-1")

    assert project.status == "active"


async def test_duplicate_external_id_under_another_key_answers_conflict_naming_the_project(
    psa: PsaConnector, http: httpx.AsyncClient
) -> None:
    first = await psa.create_project(project_input(), "key-1")

    response = await http.post(
        "/api/v1/projects",
        json=project_input().model_dump(mode="json"),
        headers={"Idempotency-Key": "key-2"},
    )

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert f"already exists as {first.id}" in error["message"]


async def test_connector_create_upserts_onto_an_active_project_with_the_same_external_id(
    psa: PsaConnector,
) -> None:
    first = await psa.create_project(project_input(), "key-1")

    assert await psa.create_project(project_input(), "key-2") == first


async def test_archiving_a_project_frees_its_external_id_for_a_new_one(
    psa: PsaConnector,
) -> None:
    first = await psa.create_project(project_input(), "key-1")
    await psa.archive_project(first.id)

    second = await psa.create_project(project_input(), "key-2")

    assert second.id != first.id and second.status == "active"
    assert await psa.find_project(second.external_id) == second
    every = await psa.list_projects(external_id=second.external_id)
    assert {p.id: p.status for p in every} == {first.id: "archived", second.id: "active"}


async def test_rate_card_lookup_returns_rates_and_none_when_unknown(psa: PsaConnector) -> None:
    card = await psa.get_rate_card("STD-GBP-2026")
    legacy = await psa.get_rate_card("LEGACY-USD-2019")

    assert card is not None and card.currency == "GBP" and card.active
    assert {r.role for r in card.rates} >= {"Partner", "Analyst"}
    assert legacy is not None and not legacy.active
    assert await psa.get_rate_card("NOPE") is None


async def test_missing_project_reads_as_none(psa: PsaConnector) -> None:
    assert await psa.get_project("PRJ-999999") is None
    assert await psa.find_project("no-such-external-id") is None


async def test_staffing_request_opens_for_a_role_on_the_rate_card(psa: PsaConnector) -> None:
    project = await psa.create_project(project_input(), "key-1")

    request = await psa.create_staffing_request(staffing_input(project.id), "sr-1")
    again = await psa.create_staffing_request(staffing_input(project.id), "sr-1")

    assert request.id.startswith("SR-") and request.status == "open"
    assert again == request
    assert await psa.list_staffing_requests(project.id) == [request]


async def test_staffing_request_for_a_role_not_on_the_rate_card_is_refused(
    psa: PsaConnector,
) -> None:
    project = await psa.create_project(project_input(), "key-1")

    with pytest.raises(RequestRejected) as caught:
        await psa.create_staffing_request(staffing_input(project.id, "Data Scientist"), "sr-1")

    assert caught.value.status == 422
    assert caught.value.fields == ["role"]
    assert await psa.list_staffing_requests(project.id) == []


async def test_staffing_request_on_an_archived_project_is_a_conflict(psa: PsaConnector) -> None:
    project = await psa.create_project(project_input(), "key-1")
    await psa.archive_project(project.id)

    with pytest.raises(RequestRejected) as caught:
        await psa.create_staffing_request(staffing_input(project.id), "sr-1")

    assert caught.value.status == 409


async def test_staffing_request_on_a_missing_project_is_not_found(psa: PsaConnector) -> None:
    with pytest.raises(NotFound):
        await psa.create_staffing_request(staffing_input("PRJ-999999"), "sr-1")


async def test_archive_twice_reports_true_then_false_and_cancels_open_requests(
    psa: PsaConnector,
) -> None:
    project = await psa.create_project(project_input(), "key-1")
    await psa.create_staffing_request(staffing_input(project.id), "sr-1")
    await psa.create_staffing_request(staffing_input(project.id, "Analyst"), "sr-2")

    assert await psa.archive_project(project.id) is True
    assert await psa.archive_project(project.id) is False
    assert await psa.archive_project("PRJ-999999") is False

    archived = await psa.get_project(project.id)
    assert archived is not None and archived.status == "archived"
    requests = await psa.list_staffing_requests(project.id)
    assert [r.status for r in requests] == ["cancelled", "cancelled"]


async def test_cancel_staffing_request_twice_reports_true_then_false(psa: PsaConnector) -> None:
    project = await psa.create_project(project_input(), "key-1")
    request = await psa.create_staffing_request(staffing_input(project.id), "sr-1")

    assert await psa.cancel_staffing_request(request.id) is True
    assert await psa.cancel_staffing_request(request.id) is False
    assert await psa.cancel_staffing_request("SR-999999") is False
    [cancelled] = await psa.list_staffing_requests(project.id)
    assert cancelled.status == "cancelled"


async def test_filled_staffing_request_cannot_be_cancelled(
    psa: PsaConnector, http: httpx.AsyncClient
) -> None:
    filled = (await http.get("/api/v1/projects")).json()["data"][0]
    requests = await psa.list_staffing_requests(filled["id"])
    target = next(r for r in requests if r.status == "filled")

    with pytest.raises(RequestRejected) as caught:
        await psa.cancel_staffing_request(target.id)

    assert caught.value.status == 409


async def test_seed_holds_rate_cards_projects_and_staffing(http: httpx.AsyncClient) -> None:
    cards = (await http.get("/api/v1/rate-cards")).json()["data"]
    active = (await http.get("/api/v1/projects", params={"status": "active"})).json()["data"]
    archived = (await http.get("/api/v1/projects", params={"status": "archived"})).json()["data"]
    staffing = await http.get(f"/api/v1/projects/{active[0]['id']}/staffing-requests")

    assert {c["code"]: c["active"] for c in cards}["LEGACY-USD-2019"] is False
    assert len(cards) == 5
    assert len(active) >= 3 and len(archived) >= 1
    assert staffing.json()["data"]


async def test_api_without_a_bearer_token_answers_401_in_the_error_shape(app: FastAPI) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=URL) as client:
        response = await client.get("/api/v1/projects")

    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "unauthorized",
            "message": "a valid bearer token is required",
            "fields": [],
        }
    }


async def test_wrong_client_secret_fails_authentication(app: FastAPI) -> None:
    connector = PsaConnector.build(URL, CLIENT_ID, "wrong", transport=httpx.ASGITransport(app=app))
    assert isinstance(connector, PsaConnector)

    with pytest.raises(RequestRejected) as caught:
        await connector.get_rate_card("STD-USD-2026")

    assert caught.value.status == 401


async def test_unavailable_psa_is_a_retryable_system_unavailable() -> None:
    psa = mock_psa(lambda _: httpx.Response(503, json={"error": {"code": "unavailable"}}))

    with pytest.raises(SystemUnavailable) as caught:
        await psa.get_project("PRJ-001001")

    assert caught.value.status == 503
    assert not caught.value.non_retryable


async def test_rate_limit_carries_retry_after_as_next_retry_delay() -> None:
    body = {"error": {"code": "rate_limited", "message": "slow down", "fields": []}}
    psa = mock_psa(lambda _: httpx.Response(429, json=body, headers={"Retry-After": "7"}))

    with pytest.raises(RateLimited) as caught:
        await psa.find_project("opp-006Hs0000001")

    assert caught.value.next_retry_delay == timedelta(seconds=7)
    assert not caught.value.non_retryable
    assert "rate_limited: slow down" in caught.value.message


async def test_connector_sends_the_idempotency_key_and_the_body_as_json() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            201, json={"id": "PRJ-1", "external_id": "x", "name": "n", "status": "active"}
        )

    await mock_psa(answer).create_project(project_input(), "opp-006/create-project")

    assert seen[0].headers["Idempotency-Key"] == "opp-006/create-project"
    assert b'"budget":"150000.00"' in seen[0].content


async def test_openapi_documents_every_route_and_idempotency(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()

    assert {
        "/api/v1/rate-cards",
        "/api/v1/rate-cards/{code}",
        "/api/v1/projects",
        "/api/v1/projects/{project_id}",
        "/api/v1/projects/{project_id}/archive",
        "/api/v1/projects/{project_id}/milestones",
        "/api/v1/projects/{project_id}/staffing-requests",
        "/api/v1/staffing-requests/{request_id}",
        "/api/v1/staffing-requests/{request_id}/cancel",
        "/oauth/token",
    } <= set(spec["paths"])
    assert "Idempotency-Key" in spec["info"]["description"]
    create = spec["paths"]["/api/v1/projects"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in create["parameters"]}


async def test_fault_admin_route_fails_the_next_n_calls(
    psa: PsaConnector, http: httpx.AsyncClient
) -> None:
    fault = {"path": "/api/v1/projects/*", "method": "GET", "status": 503, "count": 2}
    assert (await http.post("/__admin/faults", json=fault)).status_code == 201

    for _ in range(2):
        with pytest.raises(SystemUnavailable) as caught:
            await psa.get_project("PRJ-001001")
        assert "unavailable: injected fault" in caught.value.message

    assert await psa.get_project("PRJ-001001") is not None


async def test_reset_restores_the_seed(psa: PsaConnector, http: httpx.AsyncClient) -> None:
    project = await psa.create_project(project_input(), "key-1")

    assert (await http.post("/__admin/reset")).status_code == 204

    assert await psa.get_project(project.id) is None
    assert await psa.get_project("PRJ-001001") is not None
    assert (await psa.create_project(project_input(), "key-1")).id == project.id
