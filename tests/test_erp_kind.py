"""`[erp] kind` picks the ERP connector: NetSuite's by default, Tryton's with its login and
password; what reads NetSuite directly (the NetSuite bench) refuses a Tryton; no Tryton
server needed here."""

import pytest
from pydantic import SecretStr

from application import system_checks
from application.check_rows import Check
from config import ConfigError, ErpSettings, Settings
from connectors import systems
from connectors.erp import ErpConnector
from connectors.tryton import TrytonErpConnector

TRYTON_URL = "http://127.0.0.1:8000/firm/rpc/"


def tryton_settings(**erp: object) -> Settings:
    values = {"kind": "tryton", "url": TRYTON_URL, "password": SecretStr("pw")} | erp
    return Settings(erp=ErpSettings.model_validate(values))


async def test_the_default_erp_is_netsuite() -> None:
    erp = systems.erp(Settings())
    try:
        assert isinstance(erp, ErpConnector)
        assert erp.base_url == Settings().erp.url
    finally:
        await erp.aclose()


async def test_kind_tryton_builds_the_tryton_connector_at_the_database_url() -> None:
    erp = systems.erp(tryton_settings(login="psflow-prod", timeout_seconds=12))
    try:
        assert isinstance(erp, TrytonErpConnector)
        assert erp.rpc.base_url == TRYTON_URL
        assert erp.rpc._login_name == "psflow-prod"
        assert erp.rpc._client.timeout.read == 12
    finally:
        await erp.aclose()
    given = systems.erp(tryton_settings(), timeout_seconds=3)
    try:
        assert isinstance(given, TrytonErpConnector)
        assert given.rpc._client.timeout.read == 3
    finally:
        await given.aclose()


def test_tryton_without_a_password_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"^\[erp\] password \(PSFLOW_ERP_PASSWORD\) is not set"):
        systems.erp(tryton_settings(password=None))


def test_what_reads_netsuite_directly_refuses_a_tryton_saying_so() -> None:
    with pytest.raises(
        ConfigError, match=r'^\[erp\] kind \(PSFLOW_ERP_KIND\) is "tryton".*"netsuite"'
    ):
        systems.netsuite_erp(tryton_settings())


async def test_the_systems_check_names_a_missing_tryton_password_as_the_erp_row() -> None:
    settings = tryton_settings(password=None)
    found = await system_checks._configured("ERP", system_checks._erp, settings)
    assert found == [
        Check(
            "ERP",
            "reach and sign in",
            False,
            "[erp] password (PSFLOW_ERP_PASSWORD) is not set: Tryton needs the integration "
            "user's password",
        )
    ]
