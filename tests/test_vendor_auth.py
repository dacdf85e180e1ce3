"""Each vendor's server-to-server auth, connector and sandbox alike: Salesforce's JWT bearer
flow and client credentials, NetSuite's M2M client assertion and token-based auth, Workday's
refresh-token grant; each refusal in the vendor's words, and a 401 mid-run refreshing once."""

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from pydantic import SecretStr

from config import Settings
from connectors import systems
from connectors.auth import JWT_ASSERTION, JWT_BEARER
from connectors.crm import CrmConnector
from connectors.erp import ErpConnector
from connectors.errors import AuthenticationFailed, RequestRejected
from connectors.hcm import HcmConnector
from sandbox.crm.app import create_app as create_crm
from sandbox.crm.seed import DEMO_OPPORTUNITIES
from sandbox.erp.app import RECORD_PATH, TOKEN_PATH
from sandbox.erp.app import create_app as create_erp
from sandbox.hcm.app import create_app as create_hcm
from sandbox.hcm.seed import DEMO_WORKERS
from tests.vendor_keys import auth, crm_app, erp_app, hcm_app, settings_for

CRM_URL, ERP_URL, HCM_URL = "http://crm.test", "http://erp.test", "http://hcm.test"
SECRET = "vendor-auth-secret"
TENANT = "acme"
SF_TOKEN = "/services/oauth2/token"


class Counting(httpx.AsyncBaseTransport):
    """The app behind ASGI, counting the token requests that reach it."""

    def __init__(self, app: FastAPI, token_path: str) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.token_path = token_path
        self.tokens = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.tokens += request.url.path == self.token_path
        return await self.inner.handle_async_request(request)


def keys(url: str) -> Settings:
    return settings_for(url, "psflow", SECRET, TENANT)


@pytest.fixture
def crm_app_(tmp_path: Path) -> FastAPI:
    return create_crm(
        tmp_path / "crm.db", client_id="psflow", client_secret=SECRET, **crm_app(keys(CRM_URL))
    )


@pytest.fixture
def erp_app_(tmp_path: Path) -> FastAPI:
    return create_erp(
        tmp_path / "erp.db", client_id="psflow", client_secret=SECRET, **erp_app(keys(ERP_URL))
    )


@pytest.fixture
def hcm_app_(tmp_path: Path) -> FastAPI:
    return create_hcm(
        tmp_path / "hcm.db",
        client_id="psflow",
        client_secret=SECRET,
        tenant=TENANT,
        **hcm_app(keys(HCM_URL)),
    )


@pytest.fixture
async def plain(crm_app_: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=crm_app_), base_url=CRM_URL
    ) as client:
        yield client


def assertion(key: Any, **claims: Any) -> str:
    """A Salesforce JWT bearer assertion, valid unless `claims` say otherwise."""
    settings = keys(CRM_URL)
    base = {
        "iss": "psflow",
        "sub": settings.crm.username,
        "aud": CRM_URL,
        "exp": int(time.time()) + 120,
    }
    return jwt.encode(base | claims, key, algorithm="RS256")


def crm_key() -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(keys(CRM_URL).key_file("crm").read_bytes(), None)


# ---- Salesforce ---------------------------------------------------------------------------


async def test_the_jwt_bearer_flow_reads_the_crm_and_answers_as_salesforce_does(
    crm_app_: FastAPI, plain: httpx.AsyncClient
) -> None:
    transport = Counting(crm_app_, SF_TOKEN)
    crm = CrmConnector.build(CRM_URL, auth(keys(CRM_URL), "crm"), transport=transport)
    try:
        deal = await crm.get_opportunity(DEMO_OPPORTUNITIES["small_usd"])
        await crm.get_opportunity(DEMO_OPPORTUNITIES["large_usd"])
    finally:
        await crm.aclose()
    assert deal.id == DEMO_OPPORTUNITIES["small_usd"] and transport.tokens == 1

    answer = await plain.post(
        SF_TOKEN, data={"grant_type": JWT_BEARER, "assertion": assertion(crm_key())}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "scope", "instance_url", "id", "token_type"}
    assert body["instance_url"] == CRM_URL and body["token_type"] == "Bearer"


