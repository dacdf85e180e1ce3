"""A property-based fuzzer (schemathesis) against each sandbox system's own OpenAPI document,
authenticated as psflow is: no 5xx, no status, content type or body the document does not
declare. Bounded (EXAMPLES per operation) to keep `make test` short; admin routes and token
endpoints are left out. psflow's codec server is fuzzed the same way with its token (and
refuses every request without it); ingress is in tests/test_fuzz_ingress.py."""

import os
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from cli.codec_server import codec_app
from connectors import systems
from sandbox.server import build_apps
from security.codec import EncryptionCodec
from tests.vendor_keys import settings_for

EXAMPLES = 10
UNSIGNED_EXAMPLES = 3  # enough to see every operation refuse them
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SETTINGS = settings_for("http://testserver", "psflow", "fuzz-secret").model_copy(
    update={"data_dir": Path(tempfile.mkdtemp(prefix="psflow-fuzz-"))}
)
APPS = {name: app for name, (app, _) in build_apps(SETTINGS).items()}


def token(system: str) -> str:
    """An access token got the way psflow's connector gets it."""
    flow = {
        "crm": systems.crm_auth, "erp": systems.erp_auth,
        "psa": systems.psa_auth, "hcm": systems.hcm_auth,
    }[system](SETTINGS)  # fmt: skip
    request = flow.token_request()  # type: ignore[attr-defined]
    with TestClient(APPS[system]) as client:
        answer = client.post(
            request.url.path, content=request.content, headers=dict(request.headers)
        )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def fuzzed(system: str) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", APPS[system])
    bearer = {"Authorization": f"Bearer {token(system)}"}

    @schema.exclude(path_regex="__admin|token").parametrize()
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None)
    def test(case: Any) -> None:
        case.call_and_validate(headers=bearer, checks=CHECKS)

    return test


test_crm = fuzzed("crm")
test_erp = fuzzed("erp")
test_psa = fuzzed("psa")
test_hcm = fuzzed("hcm")


# ---- psflow's codec server: bearer token, Temporal's payloads in proto3 JSON

CODEC_TOKEN = "fuzz-codec-token"
CODEC = codec_app(EncryptionCodec({"fuzz": os.urandom(32)}, "fuzz"), CODEC_TOKEN, ["http://ui"])
CODEC_SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", CODEC)


@CODEC_SCHEMA.parametrize()
@hypothesis_settings(max_examples=EXAMPLES, deadline=None)
def test_codec_server(case: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {CODEC_TOKEN}"}, checks=CHECKS)


@CODEC_SCHEMA.parametrize()
@hypothesis_settings(max_examples=UNSIGNED_EXAMPLES, deadline=None)
def test_codec_server_without_the_token(case: Any) -> None:
    response = case.call_and_validate(headers={"Authorization": "Bearer wrong"}, checks=CHECKS)
    # The coverage phase also sends other methods, answered 405; the probes are open.
    if case.path in ("/healthz", "/readyz"):
        assert response.status_code == (200 if case.method == "GET" else 405)
    else:
        assert response.status_code == (401 if case.method == "POST" else 405)
