"""Configuration of every shell process (worker, demo, produce, topic admin), from ``SAFETY_*`` variables.

One pydantic-settings model so the Docker image, docker-compose and the CLI read the same names; the compose
test (tests/deploy/test_compose.py) checks that every ``SAFETY_*`` variable of the worker service is a field.
Defaults are the development/demo ones (memory store, loopback web server); production sets the store to
``rocksdb://`` and the bootstrap servers of a real Kafka cluster (README, "Running in production").
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from safety.errors import SafetyError
from safety.rules.protocol import check_time_zone
from streams.web.auth import LinkSecret, RoleTokens

SECRET_FIELDS = frozenset({"link_secret", "auth_tokens"})


class SettingsError(SafetyError, ValueError):
    """A ``SAFETY_*`` setting is out of its bounds; the message names the variable and what is allowed."""


class Settings(BaseSettings):
    """``SAFETY_<FIELD>`` in the environment overrides each field (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="SAFETY_", extra="ignore")

    # --- Kafka ---
    kafka_bootstrap: str | None = Field(
        None, description="host:port[,host:port]; None = `safety demo` starts the embedded Tansu broker"
    )
    app_id: str = Field("safety-surveillance", description="faust app id = consumer group, changelog prefix")
    topic_events: str = "safety.events"
    topic_graded: str = "safety.graded"
    topic_alerts: str = "safety.alerts"
    topic_deadletter: str = "safety.deadletter"
    topic_study: str = "safety.study"
    topic_acks: str = "safety.acks"
    topic_deliveries: str = "safety.deliveries"
    topic_delivery_commands: str = "safety.delivery-commands"
    topic_ethics_feed: str = "safety.ethics-feed"
    partitions: int = Field(4, ge=1, description="partitions of every topic (co-partitioned with the tables)")
    replication: int = Field(1, ge=1, description="replication factor of created topics (3 on a cluster)")
    topics_file: Path | None = Field(None, description="deploy/kafka/topics.yaml; None = the bundled one")
    session_timeout: float = Field(
        6.0, gt=0, description="consumer group session timeout (s); Tansu holds JoinGroup for half of it"
    )
    heartbeat_interval: float = Field(1.0, gt=0)
    commit_interval: float = Field(1.0, gt=0, description="offset commit interval (s): fewer redeliveries")
    plugins: str = Field(
        "streams.web.acks,streams.web.pages",
        description="modules whose register(app, ctx) adds agents/pages; '' = none (bench)",
    )
    batch_max: int = Field(
        1000, ge=1, description="subject events processed per batch at most (one state write per subject and batch)"
    )
    batch_wait: float = Field(
        0.02, gt=0, description="seconds a batch waits for more events before it is processed (adds latency)"
    )
    stall_seconds: float = Field(
        20.0, gt=0, description="records waiting and no commit for this long: re-seek the partition (watchdog)"
    )
    broker_down_exit_seconds: float = Field(
        30.0, gt=0, description="broker unreachable this long: the worker exits with code 75 (streams/worker/health.py)"
    )
    shutdown_seconds: float = Field(
        30.0, gt=0, description="a SIGTERM stop that takes longer ends the worker with code 75 (streams/worker/run.py)"
    )
    embedded_workarounds: bool | None = Field(
        None, description="Tansu-only settings (notes §3, §7); None = only on the embedded broker"
    )

    # --- State ---
    store: str = Field("memory://", description="faust table store: memory:// (tests, demo) or rocksdb://")
    data_dir: Path = Field(Path("out/worker-data"), description="faust datadir (rocksdb files)")

    # --- Web server (metrics, pages) ---
    web_host: str = Field("127.0.0.1", description="bind address; 0.0.0.0 only inside a container")
    web_port: int = Field(6066, ge=1, le=65535, description="TCP port of /metrics and the pages")
    web_enabled: bool = True

    # --- Rules and study ---
    rules_file: Path | None = Field(
        None, description="a study rules file or a directory of them; None = every study in rules/studies"
    )
    study_tz: str = Field("Asia/Shanghai", description="time zone for timestamps without a UTC offset")

    @field_validator("study_tz")
    @classmethod
    def _study_tz_exists(cls, value: str) -> str:
        return check_time_zone(value)

    # --- Delivery (owned by the delivery engineer: add notify/auth fields below this line) ---
    notify_config: Path | None = Field(None, description="apprise config (YAML/TEXT) with recipient tags")
    link_secret: LinkSecret = Field(None, description="HMAC secret of acknowledgement links (>= 32 characters)")
    auth_tokens: RoleTokens = Field(
        None, description="role tokens for HTTP pages, 'role:token,role:token' (each >= 32 characters)"
    )
    public_url: str | None = Field(None, description="base URL printed in notifications and links")

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """The environment's settings with ``overrides`` (command-line options), validated together."""
        try:
            return cls(**overrides)
        except ValidationError as exc:
            raise SettingsError(describe(exc, given=overrides.keys())) from None

    def bootstrap_url(self) -> str:
        """faust's broker URL form: ``kafka://h1:p1;h2:p2``."""
        if not self.kafka_bootstrap:
            raise ValueError(
                "SAFETY_KAFKA_BOOTSTRAP is not set: set it to host:port of a Kafka broker, "
                "or run `safety demo`, which starts the embedded broker"
            )
        return "kafka://" + ";".join(h.strip() for h in self.kafka_bootstrap.split(",") if h.strip())

    def bootstrap_servers(self) -> list[str]:
        """kafka-python's form: a list of host:port."""
        return [h.strip() for h in (self.kafka_bootstrap or "").split(",") if h.strip()]

    def topic_names(self) -> dict[str, str]:
        """Logical name -> configured topic name, for topics.yaml and the admin client."""
        return {
            "events": self.topic_events,
            "graded": self.topic_graded,
            "alerts": self.topic_alerts,
            "deadletter": self.topic_deadletter,
            "study": self.topic_study,
            "acks": self.topic_acks,
            "deliveries": self.topic_deliveries,
            "delivery_commands": self.topic_delivery_commands,
            "ethics_feed": self.topic_ethics_feed,
        }


def describe(exc: ValidationError, given: Iterable[str] = ()) -> str:
    """A settings error in one line: 'SAFETY_WEB_PORT=99999: Input should be ...' (secrets never quoted);
    ``given``: fields that came from the command line rather than the environment."""
    problems = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        name = f"SAFETY_{field.upper()}"
        msg = err["msg"].removeprefix("Value error, ").removeprefix(f"{name}: ")
        shown = "" if field in SECRET_FIELDS or "input" not in err else f"={err['input']}"
        origin = " (from the command line)" if field in given else ""
        problems.append(f"{name}{shown}{origin}: {msg}")
    return "; ".join(problems)
