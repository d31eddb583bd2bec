"""Configuration of every shell process (worker, demo, delivery, acknowledgement client), from ``SAFETY_*`` variables.

One pydantic-settings model with a section per concern (``kafka``, ``topics``, ``worker``, ``web``, ``rules``,
``delivery``, ``auth``, ``feeds``, ``oidc``), so the Docker image, docker-compose and the CLI read the same
names. Each field is set by its documented variable (``SAFETY_WEB_PORT``, named in the field's
``validation_alias``) or by the nested form (``SAFETY_WEB__PORT``); a command-line option is an override of the
same field and passes the same validation. A value out of bounds is refused in one line naming the variable and
the value (``describe``); tokens and secrets are ``SecretStr`` and never quoted. The compose test
(tests/deploy/test_compose.py) checks that every ``SAFETY_*`` variable of the worker service is one of
``environment_variables()``.

Defaults are the development/demo ones (memory store, loopback web server); production sets the store to
``rocksdb://`` and the bootstrap servers of a real Kafka cluster (README, "Running in production").
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from safety.delivery.ledger import RetryPolicy
from safety.errors import SafetyError
from safety.rules.protocol import check_time_zone
from streams.web.auth import MAKE_ONE, parse_tokens, weakness

BUNDLED_RULES = Path(__file__).resolve().parents[1] / "rules"
"""rules/ beside the packages: a source checkout or the Docker image."""


class SettingsError(SafetyError, ValueError):
    """A ``SAFETY_*`` setting is out of its bounds; the message names the variable and what is allowed."""


def _var(field: str, variable: str) -> AliasChoices:
    """The field is set by its name (an override, ``SAFETY_<SECTION>__<FIELD>``) or by its documented variable."""
    return AliasChoices(field, variable)


def _strong_secret(value: SecretStr | None) -> SecretStr | None:
    problem = weakness(value.get_secret_value()) if value is not None and value.get_secret_value() else None
    if problem:
        raise ValueError(f"the secret {problem}; make one with {MAKE_ONE}")
    return value


def _strong_tokens(value: SecretStr | None) -> SecretStr | None:
    for token, role in parse_tokens(value.get_secret_value() if value is not None else None).items():
        problem = weakness(token)
        if problem:
            raise ValueError(f"the {role} token {problem}; make one with {MAKE_ONE}")
    return value


LinkSecret = Annotated[SecretStr | None, AfterValidator(_strong_secret)]
"""Unset or empty (links disabled), or strong enough (streams/web/auth.py, ``weakness``)."""


def _strong_secrets(value: SecretStr | None) -> SecretStr | None:
    for number, secret in enumerate((value.get_secret_value() if value is not None else "").split(","), 1):
        problem = weakness(secret.strip()) if secret.strip() else None
        if problem:
            raise ValueError(f"secret {number} {problem}; make one with {MAKE_ONE}")
    return value


RoleTokens = Annotated[SecretStr | None, AfterValidator(_strong_tokens)]
"""Unset, or 'role:token,...' with roles of streams/web/auth.py ``ROLES`` and every token strong enough."""
LinkSecrets = Annotated[SecretStr | None, AfterValidator(_strong_secrets)]
"""Unset, or 'secret,secret,...', each strong enough."""


def reveal(secret: SecretStr | None) -> str | None:
    """The secret's text where it is used (signing, comparing, sending), never where it is shown."""
    return secret.get_secret_value() if secret is not None else None


class _Section(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)  # a field given twice (override and variable): the first


