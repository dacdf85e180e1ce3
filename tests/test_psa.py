"""The PSA sandbox API and the PSA connector that talks to it."""

from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from connectors.auth import ClientCredentials
from connectors.errors import (
    NotFound,
    RateLimited,
    RequestRejected,
    SystemUnavailable,
)
from connectors.psa import PsaConnector
from models.psa import (
    AssignmentInput,
    PsaMilestoneInput,
    PsaProject,
    PsaProjectInput,
    ResourceInput,
    StaffingRequest,
    StaffingRequestInput,
)
from sandbox.psa.app import create_app

URL = "http://psa.test"
CLIENT_ID = "psflow"
CLIENT_SECRET = "psa-test-secret"


def make_connector(transport: httpx.AsyncBaseTransport) -> PsaConnector:
    auth = ClientCredentials("psa", URL + PsaConnector.token_path, CLIENT_ID, CLIENT_SECRET)
    connector = PsaConnector.build(URL, auth, transport=transport)
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


def staffing_input(
    project_id: str, role: str = "Senior Consultant", **changes: Any
) -> StaffingRequestInput:
    data: dict[str, Any] = {
        "project_id": project_id,
        "role": role,
        "hours": Decimal("320"),
        "start_date": date(2026, 5, 4),
    }
    return StaffingRequestInput(**(data | changes))


def resource_input(**changes: Any) -> ResourceInput:
    data: dict[str, Any] = {
        "external_id": "hcm-30001",
        "name": "Nora Castellano",
        "email": "nora.castellano@northwind-consulting.example",
        "role": "Senior Consultant",
        "skills": ["Salesforce", "Project Management"],
        "location": "New York",
        "legal_entity": "US01",
        "cost_center": "CC-1100",
        "cost_rate": Decimal("98.00"),
        "currency": "USD",
        "available_from": date(2026, 4, 6),
    }
    return ResourceInput(**(data | changes))


def assignment_input(request: StaffingRequest, resource_id: str, **changes: Any) -> AssignmentInput:
    data: dict[str, Any] = {
        "resource_id": resource_id,
        "project_id": request.project_id,
        "staffing_request_id": request.id,
        "hours": request.hours,
        "start_date": date(2026, 5, 4),
    }
    return AssignmentInput(**(data | changes))


async def open_request(
    psa: PsaConnector, role: str = "Senior Consultant"
) -> tuple[PsaProject, StaffingRequest]:
    """A new project with one open staffing request for the role."""
    project = await psa.create_project(project_input(), "key-project")
    request = await psa.create_staffing_request(staffing_input(project.id, role), f"sr-{role}")
    return project, request


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
    auth = ClientCredentials("psa", URL + PsaConnector.token_path, CLIENT_ID, "wrong")
    connector = PsaConnector.build(URL, auth, transport=httpx.ASGITransport(app=app))
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


async def test_openapi_documents_the_staffing_routes_with_tags_and_descriptions(
    http: httpx.AsyncClient,
) -> None:
    spec = (await http.get("/openapi.json")).json()
    paths = spec["paths"]
    routes = {
        ("/api/v1/projects/{project_id}/flags", "post"): "projects",
        ("/api/v1/staffing-requests", "get"): "staffing requests",
        ("/api/v1/staffing-requests/{request_id}/reopen", "post"): "staffing requests",
        ("/api/v1/resources", "get"): "resources",
        ("/api/v1/resources", "post"): "resources",
        ("/api/v1/resources/{resource_id}", "get"): "resources",
        ("/api/v1/resources/{resource_id}", "patch"): "resources",
        ("/api/v1/resources/{resource_id}/deactivate", "post"): "resources",
        ("/api/v1/resources/{resource_id}/reactivate", "post"): "resources",
        ("/api/v1/assignments", "get"): "assignments",
        ("/api/v1/assignments", "post"): "assignments",
        ("/api/v1/assignments/{assignment_id}", "get"): "assignments",
        ("/api/v1/assignments/{assignment_id}/end", "post"): "assignments",
        ("/api/v1/assignments/{assignment_id}/cancel", "post"): "assignments",
    }

    for (path, method), tag in routes.items():
        operation = paths[path][method]
        assert operation["tags"] == [tag], path
        assert operation["description"], path
        assert "422" in operation["responses"] and "401" in operation["responses"], path
        if method == "post":
            assert "Idempotency-Key" in {p["name"] for p in operation["parameters"]}, path
    assert {t["name"] for t in spec["tags"]} >= {"resources", "assignments"}
    role = spec["components"]["schemas"]["ResourceInput"]["properties"]["role"]
    assert role["enum"][0] == "Partner"


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


