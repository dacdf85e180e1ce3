"""Each system's connector from psflow's settings, proving itself the way its vendor
documents for servers (connectors/auth.py)."""

from typing import Any

import httpx

from config import Settings
from connectors.auth import (
    ClientCredentials,
    NetSuiteM2M,
    SalesforceClientCredentials,
    SalesforceJwtBearer,
    WorkdayRefreshToken,
)
from connectors.crm import CrmConnector
from connectors.erp import ErpConnector
from connectors.hcm import HcmConnector
from connectors.netsuite_tba import NetSuiteTba
from connectors.psa import PsaConnector


def crm_auth(settings: Settings) -> httpx.Auth:
    crm = settings.crm
    token_url = crm.url.rstrip("/") + CrmConnector.token_path
    if crm.auth == "client-credentials":
        basic = crm.client_auth == "basic"
        return SalesforceClientCredentials(
            "crm", token_url, crm.client_id, crm.secret("crm"), basic=basic
        )
    audience = crm.audience or crm.url.rstrip("/")
    return SalesforceJwtBearer(
        "crm", token_url, crm.client_id, crm.username, settings.key_file("crm"), audience
    )


def erp_auth(settings: Settings) -> httpx.Auth:
    erp = settings.erp
    if erp.auth == "tba":
        token_secret = erp.token_secret.get_secret_value() if erp.token_secret else ""
        return NetSuiteTba(
            erp.account, erp.client_id, erp.secret("erp"), erp.token_id, token_secret
        )
    token_url = erp.url.rstrip("/") + ErpConnector.token_path
    return NetSuiteM2M(
        "erp",
        token_url,
        erp.client_id,
        erp.certificate_id,
        settings.key_file("erp"),
        erp.algorithm,
        erp.scopes,
    )


def hcm_auth(settings: Settings) -> httpx.Auth:
    hcm = settings.hcm
    token = hcm.refresh_token.get_secret_value() if hcm.refresh_token else ""
    token_url = HcmConnector.token_url(hcm.url, hcm.tenant)
    return WorkdayRefreshToken("hcm", token_url, hcm.client_id, hcm.secret("hcm"), token)


def psa_auth(settings: Settings) -> httpx.Auth:
    psa = settings.psa
    token_url = psa.url.rstrip("/") + PsaConnector.token_path
    return ClientCredentials("psa", token_url, psa.client_id, psa.secret("psa"))


def crm(settings: Settings, **options: Any) -> CrmConnector:
    """`options`: timeout_seconds, concurrency, transport (else the [crm] settings')."""
    connector = CrmConnector.build(
        settings.crm.url, crm_auth(settings), **_options(settings.crm, options)
    )
    connector.api_version = settings.crm.api_version
    return connector


def erp(settings: Settings, **options: Any) -> ErpConnector:
    return ErpConnector.build(
        settings.erp.url, erp_auth(settings), **_options(settings.erp, options)
    )


def psa(settings: Settings, **options: Any) -> PsaConnector:
    return PsaConnector.build(
        settings.psa.url, psa_auth(settings), **_options(settings.psa, options)
    )


def hcm(settings: Settings, **options: Any) -> HcmConnector:
    return HcmConnector.build(
        settings.hcm.url,
        hcm_auth(settings),
        tenant=settings.hcm.tenant,
        **_options(settings.hcm, options),
    )


def _options(system: Any, given: dict[str, Any]) -> dict[str, Any]:
    return {
        "concurrency": system.concurrency,
        "timeout_seconds": system.timeout_seconds,
    } | given
