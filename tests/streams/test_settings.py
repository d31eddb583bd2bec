"""streams.settings: one model with a section per concern; every documented SAFETY_* variable reaches its field,
bounded settings, resolvable time zones and strong secrets are refused at load in one line that names the variable
(and never quotes a secret), and secrets never show in a repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.dev.demo import demo_tokens
from streams.settings import DeliverySettings, Settings, SettingsError, environment_variables, reveal
from streams.web.auth import MIN_SECRET_CHARS, weakness

STRONG = "k3Jv9-QxT2mLw8Zr4bYp6NcHs1DfGuEa"

# every documented variable (README, docker-compose.yml, Dockerfile) -> a value other than its default, as set and as
# the field reads it
DOCUMENTED: dict[str, tuple[str, object]] = {
    "SAFETY_KAFKA_BOOTSTRAP": ("k1:9092,k2:9092", "k1:9092,k2:9092"),
    "SAFETY_APP_ID": ("trial-a", "trial-a"),
    "SAFETY_PARTITIONS": ("8", 8),
    "SAFETY_REPLICATION": ("3", 3),
    "SAFETY_TOPICS_FILE": ("/etc/topics.yaml", Path("/etc/topics.yaml")),
    "SAFETY_SESSION_TIMEOUT": ("9.5", 9.5),
    "SAFETY_HEARTBEAT_INTERVAL": ("2", 2.0),
    "SAFETY_COMMIT_INTERVAL": ("3", 3.0),
    "SAFETY_EMBEDDED_WORKAROUNDS": ("1", True),
    "SAFETY_TOPIC_EVENTS": ("a.events", "a.events"),
    "SAFETY_TOPIC_GRADED": ("a.graded", "a.graded"),
    "SAFETY_TOPIC_ALERTS": ("a.alerts", "a.alerts"),
    "SAFETY_TOPIC_DEADLETTER": ("a.dead", "a.dead"),
    "SAFETY_TOPIC_STUDY": ("a.study", "a.study"),
    "SAFETY_TOPIC_ACKS": ("a.acks", "a.acks"),
    "SAFETY_TOPIC_DELIVERIES": ("a.deliveries", "a.deliveries"),
    "SAFETY_TOPIC_DELIVERY_COMMANDS": ("a.commands", "a.commands"),
    "SAFETY_TOPIC_ETHICS_FEED": ("a.feed", "a.feed"),
    "SAFETY_TOPIC_AUDIT": ("a.audit", "a.audit"),
    "SAFETY_PLUGINS": ("", ""),
    "SAFETY_EXPECTED_CHECK_SECONDS": ("5", 5.0),
    "SAFETY_FEED_SILENCE_HOURS": ("0.5", 0.5),
    "SAFETY_BATCH_MAX": ("10", 10),
    "SAFETY_BATCH_WAIT": ("0.5", 0.5),
    "SAFETY_STALL_SECONDS": ("40", 40.0),
    "SAFETY_BROKER_DOWN_EXIT_SECONDS": ("60", 60.0),
    "SAFETY_SHUTDOWN_SECONDS": ("45", 45.0),
    "SAFETY_STORE": ("rocksdb://", "rocksdb://"),
    "SAFETY_DATA_DIR": ("/data/w1", Path("/data/w1")),
    "SAFETY_WEB_HOST": ("0.0.0.0", "0.0.0.0"),  # noqa: S104 - a value under test, nothing binds
    "SAFETY_WEB_PORT": ("7070", 7070),
    "SAFETY_WEB_ENABLED": ("false", False),
    "SAFETY_PUBLIC_URL": ("https://safety.example.org", "https://safety.example.org"),
    "SAFETY_RULES_DIR": ("/app/rules", Path("/app/rules")),
    "SAFETY_RULES_FILE": ("/app/rules/studies/A.yaml", Path("/app/rules/studies/A.yaml")),
    "SAFETY_STUDY_TZ": ("Europe/Berlin", "Europe/Berlin"),
    "SAFETY_NOTIFY_CONFIG": ("/app/deploy/apprise.yml", Path("/app/deploy/apprise.yml")),
    "SAFETY_OUTBOX_DIR": ("/tmp/outbox", Path("/tmp/outbox")),  # noqa: S108
    "SAFETY_CONNECT_TIMEOUT": ("3", 3.0),
    "SAFETY_READ_TIMEOUT": ("4", 4.0),
    "SAFETY_RETRY_MAX_ATTEMPTS": ("7", 7),
    "SAFETY_RETRY_BASE_SECONDS": ("30", 30.0),
    "SAFETY_RETRY_MAX_DELAY_SECONDS": ("600", 600.0),
    "SAFETY_RETRY_JITTER": ("0.1", 0.1),
    "SAFETY_RETRY_GIVE_UP_AFTER_HOURS": ("24", 24.0),
    "SAFETY_SWEEP_INTERVAL": ("15", 15.0),
    "SAFETY_LINK_TTL_HOURS": ("12", 12.0),
    "SAFETY_AUTH_TOKENS": (f"pi:{STRONG}", f"pi:{STRONG}"),
    "SAFETY_LINK_SECRET": (STRONG, STRONG),
    "SAFETY_LINK_PREVIOUS_SECRETS": (f"{STRONG},{STRONG[::-1]}", f"{STRONG},{STRONG[::-1]}"),
    "SAFETY_ACK_TOKEN": ("any-role-token", "any-role-token"),
    "SAFETY_USERS_FILE": ("/etc/safety/users.yaml", Path("/etc/safety/users.yaml")),
    "SAFETY_API_TOKENS_FILE": ("/etc/safety/tokens.jsonl", Path("/etc/safety/tokens.jsonl")),
    "SAFETY_SESSION_SECRET": (STRONG, STRONG),
    "SAFETY_SESSION_IDLE_MINUTES": ("15", 15.0),
    "SAFETY_COOKIE_SECURE": ("true", True),
    "SAFETY_METRICS_TOKEN": (STRONG, STRONG),
    "SAFETY_FEEDS_SITE_FILE": ("/etc/safety/site.yaml", Path("/etc/safety/site.yaml")),
    "SAFETY_FEEDS_SUBJECTS_FILE": ("/etc/safety/subjects.csv", Path("/etc/safety/subjects.csv")),
    "SAFETY_FEEDS_MLLP_HOST": ("0.0.0.0", "0.0.0.0"),  # noqa: S104 - a value under test, nothing binds
    "SAFETY_FEEDS_MLLP_PORT": ("", None),
    "SAFETY_FEEDS_TOKENS": (f"lis={STRONG}", f"lis={STRONG}"),
    "SAFETY_FEEDS_MAX_MESSAGE_BYTES": ("4096", 4096),
    "SAFETY_FEEDS_ACK_TIMEOUT": ("2.5", 2.5),
    "SAFETY_OIDC_ISSUER": ("https://id.hospital.example", "https://id.hospital.example"),
    "SAFETY_OIDC_CLIENT_ID": ("safety", "safety"),
    "SAFETY_OIDC_CLIENT_SECRET": (STRONG, STRONG),
    "SAFETY_E2B_SCHEMAS": ("/opt/ich/e2b-r3", Path("/opt/ich/e2b-r3")),
}


def field_value(settings: Settings, variable: str) -> object:
    section, name = environment_variables()[variable]
    value = getattr(getattr(settings, section), name)
    return (
        reveal(value)
        if name
        in (
            "tokens",
            "link_secret",
            "link_previous_secrets",
            "ack_token",
            "session_secret",
            "metrics_token",
            "client_secret",
        )
        else value
    )


def test_the_table_covers_every_documented_variable() -> None:
    assert set(DOCUMENTED) == set(environment_variables())


@pytest.mark.parametrize("variable", sorted(DOCUMENTED))
def test_every_documented_variable_reaches_its_field(variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text, expected = DOCUMENTED[variable]
    assert field_value(Settings.load(), variable) != expected
    monkeypatch.setenv(variable, text)
    assert field_value(Settings.load(), variable) == expected


def test_the_nested_form_sets_the_same_field_and_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFETY_WEB_PORT", "7070")
    monkeypatch.setenv("SAFETY_WEB__PORT", "7171")
    monkeypatch.setenv("SAFETY_KAFKA__PARTITIONS", "6")
    settings = Settings.load()
    assert (settings.web.port, settings.kafka.partitions) == (7171, 6)


def test_an_override_wins_over_the_environment_and_keeps_the_rest_of_its_section(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAFETY_WEB_PORT", "7070")
    monkeypatch.setenv("SAFETY_WEB_HOST", "10.0.0.1")
    web = Settings.load(web={"port": 8080}).web
    assert (web.port, web.host) == (8080, "10.0.0.1")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"web": {"port": 99999}},
            "SAFETY_WEB_PORT=99999 (from the command line): Input should be less than or equal to 65535",
        ),
        ({"web": {"port": 0}}, "SAFETY_WEB_PORT=0 (from the command line): Input should be greater than or equal to 1"),
        (
            {"kafka": {"partitions": 0}},
            "SAFETY_PARTITIONS=0 (from the command line): Input should be greater than or equal to 1",
        ),
        (
            {"delivery": {"read_timeout": -1}},
            "SAFETY_READ_TIMEOUT=-1 (from the command line): Input should be greater than 0",
        ),
        (
            {"rules": {"study_tz": "Europe/Berln"}},
            "SAFETY_STUDY_TZ=Europe/Berln (from the command line): 'Europe/Berln' "
            "is not an IANA time zone (did you mean 'Europe/Berlin'?)",
        ),
    ],
)
def test_an_override_out_of_bounds_is_one_line_naming_the_variable(
    overrides: dict[str, dict[str, object]], message: str
) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.load(**overrides)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SAFETY_WEB_PORT", "65536", "SAFETY_WEB_PORT=65536: Input should be less than or equal to 65535"),
        ("SAFETY_PARTITIONS", "0", "SAFETY_PARTITIONS=0: Input should be greater than or equal to 1"),
        ("SAFETY_CONNECT_TIMEOUT", "-2", "SAFETY_CONNECT_TIMEOUT=-2: Input should be greater than 0"),
        ("SAFETY_SHUTDOWN_SECONDS", "-1", "SAFETY_SHUTDOWN_SECONDS=-1: Input should be greater than 0"),
        (
            "SAFETY_BATCH_MAX",
            "lots",
            "SAFETY_BATCH_MAX=lots: Input should be a valid integer, unable to parse string as an integer",
        ),
        ("SAFETY_WEB__PORT", "0", "SAFETY_WEB__PORT=0: Input should be greater than or equal to 1"),
    ],
)
def test_the_environment_is_validated_too(
    variable: str, value: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        Settings.load()
    assert str(error.value) == message


def test_an_updated_copy_is_validated_as_an_override() -> None:
    with pytest.raises(SettingsError, match=r"^SAFETY_WEB_PORT=70000 \(from the command line\)"):
        Settings.load().updated(web={"port": 70000})
    assert Settings.load().updated(kafka={"bootstrap": "k:1"}).kafka.bootstrap == "k:1"


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("x", "has 1 characters, at least 32 are needed"),
        ("abcdefghijklmnopqrstuvwxyz01234", "has 31 characters, at least 32 are needed"),
        ("abab" * 10, "uses 2 different characters, at least 8 are needed"),
    ],
)
def test_a_weak_link_secret_is_refused_without_quoting_it(
    secret: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.load(auth={"link_secret": secret})
    assert str(refused.value).startswith(f"SAFETY_LINK_SECRET (from the command line): the secret {reason}")
    assert secret not in str(refused.value)
    monkeypatch.setenv("SAFETY_LINK_SECRET", secret)
    with pytest.raises(SettingsError) as refused:
        Settings.load()
    assert str(refused.value).startswith(f"SAFETY_LINK_SECRET: the secret {reason}")
    assert secret not in str(refused.value)


def test_a_short_feed_token_is_refused_without_quoting_it_and_strong_ones_map_to_their_source() -> None:
    with pytest.raises(SettingsError) as error:
        Settings.load(feeds={"tokens": f"lis={STRONG},edc=short-edc-token"})
    assert str(error.value).startswith("SAFETY_FEEDS_TOKENS (from the command line): expected source=TOKEN pairs")
    assert "short-edc-token" not in str(error.value) and STRONG not in str(error.value)
    other = STRONG[::-1]
    assert Settings.load(feeds={"tokens": f"lis={STRONG}, edc={other}"}).feeds.source_tokens() == {
        STRONG: "lis",
        other: "edc",
    }


def test_a_weak_role_token_is_refused_naming_its_role() -> None:
    with pytest.raises(SettingsError) as error:
        Settings.load(auth={"tokens": f"pi:{STRONG},safety_officer:officer-token-789"})
    assert "SAFETY_AUTH_TOKENS (from the command line): the safety_officer token has 17 characters" in str(error.value)
    assert "officer-token-789" not in str(error.value) and STRONG not in str(error.value)


def test_strong_secrets_and_unset_ones_are_accepted() -> None:
    settings = Settings.load(auth={"link_secret": STRONG, "tokens": f"pi:{STRONG},ethics:{STRONG[::-1]}"})
    assert reveal(settings.auth.link_secret) == STRONG and len(STRONG) == MIN_SECRET_CHARS
    assert settings.auth.role_tokens() == {STRONG: "pi", STRONG[::-1]: "ethics"}
    assert Settings.load().auth.link_secret is None
    assert reveal(Settings.load(auth={"link_secret": ""}).auth.link_secret) == ""


def test_secrets_do_not_appear_in_the_repr_the_dump_or_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.load(auth={"link_secret": STRONG, "tokens": f"pi:{STRONG[::-1]}", "ack_token": STRONG[1:]})
    import logging

    logging.getLogger("test").warning("settings: %s", settings)
    for shown in (repr(settings), str(settings), settings.model_dump_json(), caplog.text):
        assert STRONG not in shown and STRONG[::-1] not in shown and STRONG[1:] not in shown


def test_the_delivery_section_is_a_model_of_its_own_for_the_notifier() -> None:
    assert DeliverySettings(outbox_dir=Path("o"), read_timeout=2).read_timeout == 2.0
    assert Settings.load().delivery.retry_policy().max_attempts == 5


def test_the_demo_generates_tokens_strong_enough_for_the_worker_it_starts() -> None:
    tokens = demo_tokens(Settings.load())
    assert all(weakness(token) is None for token in tokens.values())
    Settings.load(auth={"tokens": ",".join(f"{role}:{token}" for role, token in tokens.items())})
