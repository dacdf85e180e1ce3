"""Settings, read once with pydantic-settings: defaults, then a TOML file, then PSFLOW_*_FILE
secrets, then PSFLOW_* environment variables (config_sources.py has the table and the sources).

Secrets come only from the file or the environment, never from workflow payloads.
"""

import os
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from config_sources import CONFIG_ENV as CONFIG_ENV
from config_sources import DEFAULT_CONFIG_FILE as DEFAULT_CONFIG_FILE
from config_sources import ENV_KEYS as ENV_KEYS
from config_sources import ConfigError as ConfigError
from config_sources import layers, problem_lines
from models.policy import (
    ApprovalLevel,
    ApprovalPolicy,
    BillingPolicy,
    ChangeOrderPolicy,
    DealPolicy,
    StaffingPolicy,
    User,
)
from models.reconcile import ReconcilePolicy, parse_every
from sandbox import catalog

# What load_settings is reading (the file named, the environment); unset: Settings() in code.
_READING: ContextVar[tuple[Path | None, Mapping[str, str]] | None] = ContextVar(
    "psflow_settings_reading", default=None
)


class TemporalSettings(BaseModel):
    address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "psflow"
    ui_url: str = "http://localhost:8233"


class SystemSettings(BaseModel):
    url: str
    client_id: str = "psflow"
    client_secret: SecretStr | None = None
    concurrency: int = 5
    timeout_seconds: float = 30.0

    def secret(self, section: str) -> str:
        """The client secret, or a ConfigError naming where to set it."""
        if self.client_secret is None or not self.client_secret.get_secret_value():
            raise ConfigError(f"[{section}] client_secret is not set: this auth needs it")
        return self.client_secret.get_secret_value()


class CrmSettings(SystemSettings):
    """`[crm]`: Salesforce. `url` is where tokens are asked for (https://login.salesforce.com,
    https://test.salesforce.com or the org's My Domain); API calls go to the `instance_url`
    the token response names."""

    auth: Literal["jwt-bearer", "client-credentials"] = "jwt-bearer"
    username: str = "psflow-integration@sandbox.example"
    """The integration user the JWT bearer flow acts as (pre-authorized for the app)."""
    private_key_file: Path | None = None
    """The key of the certificate uploaded to the connected app (PEM, RSA); default: the
    sandbox's demo key, <data_dir>/keys/crm.pem."""
    audience: str | None = None
    """The assertion's `aud`: https://login.salesforce.com or https://test.salesforce.com;
    default: `url`."""
    client_auth: Literal["basic", "body"] = "basic"
    """How client credentials are sent: HTTP Basic, or client_id/client_secret in the body."""
    api_version: str = "v60.0"


class ErpSettings(SystemSettings):
    """`[erp]`: NetSuite, by OAuth 2.0 client credentials (M2M) or token-based auth; or Tryton,
    by its JSON-RPC login."""

    kind: Literal["netsuite", "tryton"] = "netsuite"
    """Which ERP: netsuite, `url` the account's REST host; tryton, `url` the database's
    JSON-RPC URL, http://host:port/<database>/rpc/."""
    login: str = "psflow"
    """Tryton: the integration user's login."""
    password: SecretStr | None = None
    """Tryton: the integration user's password."""
    auth: Literal["m2m", "tba"] = "m2m"
    certificate_id: str = "psflow-sandbox-certificate"
    """The id NetSuite gave the certificate (OAuth 2.0 Client Credentials Setup)."""
    private_key_file: Path | None = None
    """The certificate's private key (PEM, EC P-256 for ES256, RSA for PS256); default: the
    sandbox's demo key, <data_dir>/keys/erp.pem."""
    algorithm: Literal["ES256", "PS256"] = "ES256"
    scopes: list[str] = Field(default_factory=lambda: ["rest_webservices"])
    account: str = "SANDBOX"
    """The account id, e.g. 1234567_SB1: the realm of a TBA signature."""
    token_id: str = "sandbox-token"
    """TBA: the access token's id (with client_id and client_secret as the consumer's)."""
    token_secret: SecretStr | None = SecretStr("sandbox-token-secret")

    def tryton_password(self) -> str:
        """The Tryton user's password, or a ConfigError naming where to set it."""
        if self.password is None or not self.password.get_secret_value():
            raise ConfigError(
                "[erp] password (PSFLOW_ERP_PASSWORD) is not set: Tryton needs the integration "
                "user's password"
            )
        return self.password.get_secret_value()


