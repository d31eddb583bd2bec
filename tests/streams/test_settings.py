"""streams.settings and streams.web.auth: bounded settings, resolvable time zones and strong secrets, refused at load
in one line that names the variable (and never quotes a secret)."""

from __future__ import annotations

import pytest

from streams.dev.demo import demo_tokens
from streams.notify.channels import DeliverySettings
from streams.settings import Settings, SettingsError
from streams.web.auth import MIN_SECRET_CHARS, weakness

STRONG = "k3Jv9-QxT2mLw8Zr4bYp6NcHs1DfGuEa"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("web_port", 99999, "SAFETY_WEB_PORT=99999 (from the command line): Input should be less than or equal to 65535"),
    ("web_port", 0, "SAFETY_WEB_PORT=0 (from the command line): Input should be greater than or equal to 1"),
    ("partitions", 0, "SAFETY_PARTITIONS=0 (from the command line): Input should be greater than or equal to 1"),
    ("study_tz", "Europe/Berln", "SAFETY_STUDY_TZ=Europe/Berln (from the command line): 'Europe/Berln' is not an "
                                 "IANA time zone (did you mean 'Europe/Berlin'?)"),
])
def test_a_setting_out_of_bounds_is_one_line_naming_the_variable(field: str, value: object, message: str) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.load(**{field: value})
    assert str(error.value) == message


def test_the_environment_is_validated_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFETY_WEB_PORT", "65536")
    with pytest.raises(SettingsError, match=r"^SAFETY_WEB_PORT=65536: Input should be less than or equal to 65535$"):
        Settings.load()


@pytest.mark.parametrize(("secret", "reason"), [
    ("x", "has 1 characters, at least 32 are needed"),
    ("abcdefghijklmnopqrstuvwxyz01234", "has 31 characters, at least 32 are needed"),
    ("abab" * 10, "uses 2 different characters, at least 8 are needed"),
])
def test_a_weak_link_secret_is_refused_without_quoting_it(secret: str, reason: str) -> None:
    for model in (Settings, DeliverySettings):
        with pytest.raises(ValueError) as error:
            model(link_secret=secret)
        assert reason in str(error.value)
    with pytest.raises(SettingsError) as refused:
        Settings.load(link_secret=secret)
    assert str(refused.value).startswith(f"SAFETY_LINK_SECRET (from the command line): the secret {reason}")
    assert secret not in str(refused.value)


def test_a_weak_role_token_is_refused_naming_its_role() -> None:
    with pytest.raises(SettingsError) as error:
        Settings.load(auth_tokens=f"pi:{STRONG},safety_officer:officer-token-789")
    assert "SAFETY_AUTH_TOKENS (from the command line): the safety_officer token has 17 characters" in str(error.value)
    assert "officer-token-789" not in str(error.value) and STRONG not in str(error.value)
    with pytest.raises(ValueError, match="the pi token has 1 characters"):
        DeliverySettings(auth_tokens="pi:x")


def test_strong_secrets_and_unset_ones_are_accepted() -> None:
    settings = Settings.load(link_secret=STRONG, auth_tokens=f"pi:{STRONG},ethics:{STRONG[::-1]}")
    assert settings.link_secret == STRONG and len(STRONG) == MIN_SECRET_CHARS
    assert Settings.load().link_secret is None and Settings.load(link_secret="").link_secret == ""
    assert DeliverySettings(link_secret=STRONG).link_secret == STRONG


def test_the_demo_generates_tokens_strong_enough_for_the_worker_it_starts() -> None:
    tokens = demo_tokens()
    assert all(weakness(token) is None for token in tokens.values())
    Settings.load(auth_tokens=",".join(f"{role}:{token}" for role, token in tokens.items()))
