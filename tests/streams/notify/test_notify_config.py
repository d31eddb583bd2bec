"""streams.notify.config: an apprise file whose addresses or tags apprise would drop refuses to start, with one
line naming the file, the key and the bad value (issue "Nothing misrouted")."""

from __future__ import annotations

from pathlib import Path

import pytest

from safety.errors import DeliveryConfigError
from streams.notify.channels import load_apprise_channels
from streams.settings import DeliverySettings

HEAD = "version: 1\nurls:\n  - mailto://127.0.0.1:1025?from=sae-alerts@example.org&mode=insecure:\n"


def load(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "apprise.yml"
    path.write_text(text, encoding="utf-8")
    channels = load_apprise_channels(path, DeliverySettings(notify_config=path))
    return sorted(c.target.recipient for c in channels)


@pytest.mark.parametrize(
    ("entry", "key", "value"),
    [
        ("      - to: pi@@example.org\n        tag: pi\n", "urls[0][0].to", "pi@@example.org"),
        ("      - to: pi.example.org\n        tag: pi\n", "urls[0][0].to", "pi.example.org"),
        ("      - to: pi@example.org, b@exa mple.org\n        tag: pi\n", "urls[0][0].to", "b@exa mple.org"),
        (
            "      - to: pi@example.org\n        cc: [ok@example.org, 'bad@']\n        tag: pi\n",
            "urls[0][0].cc",
            "bad@",
        ),
    ],
)
def test_an_address_apprise_would_drop_is_refused_with_its_key(
    tmp_path: Path, entry: str, key: str, value: str
) -> None:
    with pytest.raises(DeliveryConfigError) as error:
        load(tmp_path, HEAD + entry)
    assert str(error.value).startswith(f"{tmp_path / 'apprise.yml'}: {key}: {value!r} is not an e-mail address")


def test_an_invalid_address_inside_a_url_is_refused_from_apprise_s_warning(tmp_path: Path) -> None:
    text = "version: 1\nurls:\n  - mailto://127.0.0.1:1025?from=sae@example.org&to=pi@@example.org:\n      - tag: pi\n"
    with pytest.raises(DeliveryConfigError, match=r"apprise dropped an invalid To email 'pi@@example.org'"):
        load(tmp_path, text)


def test_an_unknown_tag_is_refused_with_the_nearest_role(tmp_path: Path) -> None:
    with pytest.raises(
        DeliveryConfigError,
        match=r"tag 'ethic' of a mailto URL is not a recipient role "
        r"\(pi, ethics, safety_officer\) \(did you mean 'ethics'\?\)",
    ):
        load(tmp_path, HEAD + "      - to: pi@example.org\n        tag: ethic\n")


def test_valid_addresses_names_and_templates_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPRISE_TEMPLATE_PI_MAIL", "pi@example.org")
    text = (
        "version: 1\ntemplate:\n  PI_MAIL:\nurls:\n"
        "  - mailto://127.0.0.1:1025?from=sae-alerts@example.org&mode=insecure:\n"
        "      - to: ${PI_MAIL}\n        tag: pi\n"
        "      - to: Ethics Office <ethics@example.org>, chair@example.org\n        tag: ethics\n"
        "      - to: [officer@example.org]\n        tag: safety_officer\n"
    )
    assert load(tmp_path, text) == ["ethics", "pi", "safety_officer"]