# ---- resources


async def test_resource_is_created_active_found_by_external_id_and_updated(
    psa: PsaConnector,
) -> None:
    created = await psa.create_resource(resource_input(), "res-1")

    assert created.id.startswith("RES-") and created.active
    assert created.cost_rate == Decimal("98.00") and created.role == "Senior Consultant"
    assert await psa.find_resource("hcm-30001") == created
    assert await psa.find_resource("hcm-99999") is None

    changes: dict[str, object] = {
        "cost_center": "CC-1200",
        "cost_rate": Decimal("120.50"),
        "available_from": date(2026, 5, 1),
        "skills": ["Salesforce"],
    }
    updated = await psa.update_resource(created.id, changes)

    assert (updated.cost_center, updated.cost_rate) == ("CC-1200", Decimal("120.50"))
    assert updated.available_from == date(2026, 5, 1) and updated.skills == ["Salesforce"]
    assert (updated.legal_entity, updated.location) == ("US01", "New York")
    assert await psa.find_resource("hcm-30001") == updated


async def test_deactivate_twice_reports_true_then_false_and_reactivate_restores(
    psa: PsaConnector,
) -> None:
    resource = await psa.create_resource(resource_input(), "res-1")

    assert await psa.set_resource_active(resource.id, False) is True
    assert await psa.set_resource_active(resource.id, False) is False
    assert await psa.set_resource_active("RES-999999", False) is False
    inactive = await psa.find_resource(resource.external_id)
    assert inactive is not None and not inactive.active
    assert resource.id not in {r.id for r in await psa.list_resources(active=True)}

    assert await psa.set_resource_active(resource.id, True) is True
    assert await psa.set_resource_active(resource.id, True) is False
    with pytest.raises(NotFound):
        await psa.set_resource_active("RES-999999", True)


async def test_deactivate_answers_the_resource_unchanged_when_repeated(
    http: httpx.AsyncClient, psa: PsaConnector
) -> None:
    resource = await psa.create_resource(resource_input(), "res-1")
    path = f"/api/v1/resources/{resource.id}/deactivate"

    first = await http.post(path)
    again = await http.post(path)

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == again.json() and first.json()["active"] is False


async def test_existing_external_id_answers_409_and_the_connector_returns_the_existing(
    psa: PsaConnector, http: httpx.AsyncClient
) -> None:
    first = await psa.create_resource(resource_input(), "res-1")
    await psa.set_resource_active(first.id, False)

    response = await http.post(
        "/api/v1/resources", json=resource_input(name="Someone Else").model_dump(mode="json")
    )
    again = await psa.create_resource(resource_input(), "res-2")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert f"already exists as {first.id}" in response.json()["error"]["message"]
    assert again.id == first.id and not again.active
    assert [r.id for r in await psa.list_resources() if r.external_id == "hcm-30001"] == [first.id]


async def test_unknown_role_is_rejected_naming_role_on_create_and_update(
    psa: PsaConnector,
) -> None:
    with pytest.raises(RequestRejected) as on_create:
        await psa.create_resource(resource_input(role="Data Wizard"), "res-1")
    resource = await psa.create_resource(resource_input(), "res-1")
    with pytest.raises(RequestRejected) as on_update:
        await psa.update_resource(resource.id, {"role": "Data Wizard"})

    for caught in (on_create, on_update):
        assert caught.value.status == 422 and caught.value.fields == ["role"]
        assert caught.value.non_retryable
    assert "Senior Consultant" in on_create.value.message


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"cost_rate": "0.00"}, ["cost_rate"]),
        ({"cost_rate": "-5"}, ["cost_rate"]),
        ({"currency": "usd"}, ["currency"]),
        ({"currency": "US"}, ["currency"]),
        ({"legal_entity": "XX01"}, ["legal_entity"]),
        ({"cost_center": "CC-2100"}, ["cost_center"]),
    ],
    ids=["zero-cost", "negative-cost", "lowercase", "two-letters", "entity", "foreign-center"],
)
async def test_invalid_resource_is_rejected_naming_the_field(
    http: httpx.AsyncClient, changes: dict[str, Any], fields: list[str]
) -> None:
    body = resource_input().model_dump(mode="json") | changes

    response = await http.post("/api/v1/resources", json=body)

    assert response.status_code == 422
    assert response.json()["error"]["fields"] == fields


