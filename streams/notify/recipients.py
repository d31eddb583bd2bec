"""Who a message's acknowledgement link acts for: the person behind the channel it is sent on.

A link in a message must act for the person it was sent to, never for whoever holds it (docs/architecture.md,
"Identity"): a WeCom or DingTalk group sees the PI's link, and a forwarded e-mail reaches someone else. The routing
(streams/notify/channels.py) knows each channel's study and role; the users file (streams/web/users.py) knows who
holds that role in that study and their e-mail address. So:

* an e-mail channel with exactly one address, which is the ``email`` of exactly one person holding the role in the
  alert's study, is **personal**: its link names that person and acknowledges as them without a sign-in (only
  they received it);
* any other channel (a group chat, a shared mailbox, the demo's console) is **shared**: its link names the person
  when exactly one person holds the role in the study, and then requires that person to sign in; when several do
  (or the users file names nobody), it names nobody and requires a sign-in as any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.notify.channels import AppriseChannel, Notifier
from streams.web.users import User, Users

PERSONAL_SCHEMES = ("mailto", "mailtos")


@dataclass(frozen=True)
class Recipient:
    """``person``: the login name the link names (None: any person holding the role); ``personal``: the channel
    reaches that person alone, so the link acts without a sign-in."""

    person: str | None
    personal: bool


def _addresses(service: Any) -> set[str]:
    found = [*getattr(service, "targets", ()), *getattr(service, "cc", ()), *getattr(service, "bcc", ())]
    return {(a[1] if isinstance(a, tuple) else str(a)).strip().lower() for a in found}


def _holders(users: Users, study_id: str, role: str) -> list[User]:
    return [u for u in users.by_name.values() if role in u.roles and u.may_see(study_id)]


class Recipients:
    """The recipient of each (study, role, channel) of a deployment's notifier and users file."""

    def __init__(self, notifier: Notifier | None, users: Users) -> None:
        self.users = users
        self._addresses: dict[str, set[str]] = {
            c.target.channel: _addresses(c.service)
            for c in (notifier.channels if notifier is not None else ())
            if isinstance(c, AppriseChannel) and c.target.scheme in PERSONAL_SCHEMES
        }

    def __call__(self, study_id: str, role: str, channel: str) -> Recipient:
        holders = _holders(self.users, study_id, role)
        addresses = self._addresses.get(channel, set())
        if len(addresses) == 1:
            owners = [u for u in holders if u.email is not None and u.email.lower() in addresses]
            if len(owners) == 1:
                return Recipient(owners[0].name, personal=True)
        return Recipient(holders[0].name if len(holders) == 1 else None, personal=False)
