"""Where settings come from: the PSFLOW_* variables, their *_FILE secrets and the TOML file, as
pydantic-settings sources; and a bad value told as one line naming what a user writes.

config.py layers these (init > PSFLOW_* > PSFLOW_*_FILE > TOML > defaults).
"""

import json
import re
import tomllib
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsError,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "PSFLOW_CONFIG"
DEFAULT_CONFIG_FILE = "psflow.toml"
PREFIX = "PSFLOW_"
NESTED_DELIMITER = "__"
FILE_SUFFIX = "_FILE"


class ConfigError(Exception):
    """The configuration file or environment holds something unusable."""


# Flat environment variables and the nested setting each one sets.
ENV_KEYS: dict[str, tuple[str, ...]] = {
    "PSFLOW_TEMPORAL_ADDRESS": ("temporal", "address"),
    "PSFLOW_NAMESPACE": ("temporal", "namespace"),
    "PSFLOW_TASK_QUEUE": ("temporal", "task_queue"),
    "PSFLOW_UI_URL": ("temporal", "ui_url"),
    "PSFLOW_CRM_URL": ("crm", "url"),
    "PSFLOW_CRM_CLIENT_ID": ("crm", "client_id"),
    "PSFLOW_CRM_CLIENT_SECRET": ("crm", "client_secret"),
    "PSFLOW_ERP_URL": ("erp", "url"),
    "PSFLOW_ERP_CLIENT_ID": ("erp", "client_id"),
    "PSFLOW_ERP_CLIENT_SECRET": ("erp", "client_secret"),
    "PSFLOW_PSA_URL": ("psa", "url"),
    "PSFLOW_PSA_CLIENT_ID": ("psa", "client_id"),
    "PSFLOW_PSA_CLIENT_SECRET": ("psa", "client_secret"),
    "PSFLOW_HCM_URL": ("hcm", "url"),
    "PSFLOW_HCM_CLIENT_ID": ("hcm", "client_id"),
    "PSFLOW_HCM_CLIENT_SECRET": ("hcm", "client_secret"),
    "PSFLOW_HCM_TENANT": ("hcm", "tenant"),
    "PSFLOW_HCM_REFRESH_TOKEN": ("hcm", "refresh_token"),
    "PSFLOW_CRM_AUTH": ("crm", "auth"),
    "PSFLOW_CRM_USERNAME": ("crm", "username"),
    "PSFLOW_CRM_API_VERSION": ("crm", "api_version"),
    "PSFLOW_CRM_PRIVATE_KEY_FILE": ("crm", "private_key_file"),
    "PSFLOW_ERP_AUTH": ("erp", "auth"),
    "PSFLOW_ERP_CERTIFICATE_ID": ("erp", "certificate_id"),
    "PSFLOW_ERP_PRIVATE_KEY_FILE": ("erp", "private_key_file"),
    "PSFLOW_ERP_ACCOUNT": ("erp", "account"),
    "PSFLOW_ERP_TOKEN_ID": ("erp", "token_id"),
    "PSFLOW_ERP_TOKEN_SECRET": ("erp", "token_secret"),
    "PSFLOW_ERP_KIND": ("erp", "kind"),
    "PSFLOW_ERP_LOGIN": ("erp", "login"),
    "PSFLOW_ERP_PASSWORD": ("erp", "password"),
    "PSFLOW_WORKER_MAX_ACTIVITIES": ("worker", "max_concurrent_activities"),
    "PSFLOW_WORKER_MAX_WORKFLOW_TASKS": ("worker", "max_concurrent_workflow_tasks"),
    "PSFLOW_WORKER_ACTIVITY_POLLERS": ("worker", "activity_pollers"),
    "PSFLOW_WORKER_WORKFLOW_POLLERS": ("worker", "workflow_pollers"),
    "PSFLOW_WORKER_MAX_CACHED_WORKFLOWS": ("worker", "max_cached_workflows"),
    "PSFLOW_WORKER_EAGER_ACTIVITIES": ("worker", "eager_activities"),
    "PSFLOW_WORKER_SANDBOX_PASSTHROUGH": ("worker", "sandbox_passthrough"),
    "PSFLOW_WORKER_SHUTDOWN_GRACE_SECONDS": ("worker", "shutdown_grace_seconds"),
    "PSFLOW_CODEC_KEYS": ("codec", "keys"),
    "PSFLOW_CODEC_CURRENT": ("codec", "current"),
    "PSFLOW_CODEC_SERVER_TOKEN": ("codec", "server_token"),
    "PSFLOW_CODEC_PLAINTEXT": ("codec", "plaintext"),
    "PSFLOW_RECONCILE_EVERY": ("reconcile", "every"),
    "PSFLOW_RECONCILE_MAX_REPAIRS": ("reconcile", "max_repairs"),
    "PSFLOW_RECONCILE_UNPOSTED_AFTER_HOURS": ("reconcile", "unposted_after_hours"),
    "PSFLOW_RETRY_ERP": ("retry", "erp"),
    "PSFLOW_RETRY_CRM": ("retry", "crm"),
    "PSFLOW_RETRY_PSA": ("retry", "psa"),
    "PSFLOW_RETRY_HCM": ("retry", "hcm"),
    "PSFLOW_RETRY_STORE": ("retry", "store"),
    "PSFLOW_DATA_DIR": ("data_dir",),
    "PSFLOW_STORE_URL": ("store_url",),
    "PSFLOW_INGRESS_HOST": ("ingress", "host"),
    "PSFLOW_INGRESS_PORT": ("ingress", "port"),
    "PSFLOW_INGRESS_SECRET": ("ingress", "secret"),
    "PSFLOW_INGRESS_CRM_SECRET": ("ingress", "secrets", "crm"),
    "PSFLOW_INGRESS_HCM_SECRET": ("ingress", "secrets", "hcm"),
    "PSFLOW_INGRESS_PSA_SECRET": ("ingress", "secrets", "psa"),
    "PSFLOW_INGRESS_TOLERANCE_SECONDS": ("ingress", "tolerance_seconds"),
    "PSFLOW_INBOX_HOST": ("inbox", "host"),
    "PSFLOW_INBOX_PORT": ("inbox", "port"),
    "PSFLOW_INBOX_PUBLIC_URL": ("inbox", "public_url"),
    "PSFLOW_OIDC_WEB_CLIENT_SECRET": ("auth", "oidc", "web_client_secret"),
    "PSFLOW_SERVICE_NAME": ("telemetry", "service_name"),
    "PSFLOW_TRACES": ("telemetry", "traces"),
    "PSFLOW_OTLP_ENDPOINT": ("telemetry", "otlp_endpoint"),
    "PSFLOW_METRICS_ADDRESS": ("telemetry", "metrics_address"),
}

