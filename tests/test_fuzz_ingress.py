"""A property-based fuzzer (schemathesis) against ingress's own OpenAPI document: every body is
signed as a real sender signs it, so the fuzz reaches what lies behind the signature check
(the event models, the dispatch, Temporal and the PSA's checks); no 5xx, no status, content
type or body the document does not declare. Unsigned requests are refused with its 401.

Ingress runs on the suite's Temporal dev server, in a namespace of its own with no worker (a
workflow it starts just waits), and checks change orders against the sandbox's PSA."""

import hashlib
import hmac
import time
import uuid
from typing import Any

import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import settings as hypothesis_settings
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from config import Settings
from ingress.app import create_app
from ingress.signing import SIGNATURE_HEADER
from tests.support import client_in
from tests.test_fuzz import CHECKS

EXAMPLES = 5  # per operation; every one is a Temporal call or a PSA check
UNSIGNED_EXAMPLES = 2
NAMESPACE = "fuzz-tests"
SECRETS = {system: f"fuzz-{system}-secret" for system in ("crm", "hcm", "psa")}


class Signed(requests.auth.AuthBase):
    """Signs each event the way a sending system does: HMAC-SHA256 of "<t>.<raw body>" with
    that system's secret."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        path = str(request.path_url).partition("?")[0]
        if not path.startswith("/events/"):
            return request  # open: nothing to sign
        secret = SECRETS.get(path.removeprefix("/events/"), "no-such-sender")
        body = request.body or b""
        raw = body.encode() if isinstance(body, str) else body
        stamp = int(time.time())
        signed = f"{stamp}.".encode() + bytes(raw)
        digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        request.headers[SIGNATURE_HEADER] = f"t={stamp},v1={digest}"
        return request


def receiving(settings: Settings) -> Settings:
    """`settings` with the senders' secrets."""
    own = settings.model_copy(deep=True)
    own.ingress.secrets = {system: SecretStr(s) for system, s in SECRETS.items()}
    return own


# The document is the same whatever the settings; the requests go to `ingress` below.
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(receiving(Settings())))


@pytest.fixture(scope="module")
async def ingress(settings: Settings, temporal_env: WorkflowEnvironment) -> FastAPI:
    """Ingress on the suite's dev server and sandbox, starting workflows in NAMESPACE."""
    fuzzing = receiving(settings)
    fuzzing.temporal.namespace = NAMESPACE
    fuzzing.temporal.task_queue = f"psflow-fuzz-{uuid.uuid4()}"  # no worker polls it
    return create_app(fuzzing, await client_in(temporal_env, NAMESPACE))


@schema.parametrize()
@hypothesis_settings(max_examples=EXAMPLES, deadline=None)
def test_signed_events(case: Any, ingress: FastAPI) -> None:
    case.call_and_validate(app=ingress, auth=Signed(), checks=CHECKS)


@schema.include(path_regex="^/events/").parametrize()
@hypothesis_settings(max_examples=UNSIGNED_EXAMPLES, deadline=None)
def test_unsigned_events_are_refused_401(case: Any, ingress: FastAPI) -> None:
    response = case.call_and_validate(app=ingress, checks=CHECKS)
    # The coverage phase also sends other methods, answered 405.
    assert response.status_code == (401 if case.method == "POST" else 405)
