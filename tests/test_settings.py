"""Settings on pydantic-settings: the TOML file, PSFLOW_* variables, PSFLOW_*_FILE secrets, and
one line naming the field for every bad value."""

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest
from pydantic import SecretStr

from config import ENV_KEYS, ConfigError, Settings, load_settings
from config_sources import annotation_at, secret_variables

# [auth.oidc] needs its issuer and client before PSFLOW_OIDC_WEB_CLIENT_SECRET can add to it.
OIDC = '[auth.oidc]\nissuer = "https://login.example.com"\nclient_id = "psflow-cli"\n'

SECRETS = [
    "PSFLOW_CRM_CLIENT_SECRET",
    "PSFLOW_ERP_CLIENT_SECRET",
    "PSFLOW_PSA_CLIENT_SECRET",
    "PSFLOW_HCM_CLIENT_SECRET",
    "PSFLOW_HCM_REFRESH_TOKEN",
    "PSFLOW_ERP_TOKEN_SECRET",
    "PSFLOW_ERP_PASSWORD",
    "PSFLOW_CODEC_KEYS",
    "PSFLOW_CODEC_SERVER_TOKEN",
    "PSFLOW_STORE_URL",
    "PSFLOW_INGRESS_SECRET",
    "PSFLOW_INGRESS_CRM_SECRET",
    "PSFLOW_INGRESS_HCM_SECRET",
    "PSFLOW_INGRESS_PSA_SECRET",
    "PSFLOW_OIDC_WEB_CLIENT_SECRET",
]