async def test_update_refuses_unknown_fields_nulls_and_a_foreign_cost_center(
    psa: PsaConnector,
) -> None:
    resource = await psa.create_resource(resource_input(), "res-1")

    refused: list[tuple[dict[str, object], str]] = [
        ({"department": "DEP-CONS"}, "department"),
        ({"cost_center": None}, "cost_center"),
        ({"cost_center": "CC-3100"}, "cost_center"),
    ]
    for changes, field in refused:
        with pytest.raises(RequestRejected) as caught:
            await psa.update_resource(resource.id, changes)
        assert caught.value.status == 422 and caught.value.fields == [field]

    moved = await psa.update_resource(
        resource.id, {"legal_entity": "DE01", "cost_center": "CC-3100", "location": None}
    )
    assert (moved.legal_entity, moved.cost_center, moved.location) == ("DE01", "CC-3100", None)
    with pytest.raises(NotFound):
        await psa.update_resource("RES-999999", {"cost_rate": "90"})


async def test_same_idempotency_key_replays_the_resource_and_refuses_another_body(
    http: httpx.AsyncClient,
) -> None:
    body = resource_input().model_dump(mode="json")
    headers = {"Idempotency-Key": "hire-to-staff/30001/resource"}

    first = await http.post("/api/v1/resources", json=body, headers=headers)
    again = await http.post("/api/v1/resources", json=body, headers=headers)
    other = await http.post("/api/v1/resources", json=body | {"name": "Nora C."}, headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    listed = await http.get("/api/v1/resources", params={"external_id": "hcm-30001"})
    assert [r["id"] for r in listed.json()["data"]] == [first.json()["id"]]


async def test_resources_filter_by_role_and_active(psa: PsaConnector) -> None:
    analysts = await psa.list_resources(role="Analyst")
    inactive = await psa.list_resources(active=False)
    active_analysts = await psa.list_resources(active=True, role="Analyst")

    assert analysts and {r.role for r in analysts} == {"Analyst"}
    assert inactive and not any(r.active for r in inactive)
    assert active_analysts == [r for r in analysts if r.active]


# ---- staffing requests across projects


async def test_open_requests_are_listed_across_projects_oldest_first(psa: PsaConnector) -> None:
    seeded = await psa.list_open_staffing_requests()
    _, request = await open_request(psa, "Consultant")

    every = await psa.list_open_staffing_requests()
    consultants = await psa.list_open_staffing_requests("Consultant")

    assert len({r.project_id for r in seeded}) >= 3
    assert {r.status for r in every} == {"open"}
    assert every == [*seeded, request]
    assert [r.role for r in consultants] == ["Consultant"] * len(consultants)
    assert consultants[-1] == request and len(consultants) >= 2
    assert request not in await psa.list_open_staffing_requests("Analyst")


async def test_staffing_request_keeps_its_skills_and_location(psa: PsaConnector) -> None:
    project = await psa.create_project(project_input(), "key-1")
    wanted = staffing_input(project.id, skills=["SAP", "Python"], location="Chicago")

    request = await psa.create_staffing_request(wanted, "sr-1")

    assert (request.skills, request.location, request.start_date) == (
        ["SAP", "Python"],
        "Chicago",
        date(2026, 5, 4),
    )
    assert await psa.list_staffing_requests(project.id) == [request]


async def test_reopen_opens_a_cancelled_request_once(psa: PsaConnector) -> None:
    _, request = await open_request(psa)
    await psa.cancel_staffing_request(request.id)

    assert await psa.reopen_staffing_request(request.id) is True
    assert await psa.reopen_staffing_request(request.id) is False
    assert request in await psa.list_open_staffing_requests(request.role)
    with pytest.raises(NotFound):
        await psa.reopen_staffing_request("SR-999999")


async def test_reopen_is_refused_while_an_active_assignment_fills_the_request(
    psa: PsaConnector,
) -> None:
    _, request = await open_request(psa)
    resource = await psa.create_resource(resource_input(), "res-1")
    assignment = await psa.create_assignment(assignment_input(request, resource.id), "asg-1")

    with pytest.raises(RequestRejected) as caught:
        await psa.reopen_staffing_request(request.id)
    assert caught.value.status == 409 and assignment.id in caught.value.message

    await psa.end_assignment(assignment.id, date(2026, 6, 30))
    assert await psa.reopen_staffing_request(request.id) is True


async def test_reopen_on_an_archived_project_is_a_conflict(psa: PsaConnector) -> None:
    project, request = await open_request(psa)
    await psa.archive_project(project.id)

    with pytest.raises(RequestRejected) as caught:
        await psa.reopen_staffing_request(request.id)

    assert caught.value.status == 409


# ---- assignments


async def test_assignment_fills_the_request_and_is_listed_by_resource_and_project(
    psa: PsaConnector,
) -> None:
    project, request = await open_request(psa)
    resource = await psa.create_resource(resource_input(), "res-1")

    assignment = await psa.create_assignment(
        assignment_input(request, resource.id, end_date=date(2026, 9, 30)), "asg-1"
    )

    assert assignment.id.startswith("ASG-") and assignment.status == "active"
    assert (assignment.hours, assignment.end_date) == (Decimal("320"), date(2026, 9, 30))
    [filled] = await psa.list_staffing_requests(project.id)
    assert filled.status == "filled"
    assert request not in await psa.list_open_staffing_requests()
    assert await psa.list_assignments(resource_id=resource.id) == [assignment]
    assert await psa.list_assignments(project_id=project.id, status="active") == [assignment]
    assert await psa.list_assignments(project_id=project.id, status="ended") == []
    assert await psa.get_assignment(assignment.id) == assignment


async def test_same_idempotency_key_replays_the_assignment(
    psa: PsaConnector, http: httpx.AsyncClient
) -> None:
    _, request = await open_request(psa)
    resource = await psa.create_resource(resource_input(), "res-1")
    body = assignment_input(request, resource.id).model_dump(mode="json")
    headers = {"Idempotency-Key": "hire-to-staff/30001/assignment"}

    first = await http.post("/api/v1/assignments", json=body, headers=headers)
    again = await http.post("/api/v1/assignments", json=body, headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(await psa.list_assignments(resource_id=resource.id)) == 1


async def test_connector_create_under_another_key_returns_the_active_assignment(
    psa: PsaConnector,
) -> None:
    _, request = await open_request(psa)
    resource = await psa.create_resource(resource_input(), "res-1")
    first = await psa.create_assignment(assignment_input(request, resource.id), "asg-1")

    assert await psa.create_assignment(assignment_input(request, resource.id), "asg-2") == first


async def test_assignment_to_a_request_that_is_not_open_is_a_conflict(
    psa: PsaConnector,
) -> None:
    _, request = await open_request(psa)
    first = await psa.create_resource(resource_input(), "res-1")
    second = await psa.create_resource(resource_input(external_id="hcm-30002"), "res-2")
    await psa.create_assignment(assignment_input(request, first.id), "asg-1")
    _, cancelled = await open_request(psa, "Analyst")
    analyst = await psa.create_resource(
        resource_input(external_id="hcm-30003", role="Analyst"), "res-3"
    )
    await psa.cancel_staffing_request(cancelled.id)

    for data in (
        assignment_input(request, second.id),
        assignment_input(cancelled, analyst.id),
    ):
        with pytest.raises(RequestRejected) as caught:
            await psa.create_assignment(data, f"asg-{data.resource_id}")
        assert caught.value.status == 409
        assert "not open" in caught.value.message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"role": "Analyst"}, "resource_id"),
        ({"available_from": date(2026, 6, 1)}, "start_date"),
    ],
    ids=["other-role", "not-yet-available"],
)
async def test_assignment_that_does_not_fit_the_resource_is_refused_naming_the_field(
    psa: PsaConnector, changes: dict[str, Any], field: str
) -> None:
    _, request = await open_request(psa)
    resource = await psa.create_resource(resource_input(**changes), "res-1")

    with pytest.raises(RequestRejected) as caught:
        await psa.create_assignment(assignment_input(request, resource.id), "asg-1")

    assert caught.value.status == 422 and caught.value.fields == [field]
    assert (await psa.list_open_staffing_requests(request.role))[-1] == request


