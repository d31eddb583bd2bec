"""`safety users token create|list|revoke`: a token printed once, stored as a digest, each change audited first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

from streams.cli import safety
from streams.web import apitokens


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    users = tmp_path / "users.yaml"
    hashed = PasswordHasher().hash("unused")
    users.write_text(
        f"users:\n  - {{name: dr.wang, roles: [pi], studies: ['*'], password_hash: '{hashed}'}}\n", encoding="utf-8"
    )
    monkeypatch.setenv("SAFETY_USERS_FILE", str(users))
    monkeypatch.setenv("SAFETY_API_TOKENS_FILE", str(tmp_path / "tokens.jsonl"))
    return tmp_path / "tokens.jsonl"


def run(args: list[str], audit: list[dict[str, Any]]) -> Any:
    return CliRunner().invoke(safety, args, obj={"audit": audit.append})


def test_create_prints_the_token_once_stores_its_digest_and_audits_the_change(env: Path) -> None:
    audit: list[dict[str, Any]] = []
    result = run(["users", "token", "create", "--user", "dr.wang", "--name", "nightly export"], audit)
    assert result.exit_code == 0, result.output
    token = result.output.splitlines()[-1]
    assert token.startswith(apitokens.PREFIX) and token not in env.read_text()
    assert apitokens.ApiTokens(env).find(token) is not None
    assert [(r["action"], r["target"], r["reason"]) for r in audit] == [
        ("token_created", "user dr.wang", "nightly export")
    ]
    listed = run(["users", "token", "list"], audit)
    assert "dr.wang\tnightly export" in listed.output and token not in listed.output


def test_revoke_withdraws_the_token_and_audits_it(env: Path) -> None:
    audit: list[dict[str, Any]] = []
    token = run(["users", "token", "create", "--user", "dr.wang", "--name", "laptop"], audit).output.splitlines()[-1]
    token_id = apitokens.listing(env)[0].id
    result = run(["users", "token", "revoke", token_id], audit)
    assert result.exit_code == 0 and (apitokens.ApiTokens(env).find(token) or None).revoked  # type: ignore[union-attr]
    assert audit[-1]["action"] == "token_revoked" and audit[-1]["reason"] == token_id
    again = run(["users", "token", "revoke", token_id], audit)
    assert again.exit_code == 2 and "revoked at" in again.output and len(audit) == 2


def test_a_token_for_someone_not_in_the_users_file_is_refused(env: Path) -> None:
    audit: list[dict[str, Any]] = []
    result = run(["users", "token", "create", "--user", "nobody", "--name", "x"], audit)
    assert result.exit_code == 2 and "users file" in result.output and audit == [] and not env.exists()