class HcmSettings(SystemSettings):
    """`[hcm]`: Workday, by the refresh-token grant of an API client."""

    tenant: str = catalog.HCM_TENANT
    """The Workday tenant in every API path (/ccx/api/v1/{tenant}/...)."""
    refresh_token: SecretStr | None = None
    """The integration system user's refresh token, from the API client's registration."""


class IngressSettings(BaseModel):
    """`psflow ingress`: where it listens, and how it checks each event's signature."""

    host: str = "127.0.0.1"
    port: int = 8710
    secrets: dict[str, SecretStr] = Field(default_factory=dict)
    """Per sending system (crm, hcm, psa): the secret only that system signs its events with,
    so a secret that leaks from one system cannot forge another's events."""
    secret: SecretStr | None = None
    """For a system without its own secret in `secrets`. `psflow ingress` refuses to start
    while a system has neither (`psflow dev` and `demo` make a random one per system)."""

    def secret_for(self, system: str) -> str | None:
        own = self.secrets.get(system) or self.secret
        return own.get_secret_value() if own and own.get_secret_value() else None

    tolerance_seconds: int = 300
    """How old a signature's timestamp may be (and how long a seen signature is remembered)."""


class InboxSettings(BaseModel):
    """`psflow inbox`: the approvers' web pages."""

    host: str = "127.0.0.1"
    port: int = 8720
    public_url: str | None = None
    """The address people open it at, e.g. https://inbox.example.com behind a TLS proxy
    (sign-in redirects come back there); default http://<host>:<port>."""

    @property
    def url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


class OidcSettings(BaseModel):
    """`[auth.oidc]`: the provider psflow trusts to say who people are."""

    issuer: str
    """The provider's issuer URL, e.g. https://login.example.com/realms/firm."""
    client_id: str
    """The public (native) client registered for the CLI, with the device grant allowed."""
    scopes: str = "openid profile"
    user_claim: str = "preferred_username"
    """The claim holding the psflow user name (as the policy's users name them)."""
    groups_claim: str = "groups"
    group_roles: dict[str, str] = Field(default_factory=dict)
    """Provider group -> psflow role, e.g. {"Finance Approvers" = "finance"}."""
    web_client_id: str | None = None
    """The web client registered for the inbox (authorization code flow, redirect URI
    <[inbox] public_url>/signin/callback); default: client_id."""
    web_client_secret: SecretStr | None = None
    """The web client's secret, sent by HTTP Basic; none: a public client (PKCE only)."""

    @property
    def web_client(self) -> str:
        return self.web_client_id or self.client_id


class AuthSettings(BaseModel):
    """How people prove who they are: local accounts always; `[auth.oidc]` adds a provider."""

    oidc: OidcSettings | None = None


class SandboxSettings(BaseModel):
    host: str = "127.0.0.1"
    crm_port: int = 8701
    erp_port: int = 8702
    psa_port: int = 8703
    hcm_port: int = 8704
    event_webhook_url: str | None = None
    """The ingress's events URL, e.g. http://127.0.0.1:8710/events: the sandbox CRM, HCM and
    PSA deliver their events to <url>/crm, /hcm and /psa, signed with [ingress] secret
    (none: events are only recorded; `psflow dev` and `demo` then use their own ingress)."""
    erp_concurrency_limit: int = 5