async def test_assignment_with_bad_references_is_refused_naming_each_field(
    psa: PsaConnector,
) -> None:
    _, request = await open_request(psa)
    resource = await psa.create_resource(resource_input(), "res-1")
    leaver = await psa.create_resource(resource_input(external_id="hcm-30002"), "res-2")
    await psa.set_resource_active(leaver.id, False)

    cases = [
        (assignment_input(request, leaver.id), ["resource_id"]),
        (assignment_input(request, "RES-999999"), ["resource_id"]),
        (assignment_input(request, resource.id, project_id="PRJ-001001"), ["staffing_request_id"]),
        (
            assignment_input(request, resource.id, project_id="PRJ-999999"),
            ["project_id", "staffing_request_id"],
        ),
        (
            assignment_input(request, resource.id, staffing_request_id="SR-999999"),
            ["staffing_request_id"],
        ),
        (assignment_input(request, resource.id, end_date=date(2026, 5, 1)), ["end_date"]),
    ]
    for data, fields in cases:
        with pytest.raises(RequestRejected) as caught:
            await psa.create_assignment(data, "asg-1")
        assert (caught.value.status, caught.value.fields) == (422, fields)
    assert await psa.list_assignments(resource_id=resource.id) == []


async def test_end_twice_reports_true_then_false_and_keeps_the_request_filled(
    psa: PsaConnector,
) -> None:
    project, request = await open_request(psa)
    resource = await psa.create_resource(resource_input(), "res-1")
    assignment = await psa.create_assignment(assignment_input(request, resource.id), "asg-1")

    assert await psa.end_assignment(assignment.id, date(2026, 7, 31)) is True
    assert await psa.end_assignment(assignment.id, date(2026, 8, 31)) is False

    [ended] = await psa.list_assignments(resource_id=resource.id)
    assert (ended.status, ended.end_date) == ("ended", date(2026, 7, 31))
    assert [r.status for r in await psa.list_staffing_requests(project.id)] == ["filled"]
    with pytest.raises(NotFound):
        await psa.end_assignment("ASG-999999", date(2026, 7, 31))