# Not a SecretStr, but a database URL carries its password.
_ALSO_SECRET = frozenset({"PSFLOW_STORE_URL"})
_VARIABLE_OF: dict[tuple[str | int, ...], str] = {path: var for var, path in ENV_KEYS.items()}


def _optional_of(annotation: Any) -> Any:
    """X for `X | None`, else the annotation itself."""
    args = [arg for arg in get_args(annotation) if arg is not type(None)]
    if get_origin(annotation) in (Union, types.UnionType) and len(args) == 1:
        return args[0]
    return annotation


def _model_of(annotation: Any) -> type[BaseModel] | None:
    inner = _optional_of(annotation)
    return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None


def annotation_at(model: type[BaseModel], path: Sequence[str | int]) -> Any:
    """The type at a setting's path (through sections, tables and lists); None if none."""
    annotation: Any = model
    for part in path:
        annotation = _optional_of(annotation)
        if (section := _model_of(annotation)) is not None:
            field: FieldInfo | None = section.model_fields.get(str(part))
            if field is None:
                return None
            annotation = field.annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        elif get_origin(annotation) is list:
            annotation = get_args(annotation)[0]
        else:
            return None
    return annotation


def _holds_secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(_holds_secret(arg) for arg in get_args(annotation))


def secret_variables(settings_cls: type[BaseModel]) -> list[str]:
    """The variables that carry a secret; each of them may be given as <name>_FILE too."""
    return [
        var
        for var, path in ENV_KEYS.items()
        if var in _ALSO_SECRET or _holds_secret(annotation_at(settings_cls, path))
    ]