class WorkerSettings(BaseModel):
    """How much one worker process runs at once (measured in bench/README.md)."""

    max_concurrent_activities: int = Field(default=100, ge=1)
    max_concurrent_workflow_tasks: int = Field(default=100, ge=1)
    activity_pollers: int = Field(default=5, ge=1)
    """Concurrent long polls for activity tasks."""
    workflow_pollers: int = Field(default=5, ge=1)
    """Concurrent long polls for workflow tasks (sticky and normal queues together)."""
    max_cached_workflows: int = Field(default=400, ge=0)
    """Workflows kept in memory between tasks; more are replayed from history when needed.
    The worker's memory bound: about 200 KiB a cached run, while a run woken from history
    (an approval for one of a thousand waiting) replays its few dozen events in milliseconds."""
    eager_activities: bool = True
    """Run an activity the workflow schedules in this worker at once, without a poll."""
    sandbox_passthrough: bool = False
    """Pass every module through the workflow sandbox instead of re-importing per run: less
    memory per run, but the sandbox no longer catches non-deterministic calls."""
    shutdown_grace_seconds: float = Field(default=30, ge=0)
    """On SIGTERM, how long activities in flight may run on before they are cancelled and
    handed back to Temporal (which runs them again on another worker)."""


class CodecSettings(BaseModel):
    """Payload encryption (security/codec.py): off while `keys` is empty."""

    keys: dict[str, SecretStr] = {}
    """Key id -> 32 bytes, base64; every listed key decrypts, `current` encrypts."""
    current: str | None = None
    server_token: SecretStr | None = None
    """The bearer token `psflow codec-server` requires (none: the server refuses to start)."""
    server_host: str = "127.0.0.1"
    server_port: int = 8081
    cors_origins: list[str] = []
    """Web UI origins allowed to call the codec server (none: [temporal] ui_url)."""
    plaintext: bool = False
    """Let a worker run without keys against a Temporal on another machine (pay data in
    clear in its history). Without keys a worker runs only against a Temporal on this one."""

    @field_validator("keys", mode="before")
    @classmethod
    def _keys_from_env(cls, value: Any) -> Any:
        """PSFLOW_CODEC_KEYS holds `id=base64,id=base64`."""
        if isinstance(value, str):
            pairs = [item.partition("=") for item in value.split(",") if item.strip()]
            return {key.strip(): secret.strip() for key, _, secret in pairs}
        return value


class ReconcileSettings(ReconcilePolicy):
    """`[reconcile]`: the schedule's interval and the reconciliation policy."""

    every: timedelta = timedelta(hours=1)
    """How often the schedule runs it: '1h', '30m', '1d', 'PT1H' or seconds."""

    @field_validator("every", mode="before")
    @classmethod
    def _every(cls, value: Any) -> Any:
        return parse_every(value)

    @field_validator("every")
    @classmethod
    def _at_least_a_minute(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1):
            raise ValueError("every must be at least 1 minute, e.g. '1h'")
        return value

    def policy(self) -> ReconcilePolicy:
        """What the workflow needs (the interval is the schedule's business)."""
        return ReconcilePolicy.model_validate(self.model_dump(exclude={"every"}))


