"""Signed acknowledgement links (streams/web/auth.py): one spelling per link, refused when tampered with, expired,
signed with another secret or for another purpose. That a used link answers 409 is in test_acks.py."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from itsdangerous import Signer

from streams.web.auth import ACK_LINK_SALT, LinkFor, ack_link, link_id, sign_link, verify_link

SECRET = "k3Jv9-QxT2mLw8Zr4bYp6NcHs1DfGuEa"
ALERT = "0123456789abcdef01234567"
NOW = datetime(2026, 8, 1, 2, 0, tzinfo=UTC)
EXPIRES = int((NOW + timedelta(hours=168)).timestamp())
SIG = sign_link(SECRET, ALERT, "pi", EXPIRES)


def test_a_link_carries_role_expiry_and_a_url_safe_signature() -> None:
    url = urlsplit(ack_link("https://safety.example/", SECRET, ALERT, "pi", EXPIRES))
    assert (url.scheme, url.netloc, url.path) == ("https", "safety.example", f"/alerts/{ALERT}/ack")
    assert parse_qs(url.query) == {"role": ["pi"], "exp": [str(EXPIRES)], "sig": [SIG]}
    assert SIG.replace("-", "").replace("_", "").isalnum()  # nothing a mail client or a chat app re-encodes


def test_a_link_is_valid_until_its_expiry_and_expired_one_second_later() -> None:
    at_expiry = datetime.fromtimestamp(EXPIRES, UTC)
    anyone_signed_in = LinkFor(None, signin=True)
    assert verify_link(SECRET, ALERT, "pi", str(EXPIRES), SIG, NOW) == anyone_signed_in
    assert verify_link(SECRET, ALERT, "pi", str(EXPIRES), SIG, at_expiry) == anyone_signed_in
    assert verify_link(SECRET, ALERT, "pi", str(EXPIRES), SIG, at_expiry + timedelta(seconds=1)) == "link expired"


@pytest.mark.parametrize(
    ("alert_id", "role", "expires", "signature", "reason"),
    [
        ("f" * 24, "pi", str(EXPIRES), SIG, "bad signature"),  # another alert
        (ALERT, "ethics", str(EXPIRES), SIG, "bad signature"),  # another role
        (ALERT, "pi", str(EXPIRES + 86400), SIG, "bad signature"),  # a later expiry
        (ALERT, "pi", str(EXPIRES), SIG[:-2] + ("AA" if SIG[-2:] != "AA" else "BB"), "bad signature"),
        (ALERT, "pi", str(EXPIRES), "", "bad signature"),
        (ALERT, "pi", str(EXPIRES), "签名", "bad signature"),
        (ALERT, "pi", str(EXPIRES), SIG.encode().hex(), "bad signature"),
        (ALERT, "admin", str(EXPIRES), SIG, "unknown role"),
        (ALERT, "pi", "tomorrow", SIG, "malformed expiry"),
    ],
)
def test_a_tampered_link_is_refused_with_the_reason(
    alert_id: str, role: str, expires: str, signature: str, reason: str
) -> None:
    assert verify_link(SECRET, alert_id, role, expires, signature, NOW) == reason


def test_every_other_spelling_of_the_signature_is_refused() -> None:
    """base64 leaves spare bits in the last character: another letter can decode to the same bytes. Only the one
    spelling passes, so one link has one ``link_id`` and acknowledges once."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    spellings = [SIG[:-1] + c for c in alphabet if c != SIG[-1]]
    assert [s for s in spellings if isinstance(verify_link(SECRET, ALERT, "pi", EXPIRES, s, NOW), LinkFor)] == []
    assert len({link_id(SIG), link_id(sign_link(SECRET, ALERT, "pi", EXPIRES))}) == 1


def test_a_signature_made_with_another_secret_or_for_another_purpose_is_refused() -> None:
    other_secret = sign_link("Zr4bYp6NcHs1DfGuEak3Jv9-QxT2mLw8", ALERT, "pi", EXPIRES)
    assert verify_link(SECRET, ALERT, "pi", EXPIRES, other_secret, NOW) == "bad signature"
    text = f"{ALERT}|pi|{EXPIRES}"
    other_purpose = Signer(SECRET, salt="safety.other", digest_method=hashlib.sha256).get_signature(text).decode()
    assert verify_link(SECRET, ALERT, "pi", EXPIRES, other_purpose, NOW) == "bad signature"
    same_purpose = Signer(SECRET, salt=ACK_LINK_SALT, digest_method=hashlib.sha256).get_signature(text).decode()
    assert same_purpose == SIG


def test_the_link_id_names_a_link_without_revealing_its_signature() -> None:
    assert SIG not in link_id(SIG) and link_id(SIG) != link_id(sign_link(SECRET, ALERT, "ethics", EXPIRES))


def test_a_link_names_its_person_and_whether_they_must_sign_in_and_neither_can_be_changed() -> None:
    url = urlsplit(ack_link("https://safety.example", SECRET, ALERT, "pi", EXPIRES, person="dr.wang", signin=False))
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert (q["person"], q["auth"]) == ("dr.wang", "link")
    assert verify_link(SECRET, ALERT, "pi", EXPIRES, q["sig"], NOW, "dr.wang", "link") == LinkFor("dr.wang", False)
    assert verify_link(SECRET, ALERT, "pi", EXPIRES, q["sig"], NOW, "dr.li", "link") == "bad signature"
    assert verify_link(SECRET, ALERT, "pi", EXPIRES, q["sig"], NOW, "dr.wang", "signin") == "bad signature"
    assert verify_link(SECRET, ALERT, "pi", EXPIRES, q["sig"], NOW) == "bad signature"  # the person dropped
    assert verify_link(SECRET, ALERT, "pi", EXPIRES, q["sig"], NOW, "dr wang|x", "link") == "malformed person"


def test_a_rotated_key_still_verifies_the_links_it_signed_and_the_new_key_signs() -> None:
    new = "Zr4bYp6NcHs1DfGuEak3Jv9-QxT2mLw8"
    keys = [new, SECRET]  # newest first: SAFETY_LINK_SECRET, then SAFETY_LINK_PREVIOUS_SECRETS
    assert verify_link(keys, ALERT, "pi", EXPIRES, SIG, NOW) == LinkFor(None, signin=True)  # signed before
    fresh = sign_link(new, ALERT, "pi", EXPIRES)
    assert verify_link(keys, ALERT, "pi", EXPIRES, fresh, NOW) == LinkFor(None, signin=True)
    assert verify_link([new], ALERT, "pi", EXPIRES, SIG, NOW) == "bad signature"  # the old key dropped


def test_the_settings_give_the_link_keys_newest_first_and_refuse_a_weak_previous_one() -> None:
    from streams.settings import Settings, SettingsError

    new = "Zr4bYp6NcHs1DfGuEak3Jv9-QxT2mLw8"
    auth = Settings.load(auth={"link_secret": new, "link_previous_secrets": f"{SECRET}, {SECRET[::-1]}"}).auth
    assert auth.link_keys() == [new, SECRET, SECRET[::-1]]
    with pytest.raises(SettingsError, match="SAFETY_LINK_PREVIOUS_SECRETS.*: secret 2 has 5 characters") as err:
        Settings.load(auth={"link_previous_secrets": f"{SECRET},short"})
    assert SECRET not in str(err.value)
