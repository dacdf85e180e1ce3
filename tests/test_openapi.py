"""The OpenAPI documents say what the servers really do. The sandbox systems: the security
scheme every protected operation needs, its 401, and 400 (not FastAPI's 422) where Salesforce
and NetSuite answer bad input with 400; operation ids are unique. psflow's own servers: ingress
declares its signature header, the codec server its bearer token, each the body it takes and
every status it answers with its body; the inbox serves HTML pages and no document."""

import tempfile
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import create_engine

from cli.codec_server import codec_app
from config import Settings
from inbox.app import create_app as inbox_app
from ingress.app import create_app as ingress_app
from sandbox.server import build_apps
from security.codec import EncryptionCodec
from tests.vendor_keys import auth, settings_for

OPEN = ("/__admin", "/oauth/token", "/oauth2/token", "/oauth2/v1/token", "/token", "/services/data")


@pytest.fixture(scope="module")
def settings() -> Settings:
    folder = Path(tempfile.mkdtemp(prefix="psflow-openapi-"))
    shared = settings_for("http://sandbox.test", "psflow", "openapi-secret")
    return shared.model_copy(update={"data_dir": folder})  # its own keys, made by the apps


@pytest.fixture(scope="module")
def apps(settings: Settings) -> dict[str, FastAPI]:
    return {name: app for name, (app, _) in build_apps(settings).items()}


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a duplicate operation id warns
        document = app.openapi()
    return [(p, m, o) for p, ops in document["paths"].items() for m, o in ops.items()]


@pytest.mark.parametrize("system", ["crm", "erp", "psa", "hcm"])
def test_every_protected_operation_declares_its_scheme_and_401(
    apps: dict[str, FastAPI], system: str
) -> None:
    app = apps[system]
    schemes = app.openapi()["components"]["securitySchemes"]
    protected = [
        (p, m, o) for p, m, o in operations(app) if not p.endswith(OPEN) and "/__admin" not in p
    ]

    assert len(schemes) == 1 and protected
    (name,) = schemes
    assert all(o.get("security") == [{name: []}] for _, _, o in protected)
    assert all("401" in o["responses"] for _, _, o in protected)
    ids = [o["operationId"] for _, _, o in operations(app)]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("system", "bad"),
    [("crm", "/services/data/v60.0/query"), ("erp", "/services/rest/record/v1/customer?limit=0")],
)
async def test_salesforce_and_netsuite_document_the_400_they_answer(
    apps: dict[str, FastAPI], settings: Settings, system: str, bad: str
) -> None:
    app = apps[system]
    assert not [p for p, _, o in operations(app) if "422" in o["responses"]]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://sandbox.test",
        auth=auth(settings, system),
    ) as client:
        answer = await client.get(bad)
    assert answer.status_code == 400


def ingress() -> FastAPI:
    settings = Settings()
    settings.ingress.secret = SecretStr("openapi-secret")
    return ingress_app(settings)


def codec_server() -> FastAPI:
    return codec_app(EncryptionCodec({"k": bytes(32)}, "k"), "openapi-token", ["http://ui"])


def error_body(response: dict[str, Any]) -> str:
    return str(response["content"]["application/json"]["schema"]["$ref"])


def test_ingress_declares_its_signature_body_and_every_status_it_answers() -> None:
    app = ingress()
    document = app.openapi()
    (scheme,) = document["components"]["securitySchemes"].values()
    assert scheme["type"] == "apiKey" and scheme["in"] == "header"
    assert scheme["name"] == "Psflow-Signature" and "HMAC-SHA256" in scheme["description"]
    events = [(p, o) for p, m, o in operations(app) if p.startswith("/events/")]

    assert [p for p, _ in events] == ["/events/crm", "/events/hcm", "/events/psa"]
    for _, operation in events:
        assert operation["security"] == [{"PsflowSignature": []}]
        assert set(operation["responses"]) == {"202", "401", "409", "413", "422", "503"}
        errors = [r for status, r in operation["responses"].items() if status != "202"]
        assert {error_body(r) for r in errors} == {"#/components/schemas/ErrorBody"}
        assert "Retry-After" in operation["responses"]["503"]["headers"]
        body = operation["requestBody"]["content"]["application/json"]
        assert body["schema"]["$ref"].rpartition("/")[2] in document["components"]["schemas"]
        assert body["examples"]
    (health,) = [o for p, _, o in operations(app) if p == "/health"]
    assert health["security"] == []  # open, and says so
    assert "HTTPValidationError" not in str(document)


def test_the_codec_server_declares_its_token_payloads_and_every_status_it_answers() -> None:
    app = codec_server()
    document = app.openapi()
    assert document["components"]["securitySchemes"]["CodecToken"]["scheme"] == "bearer"
    paths = ["/encode", "/decode", "/{namespace}/encode", "/{namespace}/decode"]
    probes = ["/healthz", "/readyz"]

    assert [p for p, _, _ in operations(app)] == paths + probes
    for path, _, operation in operations(app):
        if path in probes:
            assert operation["security"] == []  # open, and says so
            continue
        assert operation["security"] == [{"CodecToken": []}]
        assert set(operation["responses"]) == {"200", "400", "401", "413", "422"}
        assert error_body(operation["responses"]["401"]) == "#/components/schemas/ErrorBody"
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/PayloadsJson"}
        names = [p["name"] for p in operation.get("parameters", [])]
        assert names == (["namespace"] if "{namespace}" in path else [])
    assert "HTTPValidationError" not in str(document)


async def test_the_inbox_serves_pages_and_no_openapi_document() -> None:
    app = inbox_app(Settings(), create_engine("sqlite://"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://inbox.test"
    ) as client:
        answers = [await client.get(path) for path in ("/openapi.json", "/docs", "/redoc")]
    assert app.openapi_url is None
    assert [a.status_code for a in answers] == [404, 404, 404]