class KafkaSettings(_Section):
    bootstrap: str | None = Field(
        None,
        validation_alias=_var("bootstrap", "SAFETY_KAFKA_BOOTSTRAP"),
        description="host:port[,host:port]; None = `safety demo` starts the embedded Tansu broker",
    )
    app_id: str = Field(
        "safety-surveillance",
        validation_alias=_var("app_id", "SAFETY_APP_ID"),
        description="faust app id = consumer group, changelog prefix",
    )
    partitions: int = Field(
        4,
        ge=1,
        validation_alias=_var("partitions", "SAFETY_PARTITIONS"),
        description="partitions of every topic (co-partitioned with the tables)",
    )
    replication: int = Field(
        1,
        ge=1,
        validation_alias=_var("replication", "SAFETY_REPLICATION"),
        description="replication factor of created topics (3 on a cluster)",
    )
    topics_file: Path | None = Field(
        None,
        validation_alias=_var("topics_file", "SAFETY_TOPICS_FILE"),
        description="deploy/kafka/topics.yaml; None = the bundled one",
    )
    session_timeout: float = Field(
        6.0,
        gt=0,
        validation_alias=_var("session_timeout", "SAFETY_SESSION_TIMEOUT"),
        description="consumer group session timeout (s); Tansu holds JoinGroup for half of it",
    )
    heartbeat_interval: float = Field(
        1.0, gt=0, validation_alias=_var("heartbeat_interval", "SAFETY_HEARTBEAT_INTERVAL")
    )
    commit_interval: float = Field(
        1.0,
        gt=0,
        validation_alias=_var("commit_interval", "SAFETY_COMMIT_INTERVAL"),
        description="offset commit interval (s): fewer redeliveries",
    )
    embedded_workarounds: bool | None = Field(
        None,
        validation_alias=_var("embedded_workarounds", "SAFETY_EMBEDDED_WORKAROUNDS"),
        description="Tansu-only settings (docs/decisions/embedded-broker.md); None = only on the embedded broker",
    )

    def bootstrap_url(self) -> str:
        """faust's broker URL form: ``kafka://h1:p1;h2:p2``."""
        if not self.bootstrap:
            raise ValueError(
                "SAFETY_KAFKA_BOOTSTRAP is not set: set it to host:port of a Kafka broker, "
                "or run `safety demo`, which starts the embedded broker"
            )
        return "kafka://" + ";".join(self.bootstrap_servers())

    def bootstrap_servers(self) -> list[str]:
        """kafka-python's form: a list of host:port."""
        return [h.strip() for h in (self.bootstrap or "").split(",") if h.strip()]


class TopicSettings(_Section):
    """Topic names by logical name (deploy/kafka/topics.yaml ``key``)."""

    events: str = Field("safety.events", validation_alias=_var("events", "SAFETY_TOPIC_EVENTS"))
    graded: str = Field("safety.graded", validation_alias=_var("graded", "SAFETY_TOPIC_GRADED"))
    alerts: str = Field("safety.alerts", validation_alias=_var("alerts", "SAFETY_TOPIC_ALERTS"))
    deadletter: str = Field("safety.deadletter", validation_alias=_var("deadletter", "SAFETY_TOPIC_DEADLETTER"))
    study: str = Field("safety.study", validation_alias=_var("study", "SAFETY_TOPIC_STUDY"))
    acks: str = Field("safety.acks", validation_alias=_var("acks", "SAFETY_TOPIC_ACKS"))
    deliveries: str = Field("safety.deliveries", validation_alias=_var("deliveries", "SAFETY_TOPIC_DELIVERIES"))
    delivery_commands: str = Field(
        "safety.delivery-commands",
        validation_alias=_var("delivery_commands", "SAFETY_TOPIC_DELIVERY_COMMANDS"),
        description="internal topic: alerts re-keyed by alert_id + sweeps",
    )
    ethics_feed: str = Field("safety.ethics-feed", validation_alias=_var("ethics_feed", "SAFETY_TOPIC_ETHICS_FEED"))
    audit: str = Field(
        "safety.audit",
        validation_alias=_var("audit", "SAFETY_TOPIC_AUDIT"),
        description="sign-ins, token uses and acknowledgements, append-only (streams/web/audit.py)",
    )

    def names(self) -> dict[str, str]:
        """Logical name -> configured topic name, for topics.yaml and the admin client."""
        return self.model_dump()