async def test_end_before_the_start_ends_the_assignment_without_working_days(
    psa: PsaConnector,
) -> None:
    _, request = await open_request(psa)
    resource = await psa.create_resource(resource_input(), "res-1")
    assignment = await psa.create_assignment(assignment_input(request, resource.id), "asg-1")

    assert await psa.end_assignment(assignment.id, date(2026, 4, 30)) is True

    ended = await psa.get_assignment(assignment.id)
    assert ended is not None and (ended.status, ended.end_date) == ("ended", date(2026, 4, 30))


async def test_cancel_reopens_the_request_and_twice_reports_true_then_false(
    psa: PsaConnector,
) -> None:
    _, request = await open_request(psa)
    resource = await psa.create_resource(resource_input(), "res-1")
    assignment = await psa.create_assignment(assignment_input(request, resource.id), "asg-1")

    assert await psa.cancel_assignment(assignment.id) is True
    assert await psa.cancel_assignment(assignment.id) is False
    assert await psa.cancel_assignment("ASG-999999") is False

    assert [a.status for a in await psa.list_assignments(resource_id=resource.id)] == ["cancelled"]
    assert (await psa.list_open_staffing_requests(request.role))[-1] == request
    again = await psa.create_assignment(assignment_input(request, resource.id), "asg-2")
    assert again.id != assignment.id and again.status == "active"


