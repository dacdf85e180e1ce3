"""NetSuite REST as its clients use it, against the ERP sandbox: field names as NetSuite's
documentation spells them, X-NetSuite-PropertyNameValidation, `fields=`, expandSubResources,
sub-resource reads, SuiteQL over customer, job and transaction, and the metadata catalog."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from connectors.erp import ErpConnector
from models.billing import InvoiceStatus
from sandbox.erp.protocol import QUERY_PATH
from tests.test_erp import BASE_URL, KEYS, build_connector, make_app
from tests.test_erp_billing import Job, draft, new_job, posting
from tests.vendor_keys import auth

RECORD = "/services/rest/record/v1"
SUITEQL = f"{QUERY_PATH}/suiteql"
TRANSIENT = {"Prefer": "transient"}
VALIDATION = "X-NetSuite-PropertyNameValidation"


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return make_app(tmp_path)


@pytest.fixture
async def erp(app: FastAPI) -> AsyncIterator[ErpConnector]:
    connector = build_connector(httpx.ASGITransport(app=app))
    yield connector
    await connector.aclose()


@pytest.fixture
async def raw(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL, auth=auth(KEYS, "erp")
    ) as client:
        yield client


@pytest.fixture
async def invoiced(erp: ErpConnector) -> tuple[Job, str]:
    """A project with an approved draft invoice of three time lines; (job, invoice id)."""
    job = await new_job(erp)
    await erp.upsert_time_bills([posting(job, n) for n in range(3)])
    invoice = await erp.draft_invoice(draft(job))
    await erp.set_invoice_status(invoice.external_id, InvoiceStatus.APPROVED)
    return job, invoice.id


async def created(raw: httpx.AsyncClient, path: str, body: dict[str, Any], **headers: str) -> Any:
    response = await raw.post(f"{RECORD}/{path}", json=body, headers=headers)
    assert response.status_code == 204, response.text
    return response


def error(response: httpx.Response) -> dict[str, Any]:
    detail: dict[str, Any] = response.json()["o:errorDetails"][0]
    return detail


# ---------------------------------------------------------------- property names


async def test_netsuites_documented_create_example_with_lower_case_names(
    raw: httpx.AsyncClient,
) -> None:
    body = {"entityid": "New Customer", "companyname": "My Company", "subsidiary": {"id": "1"}}
    response = await created(raw, "customer", body)
    record = (await raw.get(response.headers["Location"])).json()
    assert (record["entityId"], record["companyName"]) == ("New Customer", "My Company")
    assert "Warning" not in response.headers


async def test_an_unknown_property_is_ignored_with_a_warning_by_default(
    raw: httpx.AsyncClient,
) -> None:
    body = {"companyName": "Warned Ltd", "subsidiary": {"id": "1"}, "shoeSize": 44}
    response = await created(raw, "customer", body)
    assert "shoeSize" in response.headers["Warning"]
    record = (await raw.get(response.headers["Location"])).json()
    assert record["companyName"] == "Warned Ltd" and "shoeSize" not in record

    odd = await created(raw, "customer", body | {"companyName": "Odd", 'Ā"': 1})
    assert r"\u0100\"" in odd.headers["Warning"]  # header values are ASCII

    quiet = await created(
        raw, "customer", body | {"companyName": "Quiet"}, **{VALIDATION: "Ignore"}
    )
    assert "Warning" not in quiet.headers


async def test_an_unknown_property_is_refused_naming_it_when_validation_is_error(
    raw: httpx.AsyncClient,
) -> None:
    body = {"companyName": "Strict Ltd", "subsidiary": {"id": "1"}, "shoeSize": 44}
    response = await raw.post(f"{RECORD}/customer", json=body, headers={VALIDATION: "Error"})
    assert response.status_code == 400
    assert (error(response)["o:errorCode"], error(response)["o:errorPath"]) == (
        "INVALID_FLD",
        "shoeSize",
    )
    listed = await raw.get(f"{RECORD}/customer", params={"q": 'companyName IS "Strict Ltd"'})
    assert listed.json()["totalResults"] == 0

    bad = await raw.post(f"{RECORD}/customer", json=body, headers={VALIDATION: "Loud"})
    assert bad.status_code == 400 and error(bad)["o:errorHeader"] == VALIDATION


async def test_upsert_list_refuses_only_the_record_with_an_unknown_property(
    erp: ErpConnector, raw: httpx.AsyncClient
) -> None:
    job = await new_job(erp)
    good = {"externalId": "tb-good", "Employee": {"id": job.employee_id},
            "customer": {"id": job.id}, "HOURS": "1:00", "trandate": "2026-09-02"}  # fmt: skip
    bad = good | {"externalId": "tb-bad", "colour": "red"}
    response = await raw.post(
        f"{RECORD}/timeBill/upsertList",
        json={"records": [good, bad]},
        headers={VALIDATION: "Error"},
    )
    answers = response.json()["writeResponseList"]
    assert [a["status"]["isSuccess"] for a in answers] == [True, False]
    assert "colour" in answers[1]["status"]["statusDetail"][0]["message"]
    assert (await raw.get(f"{RECORD}/timeBill/eid:tb-good")).json()["hours"] == "1:00"
    assert (await raw.get(f"{RECORD}/timeBill/eid:tb-bad")).status_code == 404


# ---------------------------------------------------------------- reading


async def test_fields_returns_only_the_named_fields(raw: httpx.AsyncClient) -> None:
    response = await raw.get(f"{RECORD}/subsidiary/1")
    assert {"name", "currency"} <= set(response.json())
    customer = (await raw.get(f"{RECORD}/customer", params={"limit": 1})).json()["items"][0]
    picked = await raw.get(f"{RECORD}/customer/{customer['id']}", params={"fields": "COMPANYNAME"})
    assert set(picked.json()) == {"links", "id", "companyName"}

    unknown = await raw.get(f"{RECORD}/customer/{customer['id']}", params={"fields": "nickname"})
    assert unknown.status_code == 400 and error(unknown)["o:errorQueryParam"] == "fields"


async def test_an_invoices_lines_are_a_link_unless_expanded_and_readable_on_their_own(
    raw: httpx.AsyncClient, invoiced: tuple[Job, str]
) -> None:
    job, id = invoiced
    plain = (await raw.get(f"{RECORD}/invoice/{id}")).json()
    assert set(plain["item"]) == {"links"}
    assert plain["item"]["links"][0]["href"].endswith(f"/invoice/{id}/item")

    expanded = await raw.get(f"{RECORD}/invoice/{id}", params={"expandSubResources": "true"})
    lines = expanded.json()["item"]["items"]
    assert [line["custcol_psflow_role"] for line in lines] == ["Consultant", "Partner"]
    assert expanded.json()["item"]["totalResults"] == 2

    sublist = (await raw.get(f"{RECORD}/invoice/{id}/item")).json()
    assert sublist["items"] == lines
    second = (await raw.get(f"{RECORD}/invoice/{id}/item/2")).json()
    assert second == lines[1]
    assert (await raw.get(f"{RECORD}/invoice/{id}/item/9")).status_code == 404

    project = (await raw.get(f"{RECORD}/invoice/{id}/job")).json()
    assert (project["id"], project["companyName"]) == (job.id, job.name)
    customer = (await raw.get(f"{RECORD}/job/{job.id}/customer")).json()
    assert customer["id"] == project["parent"]["id"]
    subsidiary = (await raw.get(f"{RECORD}/employee/{job.employee_id}/subsidiary")).json()
    assert subsidiary["id"] == "1"
    nowhere = await raw.get(f"{RECORD}/job/{job.id}/colour")
    assert nowhere.status_code == 404 and error(nowhere)["o:errorCode"] == "INVALID_URL"


# ---------------------------------------------------------------- SuiteQL


async def suiteql(raw: httpx.AsyncClient, q: str) -> list[dict[str, Any]]:
    response = await raw.post(SUITEQL, json={"q": q}, headers=TRANSIENT)
    assert response.status_code == 200, response.text
    assert response.headers["Preference-Applied"] == "transient"
    rows: list[dict[str, Any]] = response.json()["items"]
    return rows


async def test_suiteql_wants_prefer_transient(raw: httpx.AsyncClient) -> None:
    response = await raw.post(SUITEQL, json={"q": "SELECT id FROM customer"})
    assert response.status_code == 400 and error(response)["o:errorHeader"] == "Prefer"


async def test_an_id_of_non_ascii_digits_is_refused_not_a_crash(raw: httpx.AsyncClient) -> None:
    listed = await raw.get(f"{RECORD}/timeBill", params={"q": "id ANY_OF ²"})
    assert listed.status_code == 400 and error(listed)["o:errorQueryParam"] == "q"
    q = {"q": "SELECT id FROM transaction WHERE id = '²'"}
    assert (await raw.post(SUITEQL, json=q, headers=TRANSIENT)).status_code == 400
    assert (await raw.get(f"{RECORD}/invoice/²")).status_code == 404


async def test_suiteql_reads_customers_jobs_and_invoice_transactions(
    raw: httpx.AsyncClient, invoiced: tuple[Job, str]
) -> None:
    job, id = invoiced
    [project] = await suiteql(
        raw, f"select id, companyname, parent, isinactive from JOB where id = {job.id}"
    )
    assert project == {"links": [], "id": job.id, "companyname": job.name,
                       "parent": project["parent"], "isinactive": "F"}  # fmt: skip
    [customer] = await suiteql(
        raw, f"SELECT id, companyname FROM customer WHERE id IN ({project['parent']})"
    )
    assert customer["companyname"]
    active = await suiteql(raw, "SELECT id FROM customer WHERE isinactive = 'F'")
    assert customer["id"] in {r["id"] for r in active}
    open_jobs = await suiteql(raw, "SELECT id FROM job WHERE isinactive = 'F'")
    assert job.id in {r["id"] for r in open_jobs}

    q = ("SELECT id, tranid, type, custbody_psflow_status, total FROM transaction "
         f"WHERE type = 'CustInvc' AND job IN ({job.id})")  # fmt: skip
    [invoice] = await suiteql(raw, q)
    assert invoice["id"] == id and invoice["type"] == "CustInvc"
    assert (invoice["custbody_psflow_status"], invoice["tranid"][:4]) == ("approved", "INV-")
    assert await suiteql(raw, q.replace("CustInvc", "SalesOrd")) == []


# ---------------------------------------------------------------- metadata catalog


async def test_the_metadata_catalog_lists_types_and_describes_custom_fields(
    raw: httpx.AsyncClient,
) -> None:
    catalog = (await raw.get(f"{RECORD}/metadata-catalog")).json()
    names = {item["name"] for item in catalog["items"]}
    assert {"customer", "job", "employee", "timeBill", "invoice"} <= names
    invoice = (await raw.get(f"{RECORD}/metadata-catalog/invoice")).json()
    status = invoice["properties"]["custbody_psflow_status"]
    assert status["x-ns-custom-field"] is True and "released" in status["enum"]
    assert invoice["properties"]["tranId"]["readOnly"] is True
    missing = await raw.get(f"{RECORD}/metadata-catalog/salesOrder")
    assert missing.status_code == 404


# ---------------------------------------------------------------- the connector's batch reads


class Counting(httpx.AsyncBaseTransport):
    """The app's transport, counting the requests that are not for a token."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.calls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "/auth/" not in request.url.path:
            self.calls.append(f"{request.method} {request.url.path.rsplit('/', 1)[-1]}")
        return await self.inner.handle_async_request(request)


