"""Whom an acknowledgement link acts for (streams/notify/recipients.py), from a real apprise configuration and a
users file: a person's own mailbox gets a link that is theirs alone, a group chat a link that needs a sign-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from delivery_helpers import make_alert

from safety.delivery.ledger import Delivery
from streams.notify.channels import Notifier, _scopes, load_apprise_channels
from streams.notify.recipients import Recipient, Recipients
from streams.settings import DeliverySettings
from streams.web.users import User, Users
from streams.worker.delivery import LinkMaker

HASH = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$unused"
STUDY = make_alert("SAE").study_id


def person(name: str, roles: tuple[str, ...], email: str | None = None, studies: tuple[str, ...] = ("*",)) -> User:
    return User(name=name, roles=roles, studies=studies, password_hash=HASH, email=email)


def notifier(tmp_path: Path) -> Notifier:
    path = tmp_path / "apprise.yml"
    path.write_text(
        "urls:\n"
        "  - mailtos://u:p@smtp.hospital.example?from=safety@hospital.example&to=wang@hospital.example:\n"
        "      tag: pi\n"
        "  - mailtos://u:p@smtp.hospital.example?from=safety@hospital.example&to=li@hospital.example,"
        "zhao@hospital.example:\n"
        "      tag: ethics\n"
        "  - wecombot://0123456789abcdef0123456789abcdef:\n"
        "      tag: pi\n",
        encoding="utf-8",
    )
    channels = load_apprise_channels(path, DeliverySettings(notify_config=path))
    return Notifier(channels, "test", _scopes(channels))


def channel(n: Notifier, role: str, scheme: str) -> str:
    return next(c.target.channel for c in n.channels if c.target.recipient == role and c.target.scheme == scheme)


def test_a_person_s_own_mailbox_is_personal_and_a_group_chat_needs_them_to_sign_in(tmp_path: Path) -> None:
    n = notifier(tmp_path)
    users = Users({"dr.wang": person("dr.wang", ("pi",), "Wang@Hospital.example")})
    who = Recipients(n, users)
    assert who(STUDY, "pi", channel(n, "pi", "mailtos")) == Recipient("dr.wang", personal=True)
    assert who(STUDY, "pi", channel(n, "pi", "wecombot")) == Recipient("dr.wang", personal=False)


def test_a_shared_mailbox_or_several_holders_of_the_role_name_nobody_or_need_a_sign_in(tmp_path: Path) -> None:
    n = notifier(tmp_path)
    users = Users(
        {
            "ec.li": person("ec.li", ("ethics",), "li@hospital.example"),
            "ec.zhao": person("ec.zhao", ("ethics",), "zhao@hospital.example"),
            "dr.wang": person("dr.wang", ("pi",), "wang@hospital.example", studies=("OTHER-STUDY",)),
        }
    )
    who = Recipients(n, users)
    assert who(STUDY, "ethics", channel(n, "ethics", "mailtos")) == Recipient(None, personal=False)
    # the PI of another study is not this study's PI, even at the same address
    assert who(STUDY, "pi", channel(n, "pi", "mailtos")) == Recipient(None, personal=False)


def test_the_message_link_names_the_person_the_routing_sends_it_to(tmp_path: Path) -> None:
    n = notifier(tmp_path)
    users = Users({"dr.wang": person("dr.wang", ("pi",), "wang@hospital.example")})
    now = datetime(2026, 8, 1, tzinfo=UTC)
    links = LinkMaker(
        "https://safety.example",
        "k3Jv9-QxT2mLw8Zr4bYp6NcHs1DfGuEa",
        timedelta(days=7),
        lambda: now,
        Recipients(n, users),
    )
    alert = make_alert("SAE")
    for scheme, auth in (("mailtos", "link"), ("wecombot", "signin")):
        target = next(c.target for c in n.channels if c.target.recipient == "pi" and c.target.scheme == scheme)
        url = links(alert, Delivery(message="alert", channel=target.channel, recipient="pi", scheme=scheme))
        assert url is not None
        q = parse_qs(urlsplit(url).query)
        assert (q["person"], q["auth"]) == (["dr.wang"], [auth])
