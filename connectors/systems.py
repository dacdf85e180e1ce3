"""Each system's connector from psflow's settings, proving itself the way its vendor
documents for servers (connectors/auth.py); the ERP's is NetSuite's or Tryton's, as
`[erp] kind` says."""

from typing import Any

import httpx

from config import ConfigError, Settings
from connectors.auth import (
    ClientCredentials,
    NetSuiteM2M,
    SalesforceClientCredentials,
    SalesforceJwtBearer,
    WorkdayRefreshToken,
)
from connectors.crm import CrmConnector
from connectors.erp import ErpConnector
from connectors.erp_port import Erp
from connectors.hcm import HcmConnector
from connectors.netsuite_tba import NetSuiteTba
from connectors.psa import PsaConnector
from connectors.tryton import TrytonErpConnector


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


def erp(settings: Settings, **options: Any) -> Erp:
    """The ERP `[erp] kind` names. `options`: timeout_seconds and concurrency, and for
    NetSuite transport too (else the [erp] settings')."""
    if settings.erp.kind == "tryton":
        return tryton_erp(settings, **options)
    return netsuite_erp(settings, **options)


def netsuite_erp(settings: Settings, **options: Any) -> ErpConnector:
    """NetSuite's connector itself, for what reads NetSuite directly (the systems check, the
    chaos census, the benchmark); a ConfigError when `[erp] kind` names another ERP."""
    if settings.erp.kind != "netsuite":
        raise ConfigError(
            f'[erp] kind (PSFLOW_ERP_KIND) is "{settings.erp.kind}": this reads NetSuite '
            'directly, so it needs kind = "netsuite"'
        )
    return ErpConnector.build(
        settings.erp.url, erp_auth(settings), **_options(settings.erp, options)
    )


def tryton_erp(settings: Settings, **options: Any) -> TrytonErpConnector:
    """Tryton's connector, signing in as `[erp] login` at the database URL `[erp] url`, with
    `[erp] concurrency` calls at once at most."""
    erp = settings.erp
    timeout = float(options.get("timeout_seconds", erp.timeout_seconds))
    concurrency = int(options.get("concurrency", erp.concurrency))
    return TrytonErpConnector.build(
        erp.url, erp.login, erp.tryton_password(), timeout_seconds=timeout, concurrency=concurrency
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