@pytest.mark.parametrize("basic", [True, False], ids=["HTTP Basic", "in the body"])
async def test_client_credentials_authenticate_by_basic_or_body(
    plain: httpx.AsyncClient, basic: bool
) -> None:
    form = {"grant_type": "client_credentials"}
    if basic:
        answer = await plain.post(SF_TOKEN, data=form, auth=("psflow", SECRET))
    else:
        answer = await plain.post(
            SF_TOKEN, data=form | {"client_id": "psflow", "client_secret": SECRET}
        )
    body = answer.json()
    assert {"access_token", "signature", "instance_url", "id", "issued_at", "token_type"} <= set(
        body
    )
    wrong = await plain.post(SF_TOKEN, data=form, auth=("psflow", "not it"))
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_client")


@pytest.mark.parametrize(
    ("make", "error", "description"),
    [
        (
            lambda: assertion(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            "invalid_grant",
            "invalid assertion",
        ),
        (lambda: assertion(crm_key(), exp=int(time.time()) - 600), "invalid_grant", "expired"),
        (
            lambda: assertion(crm_key(), aud="https://elsewhere.example"),
            "invalid_grant",
            "audience is invalid",
        ),
        (
            lambda: assertion(crm_key(), sub="someone@else.example"),
            "invalid_grant",
            "hasn't approved",
        ),
        (lambda: assertion(crm_key(), iss="another-app"), "invalid_client_id", "client identifier"),
    ],
    ids=["wrong certificate", "expired", "wrong audience", "unknown user", "another app"],
)
async def test_a_bad_assertion_is_refused_in_salesforces_words(
    plain: httpx.AsyncClient, make: Any, error: str, description: str
) -> None:
    answer = await plain.post(SF_TOKEN, data={"grant_type": JWT_BEARER, "assertion": make()})
    assert answer.status_code == 400
    assert answer.json()["error"] == error and description in answer.json()["error_description"]


async def test_a_refused_assertion_fails_for_good_saying_what_to_check(crm_app_: FastAPI) -> None:
    settings = keys(CRM_URL)
    crm = settings.crm.model_copy(update={"username": "nobody@firm.example"})
    refused = settings.model_copy(update={"crm": crm})
    connector = CrmConnector.build(
        CRM_URL, auth(refused, "crm"), transport=httpx.ASGITransport(app=crm_app_)
    )
    try:
        with pytest.raises(AuthenticationFailed) as caught:
            await connector.get_opportunity(DEMO_OPPORTUNITIES["small_usd"])
    finally:
        await connector.aclose()
    assert caught.value.non_retryable and "username (pre-authorized" in caught.value.message


async def test_api_calls_go_to_the_instance_the_token_names() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.url.host} {request.url.path}")
        if request.url.path == SF_TOKEN:
            body = {"access_token": "t", "instance_url": "https://firm.my.salesforce.test"}
            return httpx.Response(200, json=body | {"token_type": "Bearer"})
        return httpx.Response(200, json={"Id": "006", "CurrencyIsoCode": "USD"})

    settings = keys("https://login.salesforce.test")
    settings.crm.api_version = "v61.0"
    crm = systems.crm(settings, transport=httpx.MockTransport(answer))
    try:
        await crm.get_opportunity_values("006", ["currency"])
    finally:
        await crm.aclose()
    assert seen == [
        f"login.salesforce.test {SF_TOKEN}",
        "firm.my.salesforce.test /services/data/v61.0/sobjects/Opportunity/006",
    ]


# ---- NetSuite -----------------------------------------------------------------------------


def m2m(key: Any, kid: str | None = None, algorithm: str = "ES256", **claims: Any) -> str:
    settings = keys(ERP_URL)
    now = int(time.time())
    base = {
        "iss": "psflow", "scope": ["rest_webservices"], "aud": ERP_URL + TOKEN_PATH,
        "iat": now, "exp": now + 300,
    }  # fmt: skip
    headers = {"kid": kid or settings.erp.certificate_id}
    return jwt.encode(base | claims, key, algorithm=algorithm, headers=headers)


def erp_key() -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(keys(ERP_URL).key_file("erp").read_bytes(), None)


async def test_m2m_tokens_are_kept_for_their_lifetime(erp_app_: FastAPI) -> None:
    transport = Counting(erp_app_, TOKEN_PATH)
    erp = ErpConnector.build(ERP_URL, auth(keys(ERP_URL), "erp"), transport=transport)
    try:
        for _ in range(3):
            assert await erp.get_customer("sfdc-none") is None
    finally:
        await erp.aclose()
    assert transport.tokens == 1


def _other_key() -> dict[str, str]:
    return {"client_assertion": m2m(ec.generate_private_key(ec.SECP256R1()))}


def _claims(**claims: Any) -> Any:
    return lambda: {"client_assertion": m2m(erp_key(), **claims)}


def _secret() -> dict[str, str]:
    return {"client_id": "psflow", "client_secret": SECRET, "client_assertion": ""}