class WorkerSettings(_Section):
    """How the stream worker processes, stores state and stops."""

    plugins: str = Field(
        "streams.web.acks,streams.web.pages,streams.worker.heartbeat",
        validation_alias=_var("plugins", "SAFETY_PLUGINS"),
        description="modules whose register(app, ctx) adds agents/pages/timers; '' = none (bench)",
    )
    expected_check_seconds: float = Field(
        60.0,
        gt=0,
        validation_alias=_var("expected_check_seconds", "SAFETY_EXPECTED_CHECK_SECONDS"),
        description="seconds between the heartbeat's checks of expected data and silent feeds",
    )
    feed_silence_hours: float | None = Field(
        None,
        gt=0,
        validation_alias=_var("feed_silence_hours", "SAFETY_FEED_SILENCE_HOURS"),
        description="a source quiet this long raises FEED_SILENT; None = the study schedule's silence_limit_hours",
    )
    batch_max: int = Field(
        1000,
        ge=1,
        validation_alias=_var("batch_max", "SAFETY_BATCH_MAX"),
        description="subject events processed per batch at most (one state write per subject and batch)",
    )
    batch_wait: float = Field(
        0.02,
        gt=0,
        validation_alias=_var("batch_wait", "SAFETY_BATCH_WAIT"),
        description="seconds a batch waits for more events before it is processed (adds latency)",
    )
    stall_seconds: float = Field(
        20.0,
        gt=0,
        validation_alias=_var("stall_seconds", "SAFETY_STALL_SECONDS"),
        description="records waiting and no commit for this long: re-seek the partition (watchdog)",
    )
    broker_down_exit_seconds: float = Field(
        30.0,
        gt=0,
        validation_alias=_var("broker_down_exit_seconds", "SAFETY_BROKER_DOWN_EXIT_SECONDS"),
        description="broker unreachable this long: the worker exits with code 75 (streams/worker/health.py)",
    )
    shutdown_seconds: float = Field(
        30.0,
        gt=0,
        validation_alias=_var("shutdown_seconds", "SAFETY_SHUTDOWN_SECONDS"),
        description="a SIGTERM stop that takes longer ends the worker with code 75 (streams/worker/run.py)",
    )
    store: str = Field(
        "memory://",
        validation_alias=_var("store", "SAFETY_STORE"),
        description="faust table store: memory:// (tests, demo) or rocksdb://",
    )
    data_dir: Path = Field(
        Path("out/worker-data"),
        validation_alias=_var("data_dir", "SAFETY_DATA_DIR"),
        description="faust datadir (rocksdb files)",
    )


class WebSettings(_Section):
    """The worker's web server (metrics, pages, acknowledgements)."""

    host: str = Field(
        "127.0.0.1",
        validation_alias=_var("host", "SAFETY_WEB_HOST"),
        description="bind address; 0.0.0.0 only inside a container",
    )
    port: int = Field(
        6066,
        ge=1,
        le=65535,
        validation_alias=_var("port", "SAFETY_WEB_PORT"),
        description="TCP port of /metrics and the pages",
    )
    enabled: bool = Field(True, validation_alias=_var("enabled", "SAFETY_WEB_ENABLED"))
    public_url: str | None = Field(
        None,
        validation_alias=_var("public_url", "SAFETY_PUBLIC_URL"),
        description="base URL printed in notifications and links, and the origin browser posts must come from",
    )


class RulesSettings(_Section):
    dir: Path = Field(
        BUNDLED_RULES,
        validation_alias=_var("dir", "SAFETY_RULES_DIR"),
        description="the rules directory: CTCAE criteria, units, term names and studies/",
    )
    file: Path | None = Field(
        None,
        validation_alias=_var("file", "SAFETY_RULES_FILE"),
        description="a study rules file or a directory of them; None = every study in <dir>/studies",
    )
    study_tz: Annotated[str, AfterValidator(check_time_zone)] = Field(
        "Asia/Shanghai",
        validation_alias=_var("study_tz", "SAFETY_STUDY_TZ"),
        description="time zone for timestamps without a UTC offset",
    )


class DeliverySettings(_Section):
    """Channels, timeouts and the retry policy of alert delivery (streams/notify, streams/worker/delivery.py)."""

    notify_config: Path | None = Field(
        None,
        validation_alias=_var("notify_config", "SAFETY_NOTIFY_CONFIG"),
        description="apprise YAML/TEXT config with pi/ethics/safety_officer",
    )
    outbox_dir: Path = Field(
        Path("out/outbox"),
        validation_alias=_var("outbox_dir", "SAFETY_OUTBOX_DIR"),
        description="local sink when no notify_config is set",
    )
    connect_timeout: float = Field(
        10.0,
        gt=0,
        validation_alias=_var("connect_timeout", "SAFETY_CONNECT_TIMEOUT"),
        description="cap on each URL's cto (s)",
    )
    read_timeout: float = Field(
        15.0,
        gt=0,
        validation_alias=_var("read_timeout", "SAFETY_READ_TIMEOUT"),
        description="cap on each URL's rto (s)",
    )
    retry_max_attempts: int = Field(5, ge=1, validation_alias=_var("retry_max_attempts", "SAFETY_RETRY_MAX_ATTEMPTS"))
    retry_base_seconds: float = Field(
        60.0, gt=0, validation_alias=_var("retry_base_seconds", "SAFETY_RETRY_BASE_SECONDS")
    )
    retry_max_delay_seconds: float = Field(
        3600.0, gt=0, validation_alias=_var("retry_max_delay_seconds", "SAFETY_RETRY_MAX_DELAY_SECONDS")
    )
    retry_jitter: float = Field(0.2, ge=0, lt=1, validation_alias=_var("retry_jitter", "SAFETY_RETRY_JITTER"))
    retry_give_up_after_hours: float = Field(
        72.0,
        gt=0,
        validation_alias=_var("retry_give_up_after_hours", "SAFETY_RETRY_GIVE_UP_AFTER_HOURS"),
        description="a message not SAE/SUSAR/DLT/STOPPING_BOUNDARY is retried this long, then given up",
    )
    sweep_interval: float = Field(
        30.0,
        gt=0,
        validation_alias=_var("sweep_interval", "SAFETY_SWEEP_INTERVAL"),
        description="seconds between retry/escalation sweeps",
    )

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.retry_max_attempts,
            base_seconds=self.retry_base_seconds,
            max_delay_seconds=self.retry_max_delay_seconds,
            jitter=self.retry_jitter,
            give_up_after_hours=self.retry_give_up_after_hours,
        )


