"""Server configuration: one settings class, read once from the environment and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from fleet_server.missions.charging import ChargingClass

ENV_PREFIX = "FLEET_"
MIN_JWT_SECRET_CHARS = 32
MIN_PASSWORD_CHARS = 12


class MqttEndpoint(BaseModel):
    """A broker address parsed from `FLEET_MQTT_URL`, with the client's credentials and TLS."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    """CA certificates to trust (None: the system's)."""
    cert_file: Path | None = None
    """Client certificate, for brokers that require one."""
    key_file: Path | None = None


def parse_mqtt_url(url: str) -> MqttEndpoint:
    """Parse `mqtt://user:pass@host:port` or `mqtts://…` into an endpoint."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(
            f"scheme must be mqtt:// or mqtts:// (or the word 'embedded'), got {url!r}"
        )
    if not parts.hostname:
        raise ValueError(f"no host in {url!r}")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise ValueError(f"invalid port in {url!r}") from exc
    return MqttEndpoint(
        host=parts.hostname,
        port=port,
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class Settings(BaseSettings):
    """Everything the server reads from its environment (prefix `FLEET_`)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("./var")
    database_url: str = ""
    mqtt_url: str = "embedded"
    embedded_mqtt_port: int = Field(default=1883, ge=0, le=65535)
    embedded_mqtt_broker: Literal["auto", "mosquitto", "amqtt"] = "auto"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    vda_interface: str = "uagv"
    robot_offline_factor: float = Field(default=1.5, gt=1.0)
    """A robot is offline when silent for this many times its keepalive."""
    robot_keepalive_s: float = Field(default=10.0, gt=0)
    """Keepalive assumed for robots (the broker's last will fires at 1.5 × keepalive)."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    telemetry_interval_s: float = Field(default=10.0, gt=0, le=3600)
    """Telemetry history keeps at most one sample per robot per this many seconds."""
    telemetry_retention_days: int = Field(default=30, ge=1, le=3650)
    """Telemetry samples older than this are deleted."""
    log_format: Literal["auto", "text", "json"] = "auto"
    """`json`: one JSON object per line; `auto`: json in production, text elsewhere."""
    metrics_public: bool = True
    """Serve /metrics without credentials; when false it needs the viewer role somewhere."""
    live_flush_interval_s: float = Field(default=0.1, gt=0, le=5)
    """How often the live stream sends each client its batched changes."""
    live_robot_max_hz: float = Field(default=5.0, gt=0, le=50)
    """Most updates per second the live stream sends about one robot."""
    live_outbox_frames: int = Field(default=4, ge=1, le=1000)
    """Frames one live client may have waiting; then its updates coalesce."""
    live_stall_timeout_s: float = Field(default=10.0, gt=0)
    """A live client that reads nothing this long while updates wait is disconnected."""
    live_auth_timeout_s: float = Field(default=10.0, gt=0)
    live_reauth_interval_s: float = Field(default=60.0, gt=0)
    """How often a live connection re-checks that its token is still valid."""
    mission_reassign_after_s: float = Field(default=60.0, gt=0, le=3600)
    """A mission whose robot is offline (or lost the order) this long goes to another robot."""
    dispatch_replan_interval_s: float = Field(default=5.0, gt=0, le=3600)
    """The dispatcher re-plans each site at least this often (and on every fleet change)."""
    charging_default: ChargingClass = Field(default_factory=ChargingClass)
    """When robots charge: threshold, resume level, reserve, planning drain (JSON object)."""
    charging_classes: dict[str, ChargingClass] = Field(default_factory=dict)
    """Per robot kind, overriding `charging_default` (JSON object: kind → class)."""
    schedule_horizon_s: float = Field(default=3600.0, ge=0, le=7 * 86_400)
    """Scheduled missions are created this far ahead of their occurrence."""
    schedule_lateness_s: float = Field(default=600.0, gt=0, le=86_400)
    """An occurrence found this long after its time (the server was down) is recorded as
    missed, not run late."""
    schedule_tick_s: float = Field(default=30.0, gt=0, le=3600)
    """How often schedules are looked at; it must be shorter than the lateness."""
    webhook_max_attempts: int = Field(default=8, ge=1, le=100)
    """Tries of one webhook delivery before it becomes a dead letter."""
    webhook_backoff_base_s: float = Field(default=5.0, gt=0, le=3600)
    """Wait after the first failed try; it doubles per try (with jitter) up to the maximum."""
    webhook_backoff_max_s: float = Field(default=3600.0, gt=0, le=86_400)
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=120)
    """How long a receiver may take to answer one delivery."""
    webhook_retention_days: int = Field(default=7, ge=1, le=3650)
    """Delivered events older than this are deleted (dead letters stay until handled)."""
    feed_mqtt_url: str | None = None
    """External broker (`mqtt://…`, `mqtts://…`) the feed events are bridged to; unset: none."""
    feed_mqtt_topic_prefix: str = Field(default="fleet/events", pattern=r"^[^+#]+$", max_length=200)
    """Topic prefix of the bridged events: `{prefix}/{site}/{type with / for .}`."""
    jwt_secret: SecretStr | None = None
    """HS256 key for access tokens; outside production one is generated per data dir."""
    admin_password: SecretStr | None = None
    """Password for the first `admin`, created at startup when there are no users yet."""
    access_token_ttl_s: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl_s: int = Field(default=43_200, ge=60, le=2_592_000)
    argon2_profile: Literal["standard", "fast-insecure"] = "standard"
    """Cost of password hashing; `fast-insecure` is for test suites and refused in production."""
    login_max_failures: int = Field(default=5, ge=1)
    """Failed logins per username and client before that pair is locked out."""
    account_max_failures: int = Field(default=20, ge=1)
    """Failed logins per account (any client) before the account is locked out."""
    login_lockout_base_s: float = Field(default=30.0, gt=0)
    """First lockout; each further failure doubles it, up to `login_lockout_max_s`."""
    login_lockout_max_s: float = Field(default=3600.0, gt=0)
    login_rate_per_client: int = Field(default=60, ge=1, le=100_000)
    """Sign-in and refresh attempts per client address per minute; beyond it 429."""
    login_rate_per_username: int = Field(default=20, ge=1, le=100_000)
    """Sign-in attempts per username per minute (from any address); beyond it 429."""
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    """Largest HTTP request body; a larger one is refused (413) before it is read."""
    http_max_site_import_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    """Largest site import (`POST /api/v1/sites`: map file and floor-plan images together)."""
    http_cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Other web origins allowed to call the API from a browser (comma-separated); none by
    default, so a foreign page gets no `Access-Control-Allow-Origin`."""
    http_behind_tls_proxy: bool = False
    """Browsers reach the server over HTTPS through a reverse proxy: send HSTS on every
    response (it is always sent on requests that arrive over TLS)."""
    mqtt_username: str = Field(default="fleet-server", min_length=1, pattern=r"^[^/:\s]+$")
    """The server's MQTT account when `FLEET_MQTT_URL` names none (docs/security.md)."""
    mqtt_password: SecretStr | None = None
    """Its password; the embedded broker generates one per start when unset."""
    mqtt_ca_file: Path | None = None
    """CA certificates the server trusts for an `mqtts://` broker (default: the system's)."""
    mqtt_client_cert_file: Path | None = None
    """Client certificate the server presents to the broker, if it asks for one."""
    mqtt_client_key_file: Path | None = None
    mqtt_max_payload_bytes: int = Field(default=256 * 1024, ge=1024, le=256 * 1024 * 1024)
    """Largest MQTT payload accepted; the broker's packet limit leaves room for the topic."""
    embedded_mqtt_auth: Literal["auto", "on", "off"] = "auto"
    """Per-robot accounts and ACL on the embedded broker; `auto`: on with Mosquitto, off
    with amqtt (which cannot enforce them; `on` refuses to start with it)."""
    broker_tls_port: int | None = Field(default=None, ge=1, le=65535)
    """A TLS listener on the embedded broker (and in `fleet broker config`)."""
    broker_tls_cert_file: Path | None = None
    broker_tls_key_file: Path | None = None
    broker_tls_ca_file: Path | None = None
    """CA that signs robots' client certificates (needed with `broker_tls_require_client_cert`)."""
    broker_tls_require_client_cert: bool = False

    @field_validator("vda_interface")
    @classmethod
    def _interface_is_a_topic_level(cls, value: str) -> str:
        if not value or any(ch in value for ch in "/+#"):
            raise ValueError("must be one MQTT topic level without '/', '+' or '#'")
        return value

    @field_validator("http_cors_origins", mode="before")
    @classmethod
    def _cors_origins_are_origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            for origin in value:
                parts = urlsplit(str(origin))
                if (
                    parts.scheme not in ("http", "https")
                    or not parts.netloc
                    or parts.path not in ("", "/")
                    or parts.query
                    or parts.fragment
                ):
                    raise ValueError(f"{origin!r} is not an origin like https://host[:port]")
            value = [str(origin).rstrip("/") for origin in value]
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url_is_valid(cls, value: str) -> str:
        if value != "embedded":
            parse_mqtt_url(value)
        return value

    @field_validator("feed_mqtt_url")
    @classmethod
    def _feed_mqtt_url_is_valid(cls, value: str | None) -> str | None:
        if value:
            parse_mqtt_url(value)
        return value or None

    @field_validator("database_url")
    @classmethod
    def _database_url_is_supported(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _jwt_secret_is_long(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_JWT_SECRET_CHARS:
            raise ValueError(
                f"{ENV_PREFIX}JWT_SECRET must be at least {MIN_JWT_SECRET_CHARS} characters"
            )
        return value

    @field_validator("admin_password")
    @classmethod
    def _admin_password_is_long(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_PASSWORD_CHARS:
            raise ValueError(
                f"{ENV_PREFIX}ADMIN_PASSWORD must be at least {MIN_PASSWORD_CHARS} characters"
            )
        return value

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'fleet.db').as_posix()}"
        return self

    @model_validator(mode="after")
    def _schedule_tick_within_lateness(self) -> Settings:
        if self.schedule_tick_s >= self.schedule_lateness_s:
            raise ValueError(
                f"{ENV_PREFIX}SCHEDULE_TICK_S must be shorter than {ENV_PREFIX}SCHEDULE_LATENESS_S "
                "(or occurrences would be missed while the server runs)"
            )
        return self

    @model_validator(mode="after")
    def _production_is_hardened(self) -> Settings:
        if self.environment != "production":
            return self
        if self.jwt_secret is None:
            raise ValueError(
                f"{ENV_PREFIX}JWT_SECRET is required in production "
                f"(at least {MIN_JWT_SECRET_CHARS} random characters)"
            )
        if self.argon2_profile != "standard":
            raise ValueError(f"{ENV_PREFIX}ARGON2_PROFILE must be 'standard' in production")
        return self

    @model_validator(mode="after")
    def _broker_tls_is_complete(self) -> Settings:
        if self.broker_tls_port is not None and (
            self.broker_tls_cert_file is None or self.broker_tls_key_file is None
        ):
            raise ValueError(
                f"{ENV_PREFIX}BROKER_TLS_PORT needs {ENV_PREFIX}BROKER_TLS_CERT_FILE "
                f"and {ENV_PREFIX}BROKER_TLS_KEY_FILE"
            )
        if self.broker_tls_require_client_cert and self.broker_tls_ca_file is None:
            raise ValueError(
                f"{ENV_PREFIX}BROKER_TLS_REQUIRE_CLIENT_CERT needs {ENV_PREFIX}BROKER_TLS_CA_FILE"
            )
        return self

    @property
    def effective_log_format(self) -> Literal["text", "json"]:
        """The log format in force (`auto` resolved by environment)."""
        if self.log_format == "auto":
            return "json" if self.environment == "production" else "text"
        return self.log_format

    @property
    def uses_embedded_broker(self) -> bool:
        """True when the server runs its own broker."""
        return self.mqtt_url == "embedded"

    def mqtt_endpoint(self) -> MqttEndpoint:
        """Where the server's MQTT client connects."""
        if self.uses_embedded_broker:
            endpoint = MqttEndpoint(host="127.0.0.1", port=self.embedded_mqtt_port)
        else:
            endpoint = parse_mqtt_url(self.mqtt_url)
        if endpoint.username is None and self.mqtt_password is not None:
            endpoint.username = self.mqtt_username
            endpoint.password = self.mqtt_password.get_secret_value()
        endpoint.ca_file = self.mqtt_ca_file
        endpoint.cert_file = self.mqtt_client_cert_file
        endpoint.key_file = self.mqtt_client_key_file
        return endpoint


class SettingsError(Exception):
    """Configuration that cannot be used; the message names the environment variable."""


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning validation errors into messages that name `FLEET_*` variables."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            lines.append(f"{ENV_PREFIX}{field.upper()}: {error['msg']}")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from exc
