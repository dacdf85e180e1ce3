"""The sandbox systems' OpenAPI documents say what the systems really do: the security scheme
every protected operation needs, its 401, and 400 (not FastAPI's 422) where Salesforce and
NetSuite answer bad input with 400; operation ids are unique."""

import tempfile
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from config import Settings
from sandbox.server import build_apps
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