class AuthSettings(_Section):
    """Who may acknowledge: role tokens, the secret of one-click links, and the token `safety ack` sends."""

    tokens: RoleTokens = Field(
        None,
        validation_alias=_var("tokens", "SAFETY_AUTH_TOKENS"),
        description="role tokens for HTTP pages, 'role:token,role:token' (each >= 32 characters)",
    )
    link_secret: LinkSecret = Field(
        None,
        validation_alias=_var("link_secret", "SAFETY_LINK_SECRET"),
        description="HMAC secret of acknowledgement links (>= 32 characters)",
    )
    link_previous_secrets: LinkSecrets = Field(
        None,
        validation_alias=_var("link_previous_secrets", "SAFETY_LINK_PREVIOUS_SECRETS"),
        description="earlier link secrets, comma-separated: links they signed still verify (docs/architecture.md,"
        " 'Identity': rotating the key)",
    )
    link_ttl_hours: float = Field(
        168.0,
        gt=0,
        validation_alias=_var("link_ttl_hours", "SAFETY_LINK_TTL_HOURS"),
        description="validity of one-click acknowledgement links",
    )
    ack_token: SecretStr | None = Field(
        None,
        validation_alias=_var("ack_token", "SAFETY_ACK_TOKEN"),
        description="the role token `safety ack` sends when --token is not given",
    )

    users_file: Path | None = Field(
        None,
        validation_alias=_var("users_file", "SAFETY_USERS_FILE"),
        description="YAML of the people who sign in: name, roles, studies, argon2id hash (streams/web/users.py)",
    )
    api_tokens_file: Path | None = Field(
        None,
        validation_alias=_var("api_tokens_file", "SAFETY_API_TOKENS_FILE"),
        description="per-person API tokens, SHA-256 digests only (`safety users token`, streams/web/apitokens.py)",
    )
    session_secret: LinkSecret = Field(
        None,
        validation_alias=_var("session_secret", "SAFETY_SESSION_SECRET"),
        description="HMAC secret of session cookies (>= 32 characters); unset = SAFETY_LINK_SECRET, salted apart",
    )
    session_idle_minutes: float = Field(
        30.0,
        gt=0,
        le=24 * 60,
        validation_alias=_var("session_idle_minutes", "SAFETY_SESSION_IDLE_MINUTES"),
        description="a session with no request for this long is signed out",
    )
    cookie_secure: bool | None = Field(
        None,
        validation_alias=_var("cookie_secure", "SAFETY_COOKIE_SECURE"),
        description="Secure session cookie (sent over TLS only); unset = when SAFETY_PUBLIC_URL is https",
    )
    metrics_token: LinkSecret = Field(
        None,
        validation_alias=_var("metrics_token", "SAFETY_METRICS_TOKEN"),
        description="bearer token Prometheus sends to /metrics (>= 32 characters); unset = /metrics refuses all",
    )

    def link_keys(self) -> list[str]:
        """The keys acknowledgement links verify with, newest first: ``link_secret`` signs, every one verifies."""
        previous = (reveal(self.link_previous_secrets) or "").split(",")
        return [k for k in [reveal(self.link_secret) or "", *(p.strip() for p in previous)] if k]

    def role_tokens(self) -> dict[str, str]:
        """token -> role (streams/web/auth.py ``parse_tokens``)."""
        return parse_tokens(reveal(self.tokens))


