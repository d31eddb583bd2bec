"""The people who may sign in: a users file (YAML) with each person's login name, roles, studies and password hash.

Acknowledgements must be attributable to a person (docs/architecture.md, "Guarantees"), so the pages and the
acknowledge buttons act for the person signed in, not for a role shared by everyone who holds its token. The file
(``SAFETY_USERS_FILE``) is strict: an unknown key, an unknown role, a duplicate name or a password stored in any
form other than an argon2id hash is refused when the worker starts, in one line naming the file and the entry::

    users:
      - name: dr.wang              # login name: letters, digits, '.', '_', '-'
        display: 王医生 / Dr Wang    # shown on the pages and recorded with each action (optional)
        roles: [pi]
        studies: [HCC-CART-001]      # or ["*"] for every study of the deployment
        password_hash: $argon2id$v=19$m=65536,t=3,p=4$...
        email: wang@hospital.example # optional: the address of their messages (streams/notify/recipients.py)
        oidc_subject: 8f2c...        # optional: their account's ``sub`` at the hospital's provider (oidc.py)

``safety users hash`` is not needed: ``python -c "from argon2 import PasswordHasher; print(PasswordHasher().hash(
input('password: ')))"`` makes a hash (argon2-cffi, salted, argon2id with its recommended parameters).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from safety.errors import SafetyError
from safety.vocab import Role

HASHER = PasswordHasher()
# A hash of nothing anyone knows: an unknown name costs the same verification as a known one (no timing signal
# telling which login names exist).
_DECOY = HASHER.hash("decoy password for unknown login names")

LoginName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]


class UsersFileError(SafetyError, ValueError):
    """The users file is unreadable or an entry is invalid; the message names the file and the entry."""


class User(BaseModel):
    """One person; ``display`` (else ``name``) is what their actions are recorded under."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: LoginName
    display: str | None = Field(None, min_length=1, max_length=100)
    roles: tuple[Role, ...] = Field(min_length=1)
    studies: tuple[str, ...] = Field(min_length=1)
    password_hash: str
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)
    oidc_subject: str | None = Field(None, min_length=1, max_length=255)

    @field_validator("password_hash")
    @classmethod
    def _argon2id(cls, value: str) -> str:
        if not value.startswith("$argon2id$"):
            raise ValueError(
                "is not an argon2id hash: store only the hash, made with "
                "python -c \"from argon2 import PasswordHasher; print(PasswordHasher().hash(input('password: ')))\""
            )
        return value

    @property
    def label(self) -> str:
        return self.display or self.name

    def may_see(self, study_id: str) -> bool:
        return "*" in self.studies or study_id in self.studies


class _UsersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    users: list[User]


@dataclass(frozen=True)
class Users:
    """The users by login name."""

    by_name: Mapping[str, User]

    def check(self, name: str, password: str) -> User | None:
        """The user when ``password`` is theirs, else None; unknown names take as long as known ones."""
        user = self.by_name.get(name)
        try:
            HASHER.verify(user.password_hash if user is not None else _DECOY, password)
        except (VerificationError, InvalidHashError):
            return None
        return user


NO_USERS = Users({})


def load_users(path: Path | None) -> Users:
    """The users of ``path`` (None: nobody can sign in with a password; the role tokens still work)."""
    if path is None:
        return NO_USERS
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = _UsersFile.model_validate(data)
    except OSError as exc:
        raise UsersFileError(f"{path}: cannot be read ({exc.strerror}); check SAFETY_USERS_FILE") from None
    except yaml.YAMLError as exc:
        raise UsersFileError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise UsersFileError(f"{path}: {where}: {err['msg']} (see streams/web/users.py for the format)") from None
    found: dict[str, User] = {}
    for user in parsed.users:
        if user.name in found:
            raise UsersFileError(f"{path}: user {user.name!r} appears twice; give each person one entry")
        found[user.name] = user
    return Users(found)