class RetrySettings(BaseModel):
    """`[retry]`: how long transient trouble with each system is waited out before a step
    fails for good and its saga compensates ('6h', '30m', 'PT2H' or seconds)."""

    erp: timedelta = timedelta(hours=6)
    """NetSuite's maintenance windows last hours."""
    crm: timedelta = timedelta(hours=2)
    psa: timedelta = timedelta(hours=2)
    hcm: timedelta = timedelta(hours=2)
    store: timedelta = timedelta(minutes=30)
    """psflow's own database, and any failure that names no system."""

    @field_validator("erp", "crm", "psa", "hcm", "store", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_every(value)

    @field_validator("erp", "crm", "psa", "hcm", "store")
    @classmethod
    def _at_least_a_second(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("a retry window must be at least 1 second, e.g. '2h'")
        return value

    def windows(self) -> dict[str, timedelta]:
        return self.model_dump()


class TelemetrySettings(BaseModel):
    """`[telemetry]`: where traces go and where the worker serves its metrics."""

    service_name: str = "psflow"
    traces: Literal["none", "console", "otlp"] = "none"
    """none: no tracing; console: spans printed to stderr; otlp: sent to `otlp_endpoint`."""
    otlp_endpoint: str = "http://localhost:4318/v1/traces"
    """An OTLP/HTTP traces endpoint (a collector, Jaeger, Tempo, ...)."""
    metrics_address: str | None = None
    """host:port where the worker serves Prometheus metrics at /metrics (none: off)."""

    @field_validator("metrics_address")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if not value:
            return None
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"metrics_address {value!r} must be host:port, e.g. 127.0.0.1:9464")
        return value


_SUBSIDIARIES = {code: sub for code, (sub, _, _) in catalog.LEGAL_ENTITIES.items()}
_USERS = [
    User(name=name, crm_user_id=crm_id, roles=roles)
    for name, (crm_id, _, roles) in catalog.USERS.items()
]


class Settings(BaseSettings):
    """Every setting. `Settings(...)` in code is the defaults and what it is given;
    `load_settings()` reads the file and the environment."""

    model_config = SettingsConfigDict(
        extra="ignore",  # unknown sections and keys in the file are ignored, as before
        validate_default=False,
        nested_model_default_partial_update=True,  # [crm] client_id alone keeps [crm] url
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """init > PSFLOW_* > PSFLOW_*_FILE > TOML (pydantic-settings adds the defaults last)."""
        reading = _READING.get()
        if reading is None:
            return (init_settings,)
        return (init_settings, *layers(settings_cls, *reading))

    temporal: TemporalSettings = TemporalSettings()
    crm: CrmSettings = CrmSettings(
        url="http://127.0.0.1:8701", client_secret=SecretStr("sandbox-crm-secret")
    )
    erp: ErpSettings = ErpSettings(
        url="http://127.0.0.1:8702", client_secret=SecretStr("sandbox-erp-secret")
    )
    psa: SystemSettings = SystemSettings(
        url="http://127.0.0.1:8703", client_secret=SecretStr("sandbox-psa-secret")
    )
    hcm: HcmSettings = HcmSettings(
        url="http://127.0.0.1:8704",
        client_secret=SecretStr("sandbox-hcm-secret"),
        refresh_token=SecretStr("sandbox-hcm-refresh-token"),
    )
    sandbox: SandboxSettings = SandboxSettings()
    ingress: IngressSettings = IngressSettings()
    auth: AuthSettings = AuthSettings()
    inbox: InboxSettings = InboxSettings()
    worker: WorkerSettings = WorkerSettings()
    codec: CodecSettings = CodecSettings()
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

    reconcile: ReconcileSettings = ReconcileSettings()
    retry: RetrySettings = RetrySettings()
    telemetry: TelemetrySettings = TelemetrySettings()

    def key_file(self, system: Literal["crm", "erp"]) -> Path:
        """The private key the system's auth signs with: as configured, else the demo key
        the sandbox made under data_dir."""
        configured = self.crm.private_key_file if system == "crm" else self.erp.private_key_file
        return configured or self.data_dir / "keys" / f"{system}.pem"

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{self.data_dir / 'psflow.db'}"


def load_settings(config_file: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Defaults, overlaid by the TOML file (if any), by PSFLOW_*_FILE secrets, then by PSFLOW_*
    variables; `env` instead of os.environ when given."""
    token = _READING.set((config_file, os.environ if env is None else env))
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError("\n".join(problem_lines(exc, Settings))) from None
    except SettingsError as exc:  # pydantic-settings' own refusals, in one line
        raise ConfigError(" ".join(str(exc).split())) from None
    finally:
        _READING.reset(token)