def _source_tokens(value: SecretStr | None) -> SecretStr | None:
    for pair in filter(None, (p.strip() for p in (reveal(value) or "").split(","))):
        source, _, token = pair.partition("=")
        if not source or len(token) < 24:
            raise ValueError("expected source=TOKEN pairs, each token >= 24 characters")
    return value


def _empty_is_none(value: Any) -> Any:
    return None if value == "" else value


class FeedsSettings(_Section):
    """The live feeds' listener and HTTP routes (streams/feeds/live.py, docs/architecture.md "Feeds")."""

    site_file: Path = Field(
        BUNDLED_RULES / "sites" / "example-lis.yaml",
        validation_alias=_var("site_file", "SAFETY_FEEDS_SITE_FILE"),
        description="the site's feed mapping, rules/sites/<site>.yaml",
    )
    subjects_file: Path | None = Field(
        None,
        validation_alias=_var("subjects_file", "SAFETY_FEEDS_SUBJECTS_FILE"),
        description="the site-held CSV identifier,subject_id (kept outside the repository)",
    )
    mllp_host: str = Field(
        "127.0.0.1",
        validation_alias=_var("mllp_host", "SAFETY_FEEDS_MLLP_HOST"),
        description="interface the HL7 v2 MLLP listener binds",
    )
    mllp_port: Annotated[int | None, BeforeValidator(_empty_is_none)] = Field(
        2575,
        ge=0,
        le=65535,
        validation_alias=_var("mllp_port", "SAFETY_FEEDS_MLLP_PORT"),
        description="MLLP port; empty = no listener",
    )
    tokens: Annotated[SecretStr | None, AfterValidator(_source_tokens)] = Field(
        None,
        validation_alias=_var("tokens", "SAFETY_FEEDS_TOKENS"),
        description="per-source bearer tokens for POST /fhir and /events: 'lis=TOKEN,edc=TOKEN'",
    )
    max_message_bytes: int = Field(
        1_000_000,
        ge=1024,
        validation_alias=_var("max_message_bytes", "SAFETY_FEEDS_MAX_MESSAGE_BYTES"),
        description="largest HL7 message or HTTP body accepted",
    )
    ack_timeout: float = Field(
        10.0,
        gt=0,
        validation_alias=_var("ack_timeout", "SAFETY_FEEDS_ACK_TIMEOUT"),
        description="seconds to wait for the broker before answering AE / 503",
    )

    def source_tokens(self) -> dict[str, str]:
        """token -> source name (each token at least 24 characters: checked at load)."""
        pairs = (p.strip() for p in (reveal(self.tokens) or "").split(","))
        return {token: source for source, _, token in (p.partition("=") for p in pairs if p)}


class OidcSettings(_Section):
    """The hospital's OpenID Connect provider, when people sign in with it (streams/web/oidc.py); unset = none.
    The worker refuses to start with an issuer but no client id, client secret, public URL or session secret."""

    issuer: str | None = Field(
        None,
        pattern=r"^https?://[^\s]+$",
        validation_alias=_var("issuer", "SAFETY_OIDC_ISSUER"),
        description="the provider's issuer URL (its discovery document is <issuer>/.well-known/openid-configuration)",
    )
    client_id: str | None = Field(None, validation_alias=_var("client_id", "SAFETY_OIDC_CLIENT_ID"))
    client_secret: SecretStr | None = Field(
        None,
        validation_alias=_var("client_secret", "SAFETY_OIDC_CLIENT_SECRET"),
        description="this service's client secret at the provider (redirect URI: <public URL>/login/oidc/callback)",
    )


class DocumentsSettings(_Section):
    """The SAE documents (streams/documents): where the ICH E2B(R3) schemas are, to check each ICSR against them."""

    e2b_schemas: Path | None = Field(
        None,
        validation_alias=_var("e2b_schemas", "SAFETY_E2B_SCHEMAS"),
        description="the unpacked ICH E2B(R3) implementation guide package (the folder holding multicacheschemas/); "
        "unset = the XML is checked for the mandatory elements only",
    )


SECRETS = frozenset(
    {
        ("auth", "tokens"),
        ("auth", "link_secret"),
        ("auth", "link_previous_secrets"),
        ("auth", "ack_token"),
        ("auth", "session_secret"),
        ("auth", "metrics_token"),
        ("feeds", "tokens"),
        ("oidc", "client_secret"),
    }
)