@pytest.fixture(autouse=True)
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ./psflow.toml but the ones a test writes."""
    monkeypatch.chdir(tmp_path)


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text)
    return path


def at(settings: Settings, path: tuple[str, ...]) -> Any:
    value: Any = settings
    for key in path:
        value = value.get(key) if isinstance(value, dict) else getattr(value, key)
    return value


def plain(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def test_the_toml_file_alone_sets_its_values_and_keeps_the_section_defaults(
    tmp_path: Path,
) -> None:
    config = toml(tmp_path, '[crm]\nclient_id = "3MVG9"\n[worker]\nactivity_pollers = 3\n')
    settings = load_settings(config, env={})
    assert settings.crm.client_id == "3MVG9"
    assert settings.crm.url == "http://127.0.0.1:8701"  # the rest of [crm] stays default
    assert plain(settings.crm.client_secret) == "sandbox-crm-secret"
    assert settings.worker.activity_pollers == 3
    assert settings.temporal == Settings().temporal


def test_the_environment_alone_sets_its_values() -> None:
    settings = load_settings(env={"PSFLOW_NAMESPACE": "firm", "PSFLOW_RETRY_ERP": "90m"})
    assert settings.temporal.namespace == "firm"
    assert settings.retry.erp == timedelta(minutes=90)
    assert settings.crm == Settings().crm


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    config = toml(tmp_path, '[temporal]\nnamespace = "file"\ntask_queue = "file-queue"\n')
    settings = load_settings(config, env={"PSFLOW_NAMESPACE": "env"})
    assert (settings.temporal.namespace, settings.temporal.task_queue) == ("env", "file-queue")


def test_psflow_config_names_the_file_and_a_missing_or_broken_one_is_refused(
    tmp_path: Path,
) -> None:
    config = toml(tmp_path, '[temporal]\nnamespace = "named"\n')
    assert load_settings(env={"PSFLOW_CONFIG": str(config)}).temporal.namespace == "named"
    (tmp_path / "psflow.toml").write_text('[temporal]\nnamespace = "default-file"\n')
    assert load_settings(env={}).temporal.namespace == "default-file"
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError, match=f"config file {missing} does not exist"):
        load_settings(env={"PSFLOW_CONFIG": str(missing)})
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings(toml(tmp_path, "[temporal\n"), env={})


def valid_value(var: str, annotation: Any, default: Any) -> tuple[str, Any]:
    """A value for the variable, as text, and what the setting should then hold."""
    kind = next((arg for arg in get_args(annotation) if arg is not type(None)), annotation)
    if get_origin(annotation) is Literal:
        choice = get_args(annotation)[-1]
        return choice, choice
    if var == "PSFLOW_METRICS_ADDRESS":
        return "0.0.0.0:9464", "0.0.0.0:9464"
    if var == "PSFLOW_CODEC_KEYS":
        return "k1=one,k2=two", {"k1": "one", "k2": "two"}
    if annotation is bool:
        return ("false", False) if default else ("true", True)
    by_type: dict[Any, tuple[str, Any]] = {
        int: ("7", 7),
        float: ("2.5", 2.5),
        timedelta: ("90m", timedelta(minutes=90)),
        Path: ("/run/psflow/key.pem", Path("/run/psflow/key.pem")),
        SecretStr: ("s3cret", "s3cret"),
        str: (f"value-of-{var.lower()}", f"value-of-{var.lower()}"),
    }
    return by_type[kind if kind in by_type else annotation]


@pytest.mark.parametrize("var", sorted(ENV_KEYS))
def test_every_variable_sets_its_field(tmp_path: Path, var: str) -> None:
    path = ENV_KEYS[var]
    config = toml(tmp_path, OIDC)
    default = at(load_settings(config, env={}), path)
    text, expected = valid_value(var, annotation_at(Settings, path), plain(default))
    value = at(load_settings(config, env={var: text}), path)
    if isinstance(value, dict):
        value = {key: plain(item) for key, item in value.items()}
    assert plain(value) == expected != plain(default)


def test_the_secret_variables_are_all_found() -> None:
    assert sorted(secret_variables(Settings)) == sorted(SECRETS)


@pytest.mark.parametrize("var", SECRETS)
def test_a_secret_is_read_from_its_file_without_the_trailing_newline(
    tmp_path: Path, var: str
) -> None:
    secret = "s3cret-from-a-file"
    text = {"PSFLOW_CODEC_KEYS": f"k1={secret}", "PSFLOW_STORE_URL": f"postgresql://p:{secret}@db"}
    mounted = tmp_path / "run-secrets-x"
    mounted.write_text(text.get(var, secret) + "\n")
    settings = load_settings(toml(tmp_path, OIDC), env={f"{var}_FILE": str(mounted)})
    value = at(settings, ENV_KEYS[var])
    read = plain(value["k1"]) if isinstance(value, dict) else plain(value)
    assert read == (secret if var == "PSFLOW_CODEC_KEYS" else text.get(var, secret))
    if var != "PSFLOW_STORE_URL":  # a plain str; shown as before
        assert secret not in repr(settings) and secret not in str(settings)


def test_a_secret_file_beats_the_toml_file_and_the_variable_beats_other_files(
    tmp_path: Path,
) -> None:
    mounted = tmp_path / "crm-secret"
    mounted.write_text("from-file\n")
    config = toml(tmp_path, '[crm]\nclient_secret = "from-toml"\n')
    env = {"PSFLOW_CRM_CLIENT_SECRET_FILE": str(mounted), "PSFLOW_ERP_CLIENT_SECRET": "plain"}
    settings = load_settings(config, env=env)
    assert plain(settings.crm.client_secret) == "from-file"
    assert plain(settings.erp.client_secret) == "plain"


def test_a_variable_and_its_file_both_set_is_refused_naming_both(tmp_path: Path) -> None:
    mounted = tmp_path / "token"
    mounted.write_text("t\n")
    env = {"PSFLOW_CODEC_SERVER_TOKEN": "t", "PSFLOW_CODEC_SERVER_TOKEN_FILE": str(mounted)}
    with pytest.raises(ConfigError) as refused:
        load_settings(env=env)
    assert str(refused.value) == (
        "PSFLOW_CODEC_SERVER_TOKEN and PSFLOW_CODEC_SERVER_TOKEN_FILE are both set: "
        "keep one of them"
    )


def test_a_secret_file_that_cannot_be_read_is_named_with_its_path(tmp_path: Path) -> None:
    missing = tmp_path / "run" / "secrets" / "hcm"
    with pytest.raises(ConfigError) as refused:
        load_settings(env={"PSFLOW_HCM_REFRESH_TOKEN_FILE": str(missing)})
    assert str(refused.value) == (
        f"PSFLOW_HCM_REFRESH_TOKEN_FILE: cannot read {missing}: No such file or directory"
    )


def test_a_bad_value_is_one_line_naming_the_toml_key_and_the_variable() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(env={"PSFLOW_WORKER_MAX_ACTIVITIES": "many"})
    assert str(refused.value) == (
        "[worker] max_concurrent_activities (PSFLOW_WORKER_MAX_ACTIVITIES): "
        'must be a whole number, got "many"'
    )


def test_every_bad_value_has_its_own_line_and_a_secret_is_never_shown(tmp_path: Path) -> None:
    config = toml(
        tmp_path,
        '[sandbox]\ncrm_port = "eighty"\n[crm]\nclient_secret = 12345\n'
        '[policy.approval]\nthresholds = { USD = "lots" }\n',
    )
    env = {"PSFLOW_TRACES": "jaeger", "PSFLOW_WORKER_ACTIVITY_POLLERS": "0"}
    with pytest.raises(ConfigError) as refused:
        load_settings(config, env=env)
    assert str(refused.value).splitlines() == [
        "[crm] client_secret (PSFLOW_CRM_CLIENT_SECRET): must be text",
        '[sandbox] crm_port: must be a whole number, got "eighty"',
        '[worker] activity_pollers (PSFLOW_WORKER_ACTIVITY_POLLERS): must be at least 1, got "0"',
        '[policy.approval] thresholds.USD: must be a number, got "lots"',
        "[telemetry] traces (PSFLOW_TRACES): must be one of 'none', 'console' or 'otlp', "
        'got "jaeger"',
    ]


def test_the_erp_is_netsuite_unless_kind_names_tryton_with_its_login_and_password(
    tmp_path: Path,
) -> None:
    default = Settings().erp
    assert (default.kind, default.login, default.password) == ("netsuite", "psflow", None)
    url = "http://127.0.0.1:8000/firm/rpc/"
    config = toml(tmp_path, f'[erp]\nkind = "tryton"\nurl = "{url}"\nlogin = "psflow-prod"\n')
    erp = load_settings(config, env={"PSFLOW_ERP_PASSWORD": "from-env"}).erp
    assert (erp.kind, erp.url, erp.login, erp.tryton_password()) == (
        "tryton", url, "psflow-prod", "from-env"
    )  # fmt: skip
    settings = load_settings(config, env={"PSFLOW_ERP_PASSWORD": "from-env"})
    assert "from-env" not in repr(settings)
    assert load_settings(env={"PSFLOW_ERP_KIND": "tryton"}).erp.kind == "tryton"


@pytest.mark.parametrize("where", ["toml", "env"])
def test_an_unknown_erp_kind_is_one_line_naming_the_key_and_the_variable(
    tmp_path: Path, where: str
) -> None:
    config = toml(tmp_path, '[erp]\nkind = "sap"\n' if where == "toml" else "")
    env = {"PSFLOW_ERP_KIND": "sap"} if where == "env" else {}
    with pytest.raises(ConfigError) as refused:
        load_settings(config, env=env)
    assert str(refused.value) == (
        "[erp] kind (PSFLOW_ERP_KIND): must be one of 'netsuite' or 'tryton', got \"sap\""
    )


def test_a_tryton_password_unset_or_empty_is_refused_naming_where_to_set_it() -> None:
    for env in ({"PSFLOW_ERP_KIND": "tryton"}, {"PSFLOW_ERP_PASSWORD": ""}):
        with pytest.raises(ConfigError) as refused:
            load_settings(env=env).erp.tryton_password()
        assert str(refused.value).startswith("[erp] password (PSFLOW_ERP_PASSWORD) is not set")


def test_unknown_sections_and_keys_in_the_file_are_ignored_as_before(tmp_path: Path) -> None:
    config = toml(tmp_path, '[nowhere]\nkey = 1\n[temporal]\nadress = "typo:7233"\n')
    assert load_settings(config, env={}) == load_settings(env={})


def test_a_nested_variable_sets_any_key_by_its_toml_path() -> None:
    env = {"PSFLOW_CRM__TIMEOUT_SECONDS": "5", "PSFLOW_ERP__SCOPES": '["rest_webservices", "x"]'}
    settings = load_settings(env=env)
    assert settings.crm.timeout_seconds == 5.0
    assert settings.crm.url == Settings().crm.url
    assert settings.erp.scopes == ["rest_webservices", "x"]
    with pytest.raises(ConfigError, match=r"^PSFLOW_ERP__SCOPES: a list or table must be JSON"):
        load_settings(env={"PSFLOW_ERP__SCOPES": "rest_webservices"})


def test_settings_built_in_code_read_neither_file_nor_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "psflow.toml").write_text('[temporal]\nnamespace = "file"\n')
    monkeypatch.setenv("PSFLOW_NAMESPACE", "env")
    assert Settings().temporal.namespace == "default"
    assert load_settings().temporal.namespace == "env"
