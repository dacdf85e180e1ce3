"""Settings, read once: defaults, then a TOML file, then PSFLOW_* environment variables.

Secrets come only from the file or the environment, never from workflow payloads.
"""

import os
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from models.policy import (
    ApprovalLevel,
    ApprovalPolicy,
    BillingPolicy,
    ChangeOrderPolicy,
    DealPolicy,
    StaffingPolicy,
    User,
)
from sandbox import catalog

CONFIG_ENV = "PSFLOW_CONFIG"
DEFAULT_CONFIG_FILE = "psflow.toml"


class TemporalSettings(BaseModel):
    address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "psflow"
    ui_url: str = "http://localhost:8233"


class SystemSettings(BaseModel):
    url: str
    client_id: str = "psflow"
    client_secret: SecretStr
    concurrency: int = 5
    timeout_seconds: float = 30.0


class HcmSettings(SystemSettings):
    tenant: str = catalog.HCM_TENANT
    """The Workday tenant in every API path (/ccx/api/v1/{tenant}/...)."""


class SandboxSettings(BaseModel):
    host: str = "127.0.0.1"
    crm_port: int = 8701
    erp_port: int = 8702
    psa_port: int = 8703
    hcm_port: int = 8704
    event_webhook_url: str | None = None
    """Where the sandbox HCM delivers worker events (none: events are only recorded)."""
    erp_concurrency_limit: int = 5


_SUBSIDIARIES = {code: sub for code, (sub, _, _) in catalog.LEGAL_ENTITIES.items()}
_USERS = [
    User(name=name, crm_user_id=crm_id, roles=roles)
    for name, (crm_id, _, roles) in catalog.USERS.items()
]


class Settings(BaseModel):
    temporal: TemporalSettings = TemporalSettings()
    crm: SystemSettings = SystemSettings(
        url="http://127.0.0.1:8701", client_secret=SecretStr("sandbox-crm-secret")
    )
    erp: SystemSettings = SystemSettings(
        url="http://127.0.0.1:8702", client_secret=SecretStr("sandbox-erp-secret")
    )
    psa: SystemSettings = SystemSettings(
        url="http://127.0.0.1:8703", client_secret=SecretStr("sandbox-psa-secret")
    )
    hcm: HcmSettings = HcmSettings(
        url="http://127.0.0.1:8704", client_secret=SecretStr("sandbox-hcm-secret")
    )
    sandbox: SandboxSettings = SandboxSettings()
    data_dir: Path = Path(".psflow")
    store_url: str | None = None
    policy: DealPolicy = DealPolicy(
        approval=ApprovalPolicy(
            thresholds=catalog.APPROVAL_THRESHOLDS,
            deadline=timedelta(hours=48),
            escalation_grace=timedelta(hours=24),
            escalate_to="priya",
        ),
        legal_entities=_SUBSIDIARIES,
        currencies=catalog.CURRENCIES,
        billing_terms=catalog.BILLING_TERMS,
        billing_types=catalog.BILLING_TYPES,
        users=_USERS,
    )

    staffing: StaffingPolicy = StaffingPolicy(
        approval=ApprovalPolicy(
            role="resource-manager",
            thresholds={},
            deadline=timedelta(hours=24),
            escalation_grace=timedelta(hours=24),
            escalate_to="omar",
        ),
        departments={code: erp_id for code, (erp_id, _) in catalog.DEPARTMENTS.items()},
        cost_centers={code: entity for code, (entity, _) in catalog.COST_CENTERS.items()},
        legal_entities=_SUBSIDIARIES,
        roles=catalog.ROLES,
        users=_USERS,
    )

    billing: BillingPolicy = BillingPolicy(
        approval=ApprovalPolicy(
            role="finance",
            thresholds={},
            deadline=timedelta(hours=72),
            escalation_grace=timedelta(hours=48),
            escalate_to="greta",
        ),
        cost_centers={code: entity for code, (entity, _) in catalog.COST_CENTERS.items()},
        users=_USERS,
    )

    change_orders: ChangeOrderPolicy = ChangeOrderPolicy(
        approval=ApprovalPolicy(
            role="project-manager",
            thresholds={},
            deadline=timedelta(hours=48),
            escalation_grace=timedelta(hours=24),
            escalate_to="victor",
        ),
        levels=[
            ApprovalLevel(
                role="project-manager",
                deadline=timedelta(hours=48),
                escalation_grace=timedelta(hours=24),
                escalate_to="victor",
            ),
            ApprovalLevel(
                role="finance",
                deadline=timedelta(hours=48),
                escalation_grace=timedelta(hours=24),
                escalate_to="greta",
            ),
            ApprovalLevel(
                role="deal-desk",
                deadline=timedelta(hours=48),
                escalation_grace=timedelta(hours=24),
                escalate_to="priya",
            ),
        ],
        tiers=catalog.CHANGE_ORDER_TIERS,
        users=_USERS,
    )

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{self.data_dir / 'psflow.db'}"


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
    "PSFLOW_DATA_DIR": ("data_dir",),
    "PSFLOW_STORE_URL": ("store_url",),
}


class ConfigError(Exception):
    """The configuration file or environment holds something unusable."""


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(config_file: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Defaults, overlaid by the TOML file (if any), overlaid by PSFLOW_* variables."""
    env = dict(os.environ) if env is None else env
    data = Settings().model_dump(mode="python")
    for section in ("crm", "erp", "psa", "hcm"):
        data[section]["client_secret"] = data[section]["client_secret"].get_secret_value()
    path = config_file or Path(env.get(CONFIG_ENV, DEFAULT_CONFIG_FILE))
    if config_file is not None or CONFIG_ENV in env or path.exists():
        try:
            data = _merge(data, tomllib.loads(path.read_text()))
        except FileNotFoundError:
            raise ConfigError(
                f"config file {path} does not exist: create it or unset {CONFIG_ENV}"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    for var, keys in ENV_KEYS.items():
        if var in env:
            target = data
            for key in keys[:-1]:
                target = target[key]
            target[keys[-1]] = env[var]
    try:
        return Settings.model_validate(data)
    except ValueError as exc:
        raise ConfigError(f"configuration is invalid: {exc}") from None