class _DocumentedVariables(PydanticBaseSettingsSource):
    """The documented ``SAFETY_<NAME>`` variables (case-insensitive), each to its section's field."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # every value is given by __call__

    def __call__(self) -> dict[str, Any]:
        env = {name.upper(): value for name, value in os.environ.items()}
        found: dict[str, dict[str, str]] = {}
        for variable, (section, _) in environment_variables().items():
            if variable in env:
                found.setdefault(section, {})[variable] = env[variable]
        return found


class Settings(BaseSettings):
    """Every setting of the shell, by section; ``Settings.load`` reads and validates them."""

    model_config = SettingsConfigDict(env_prefix="SAFETY_", env_nested_delimiter="__", extra="ignore", frozen=True)

    kafka: KafkaSettings = KafkaSettings()
    topics: TopicSettings = TopicSettings()
    worker: WorkerSettings = WorkerSettings()
    web: WebSettings = WebSettings()
    rules: RulesSettings = RulesSettings()
    delivery: DeliverySettings = DeliverySettings()
    auth: AuthSettings = AuthSettings()
    feeds: FeedsSettings = FeedsSettings()
    oidc: OidcSettings = OidcSettings()
    documents: DocumentsSettings = DocumentsSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Overrides first, then the nested form, then the documented variables."""
        return init_settings, env_settings, _DocumentedVariables(settings_cls)

    @classmethod
    def load(cls, **overrides: Mapping[str, Any]) -> Settings:
        """The environment's settings with ``overrides`` by section (command-line options, e.g.
        ``web={"port": 99999}``), validated together; a refusal is a ``SettingsError`` naming the variable."""
        given: dict[str, Any] = dict(overrides)
        try:
            return cls(**given)
        except ValidationError as exc:
            raise SettingsError(describe(exc, given=_given(overrides))) from None

    def updated(self, **overrides: Mapping[str, Any]) -> Settings:
        """A copy with some fields of some sections replaced, validated as ``load`` validates overrides."""
        data = self.model_dump()
        for section, values in overrides.items():
            data[section].update(values)
        try:
            return type(self).model_validate(data)
        except ValidationError as exc:
            raise SettingsError(describe(exc, given=_given(overrides))) from None


def environment_variables() -> dict[str, tuple[str, str]]:
    """Every documented ``SAFETY_*`` variable -> (section, field)."""
    found: dict[str, tuple[str, str]] = {}
    for section, info in Settings.model_fields.items():
        model = info.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for name, field in model.model_fields.items():
            choices = field.validation_alias
            assert isinstance(choices, AliasChoices), f"{section}.{name} has no documented variable"
            found[str(choices.choices[-1])] = (section, name)
    return found


def _given(overrides: Mapping[str, Mapping[str, Any]]) -> set[tuple[str, str]]:
    return {(section, name) for section, values in overrides.items() for name in values}


def describe(exc: ValidationError, given: Iterable[tuple[str, str]] = ()) -> str:
    """A settings error in one line: 'SAFETY_WEB_PORT=99999: Input should be ...' (secrets never quoted);
    ``given``: (section, field) pairs that came from the command line rather than the environment."""
    variables = {place: variable for variable, place in environment_variables().items()}
    by_variable = environment_variables()
    from_command_line = set(given)
    problems = []
    for err in exc.errors():
        loc = tuple(str(part) for part in err["loc"])
        if len(loc) >= 2 and loc[1] in by_variable:
            place, name, origin = by_variable[loc[1]], loc[1], ""
        elif len(loc) >= 2:
            place = (loc[0], loc[1])
            from_cli = place in from_command_line
            name = (
                variables.get(place, "SAFETY_" + "__".join(loc).upper())
                if from_cli
                else ("SAFETY_" + "__".join(loc[:2]).upper())
            )
            origin = " (from the command line)" if from_cli else ""
        else:
            place, name, origin = (loc[0] if loc else "", ""), "SAFETY_" + "__".join(loc).upper(), ""
        msg = err["msg"].removeprefix("Value error, ").removeprefix(f"{name}: ")
        shown = "" if place in SECRETS or "input" not in err or isinstance(err["input"], dict) else f"={err['input']}"
        problems.append(f"{name}{shown}{origin}: {msg}")
    return "; ".join(problems)