NOW = int(time.time())


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        (_claims(kid="unknown"), 401, "invalid_client"),
        (_other_key, 400, "invalid_grant"),
        (_claims(exp=NOW - 600, iat=NOW - 900), 400, "invalid_grant"),
        (_claims(aud="https://other.example/token"), 400, "invalid_grant"),
        (_claims(scope=["restlets"]), 400, "invalid_scope"),
        (_claims(exp=NOW + 7200), 400, "invalid_grant"),
        (_secret, 400, "invalid_request"),
    ],
    ids=["unknown certificate", "wrong key", "expired", "wrong audience", "no REST scope",
         "over an hour", "a secret instead"],
)  # fmt: skip
async def test_a_bad_client_assertion_is_refused_with_an_oauth_error(
    erp_app_: FastAPI, form: Any, status: int, error: str
) -> None:
    data = {"grant_type": "client_credentials", "client_assertion_type": JWT_ASSERTION} | form()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=erp_app_), base_url=ERP_URL
    ) as client:
        answer = await client.post(TOKEN_PATH, data=data)
    assert (answer.status_code, answer.json()["error"]) == (status, error)


def tba(settings: Settings, **erp: Any) -> Settings:
    changed = settings.erp.model_copy(update={"auth": "tba", **erp})
    return settings.model_copy(update={"erp": changed})


async def test_token_based_auth_signs_every_request(erp_app_: FastAPI) -> None:
    transport = httpx.ASGITransport(app=erp_app_)
    signed = systems.erp(tba(keys(ERP_URL)), transport=transport)
    forged = systems.erp(tba(keys(ERP_URL), token_secret=SecretStr("guessed")), transport=transport)
    try:
        assert await signed.get_customer("sfdc-none") is None
        assert await signed.get_customer("sfdc-none") is None  # a fresh nonce each time
        with pytest.raises(RequestRejected) as caught:
            await forged.get_customer("sfdc-none")
    finally:
        await signed.aclose()
        await forged.aclose()
    assert caught.value.status == 401


async def test_a_replayed_tba_signature_is_refused(erp_app_: FastAPI) -> None:
    from connectors.netsuite_tba import NetSuiteTba

    erp = keys(ERP_URL).erp
    token_secret = erp.token_secret.get_secret_value() if erp.token_secret else ""
    signer = NetSuiteTba(erp.account, "psflow", SECRET, erp.token_id, token_secret)
    request = httpx.Request("GET", f"{ERP_URL}{RECORD_PATH}/customer?limit=1")
    signed = next(signer.auth_flow(request))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=erp_app_), base_url=ERP_URL
    ) as client:
        first = await client.send(signed)
        again = await client.send(signed)
    assert (first.status_code, again.status_code) == (200, 401)


# ---- Workday ------------------------------------------------------------------------------


async def test_a_revoked_refresh_token_fails_for_good_and_a_401_refreshes_once(
    hcm_app_: FastAPI,
) -> None:
    token_path = HcmConnector.token_path.format(tenant=TENANT)
    transport = Counting(hcm_app_, token_path)
    hcm = HcmConnector.build(
        HCM_URL, auth(keys(HCM_URL), "hcm"), transport=transport, tenant=TENANT
    )
    worker_id = DEMO_WORKERS["active_consultant_us"]
    try:
        await hcm.get_worker(worker_id)
        async with httpx.AsyncClient(transport=transport, base_url=HCM_URL) as admin:
            await admin.post("/__admin/auth/expire-tokens")
            await hcm.get_worker(worker_id)  # a 401, a new token, the call again
            assert transport.tokens == 2
            await admin.post("/__admin/auth/revoke-refresh-tokens")
        await hcm.get_worker(worker_id)  # the access token still holds
        async with httpx.AsyncClient(transport=transport, base_url=HCM_URL) as admin:
            await admin.post("/__admin/auth/expire-tokens")
        with pytest.raises(AuthenticationFailed) as caught:
            await hcm.get_worker(worker_id)
    finally:
        await hcm.aclose()
    assert "invalid_grant" in caught.value.message and "refresh_token" in caught.value.message


async def test_workday_takes_no_client_credentials_grant(hcm_app_: FastAPI) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=hcm_app_), base_url=HCM_URL
    ) as client:
        answer = await client.post(
            HcmConnector.token_path.format(tenant=TENANT),
            data={"grant_type": "client_credentials"},
            auth=("psflow", SECRET),
        )
    assert (answer.status_code, answer.json()["error"]) == (400, "unsupported_grant_type")