def _put(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data.setdefault(key, {})
    data[path[-1]] = value


class FlatEnvSource(PydanticBaseSettingsSource):
    """The documented PSFLOW_* names (ENV_KEYS), spelled exactly so."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.env = env

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the whole table at once

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for var, path in ENV_KEYS.items():
            if var in self.env:
                _put(data, path, self.env[var])
        return data


class SecretFileSource(FlatEnvSource):
    """PSFLOW_<NAME>_FILE: a secret read from the file it names, as Docker and Kubernetes
    mount them (the trailing newline stripped)."""

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for var in secret_variables(self.settings_cls):
            file_var = var + FILE_SUFFIX
            if file_var not in self.env:
                continue
            if var in self.env:
                raise ConfigError(f"{var} and {file_var} are both set: keep one of them")
            path = Path(self.env[file_var])
            try:
                value = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                raise ConfigError(f"{file_var}: cannot read {path}: {reason}") from None
            _put(data, ENV_KEYS[var], value.rstrip("\r\n"))
        return data


class NestedEnvSource(EnvSettingsSource):
    """PSFLOW_<SECTION>__<KEY>: any setting by its TOML path, e.g. PSFLOW_CRM__TIMEOUT_SECONDS
    (lists and tables as JSON), read from the given environment rather than os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        # Only the delimited names: the flat ones are FlatEnvSource's.
        self._given = {
            name.lower(): value
            for name, value in env.items()
            if name.upper().startswith(PREFIX) and NESTED_DELIMITER in name[len(PREFIX) :]
        }
        super().__init__(
            settings_cls,
            case_sensitive=False,
            env_prefix=PREFIX,
            env_nested_delimiter=NESTED_DELIMITER,
        )

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._given

    def __call__(self) -> dict[str, Any]:
        try:
            return super().__call__()
        except SettingsError as exc:  # a list or table that is not JSON; name its variables
            field = re.search(r'field "([^"]+)"', str(exc))
            start = f"{PREFIX}{field[1] if field else ''}{NESTED_DELIMITER}".lower()
            names = sorted(name.upper() for name in self._given if name.startswith(start))
            raise ConfigError(
                f"{', '.join(names) or str(exc)}: a list or table must be JSON, e.g. "
                '["a", "b"] or {"key": "value"}'
            ) from None


def toml_source(
    settings_cls: type[BaseSettings], config_file: Path | None, env: Mapping[str, str]
) -> TomlConfigSettingsSource:
    """--config FILE, else $PSFLOW_CONFIG, else ./psflow.toml if it is there."""
    path = config_file or Path(env.get(CONFIG_ENV, DEFAULT_CONFIG_FILE))
    named = config_file is not None or CONFIG_ENV in env
    if named and not path.exists():
        raise ConfigError(f"config file {path} does not exist: create it or unset {CONFIG_ENV}")
    if path.exists() and not path.is_file():
        raise ConfigError(f"config file {path} is not a file")
    try:
        return TomlConfigSettingsSource(settings_cls, toml_file=path)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None


def layers(
    settings_cls: type[BaseSettings], config_file: Path | None, env: Mapping[str, str]
) -> tuple[PydanticBaseSettingsSource, ...]:
    """The sources below init kwargs, highest first (pydantic-settings adds the defaults)."""
    return (
        FlatEnvSource(settings_cls, env),
        NestedEnvSource(settings_cls, env),
        SecretFileSource(settings_cls, env),
        toml_source(settings_cls, config_file, env),
    )


# What to write instead, by pydantic's error type.
_FIXES = {
    "missing": "must be set",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "decimal_parsing": "must be a number",
    "decimal_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "list_type": "must be a list",
    "time_delta_parsing": "must be a duration, e.g. '2h', '30m' or 'PT2H'",
    "time_delta_type": "must be a duration, e.g. '2h', '30m' or 'PT2H'",
    "date_parsing": "must be a date, e.g. 2026-01-31",
    "date_from_datetime_parsing": "must be a date, e.g. 2026-01-31",
    "path_type": "must be a path",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "must be at least"),
    "greater_than": ("gt", "must be more than"),
    "less_than_equal": ("le", "must be at most"),
    "less_than": ("lt", "must be less than"),
}


def _where(settings_cls: type[BaseModel], loc: tuple[str | int, ...]) -> str:
    """`[section] key` as the TOML file spells it (a dotted key inside tables and lists)."""
    section: list[str] = []
    model: type[BaseModel] | None = settings_cls
    rest = list(loc)
    while rest and model is not None:
        part = rest[0]
        field = model.model_fields.get(part) if isinstance(part, str) else None
        inner = _model_of(field.annotation) if field else None
        if inner is None or not isinstance(part, str):
            break
        section.append(part)
        rest.pop(0)
        model = inner
    key = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" if n else part
        for n, part in enumerate(rest)
    )
    table = f"[{'.'.join(section)}]" if section else ""
    return " ".join(part for part in (table, key) if part) or "settings"


def _shown(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fix(error: ErrorDetails) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _FIXES:
        return _FIXES[kind]
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind in _BOUNDS:
        bound, words = _BOUNDS[kind]
        return f"{words} {ctx.get(bound)}"
    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message[:1].lower() + message[1:]


def problem_lines(error: ValidationError, settings_cls: type[BaseModel]) -> list[str]:
    """One line per bad value: where it is written, the variable that sets it, the fix."""
    lines = []
    for detail in error.errors(include_url=False):
        loc = tuple(detail["loc"])
        var = next(
            (_VARIABLE_OF[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in _VARIABLE_OF),
            None,
        )
        secret = var in _ALSO_SECRET or _holds_secret(annotation_at(settings_cls, loc))
        line = _where(settings_cls, loc) + (f" ({var})" if var else "") + ": " + _fix(detail)
        value = detail.get("input")
        told = repr(value) in line or _shown(value) in line  # the message quotes it already
        if detail["type"] != "missing" and not secret and not told:
            line += f", got {_shown(value)}"
        lines.append(line)
    return lines