async def test_reconciliation_reads_many_projects_in_one_query_each(
    app: FastAPI, erp: ErpConnector
) -> None:
    jobs = [await new_job(erp) for _ in range(3)]
    for job in jobs:
        await erp.upsert_time_bills([posting(job, 1)])
        await erp.draft_invoice(draft(job))
    external_ids = [f"nowhere-{n}" for n in range(1500)] + [f"bill-{j.name[-10:]}" for j in jobs]
    ids = [j.id for j in jobs] + [str(900000 + n) for n in range(997)]
    counting = Counting(app)
    connector = build_connector(counting)
    try:
        await connector.currency_code("1")  # the currency list, read once per connector
        counting.calls.clear()
        missing = await connector.missing_projects(external_ids)
        assert missing == set(external_ids[:1500])
        assert counting.calls == ["POST suiteql"] * 2  # 1,503 keys: two IN lists of 1,000
        counting.calls.clear()
        found = await connector.invoices_by_project(ids)
        assert counting.calls == ["POST suiteql"]
        assert [len(found[j.id]) for j in jobs] == [1, 1, 1]
        assert found[jobs[0].id][0].status == InvoiceStatus.DRAFT
        numbers = await connector.invoice_numbers([found[j.id][0].id for j in jobs])
        currencies = await connector.job_currencies([j.id for j in jobs])
        assert counting.calls == ["POST suiteql"] * 3
        assert sorted(numbers.values()) == sorted(found[j.id][0].number for j in jobs)
        assert set(currencies.values()) == {"USD"}
    finally:
        await connector.aclose()
