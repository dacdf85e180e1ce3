"""The vendors' auth for tests that run a sandbox app in process (ASGI) with a connector or a
plain client: the demo keys (made once per test process), the app's side of them, and the
client's."""

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from config import CrmSettings, ErpSettings, HcmSettings, Settings, SystemSettings
from connectors import systems
from sandbox.keys import demo_certificate


@cache
def _keys() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="psflow-test-keys-"))
    atexit.register(shutil.rmtree, folder, True)
    demo_certificate(folder / "keys" / "crm.pem", "rsa")
    demo_certificate(folder / "keys" / "erp.pem", "ec")
    return folder


def settings_for(base_url: str, client_id: str, secret: str, tenant: str = "") -> Settings:
    """Settings whose every system is at `base_url`, with these client credentials."""
    shared: dict[str, Any] = {"url": base_url, "client_id": client_id}
    key = SecretStr(secret)
    return Settings(
        data_dir=_keys(),
        crm=CrmSettings(**shared, client_secret=key),
        erp=ErpSettings(**shared, client_secret=key),
        psa=SystemSettings(**shared, client_secret=key),
        hcm=HcmSettings(
            **shared,
            client_secret=key,
            refresh_token=SecretStr(f"refresh-{secret}"),
            **({"tenant": tenant} if tenant else {}),
        ),
    )


def crm_app(settings: Settings) -> dict[str, Any]:
    """The CRM app's keyword arguments for the JWT bearer flow."""
    return {
        "username": settings.crm.username,
        "certificate": demo_certificate(settings.key_file("crm"), "rsa"),
        "audiences": frozenset({settings.crm.url}),
    }


def erp_app(settings: Settings) -> dict[str, Any]:
    """The ERP app's keyword arguments for M2M (and TBA)."""
    erp = settings.erp
    return {
        "certificates": {erp.certificate_id: demo_certificate(settings.key_file("erp"), "ec")},
        "token_id": erp.token_id,
        "token_secret": erp.token_secret.get_secret_value() if erp.token_secret else None,
    }


def hcm_app(settings: Settings) -> dict[str, Any]:
    token = settings.hcm.refresh_token
    return {"refresh_token": token.get_secret_value() if token else None}


def auth(settings: Settings, system: str) -> httpx.Auth:
    """The connector's auth for `system`, as connectors/systems.py builds it."""
    build = {
        "crm": systems.crm_auth,
        "erp": systems.erp_auth,
        "psa": systems.psa_auth,
        "hcm": systems.hcm_auth,
    }
    return build[system](settings)