async def test_ended_assignment_cannot_be_cancelled_nor_a_cancelled_one_ended(
    psa: PsaConnector,
) -> None:
    _, request = await open_request(psa)
    resource = await psa.create_resource(resource_input(), "res-1")
    ended = await psa.create_assignment(assignment_input(request, resource.id), "asg-1")
    await psa.end_assignment(ended.id, date(2026, 6, 30))
    await psa.reopen_staffing_request(request.id)
    cancelled = await psa.create_assignment(assignment_input(request, resource.id), "asg-2")
    await psa.cancel_assignment(cancelled.id)

    with pytest.raises(RequestRejected) as on_cancel:
        await psa.cancel_assignment(ended.id)
    with pytest.raises(RequestRejected) as on_end:
        await psa.end_assignment(cancelled.id, date(2026, 6, 30))

    assert on_cancel.value.status == 409 and on_end.value.status == 409


async def test_cancelling_on_an_archived_project_cancels_the_request_instead(
    psa: PsaConnector,
) -> None:
    project, request = await open_request(psa)
    resource = await psa.create_resource(resource_input(), "res-1")
    assignment = await psa.create_assignment(assignment_input(request, resource.id), "asg-1")
    await psa.archive_project(project.id)

    assert await psa.cancel_assignment(assignment.id) is True

    assert [r.status for r in await psa.list_staffing_requests(project.id)] == ["cancelled"]


# ---- project flags


async def test_flags_are_kept_once_per_reason_in_order(psa: PsaConnector) -> None:
    project = await psa.create_project(project_input(), "key-1")
    leaving = "Nora Castellano leaves on 2026-06-30: staffing request SR-1 is open again"

    await psa.flag_project(project.id, leaving)
    await psa.flag_project(project.id, leaving)
    await psa.flag_project(project.id, "Budget review due")

    flagged = await psa.get_project(project.id)
    assert flagged is not None and flagged.flags == [leaving, "Budget review due"]
    with pytest.raises(NotFound):
        await psa.flag_project("PRJ-999999", leaving)


async def test_empty_flag_reason_is_rejected(psa: PsaConnector) -> None:
    project = await psa.create_project(project_input(), "key-1")

    with pytest.raises(RequestRejected) as caught:
        await psa.flag_project(project.id, "")

    assert caught.value.status == 422 and caught.value.fields == ["reason"]


# ---- seed and wire format


async def test_seed_holds_a_bench_assignments_and_requests_to_match(psa: PsaConnector) -> None:
    resources = await psa.list_resources(active=True)
    assignments = await psa.list_assignments(status="active")
    open_requests = await psa.list_open_staffing_requests()

    assigned = {a.resource_id for a in assignments}
    bench = [r for r in resources if r.id not in assigned]
    assert len(bench) >= 10 and len(assignments) >= 3
    assert await psa.list_resources(active=False)
    for assignment in assignments:
        request = next(
            r
            for r in await psa.list_staffing_requests(assignment.project_id)
            if r.id == assignment.staffing_request_id
        )
        resource = next(r for r in resources if r.id == assignment.resource_id)
        assert request.status == "filled" and request.role == resource.role
    assert any(r.skills and r.location for r in open_requests)
    assert any(
        r.role == request.role
        and set(request.skills) <= set(r.skills)
        and r.location == request.location
        for request in open_requests
        if request.skills
        for r in bench
    )


async def test_connector_sends_patch_json_and_boolean_filters() -> None:
    seen: list[httpx.Request] = []
    resource = resource_input().model_dump(mode="json") | {"id": "RES-1", "active": False}

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "PATCH":
            return httpx.Response(200, json=resource)
        return httpx.Response(200, json={"data": [resource]})

    psa = mock_psa(answer)
    await psa.update_resource("RES-1", {"cost_rate": Decimal("120.50"), "location": None})
    [found] = await psa.list_resources(active=False, role="Senior Consultant")

    assert seen[0].method == "PATCH" and seen[0].url.path == "/api/v1/resources/RES-1"
    assert seen[0].content == b'{"cost_rate":"120.50","location":null}'
    assert dict(seen[1].url.params) == {"active": "false", "role": "Senior Consultant"}
    assert found.id == "RES-1" and not found.active
