"""`safety users token create|list|revoke`: the per-person API tokens of scripts (streams/web/apitokens.py).

``create`` prints the new token once (only its SHA-256 is kept) and ``revoke`` withdraws one by its id; both are
configuration changes, so each is first recorded on safety.audit (person: the operating-system account that ran
the command) and the change is made only when the record was written. ``list`` shows ids, people, labels and
dates, never a token. The person must be in the users file (SAFETY_USERS_FILE): a token acts as that person.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from streams.settings import Settings
from streams.web import apitokens
from streams.web.audit import command_record
from streams.web.users import load_users

AuditSink = Callable[[dict[str, Any]], None]


def kafka_audit(settings: Settings) -> AuditSink:
    """Send one record to safety.audit and wait until the broker has it."""
    if not settings.kafka.bootstrap:
        raise click.UsageError(
            "token changes are recorded on safety.audit: set SAFETY_KAFKA_BOOTSTRAP (or pass --bootstrap)"
        )

    def send(entry: dict[str, Any]) -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers(), acks="all")
        try:
            value = json.dumps(entry, ensure_ascii=False, sort_keys=True).encode("utf-8")
            producer.send(settings.topics.audit, key=entry["person"].encode(), value=value).get(timeout=30)
        finally:
            producer.close()

    return send


def _context(ctx: click.Context, bootstrap: str | None) -> tuple[Settings, Path, AuditSink]:
    settings = Settings.load(kafka={"bootstrap": bootstrap} if bootstrap else {})
    path = settings.auth.api_tokens_file
    if path is None:
        raise click.UsageError("set SAFETY_API_TOKENS_FILE: the file the worker reads per-person API tokens from")
    sink = (ctx.obj or {}).get("audit") or kafka_audit(settings)
    return settings, path, sink


BOOTSTRAP = click.option("--bootstrap", default=None, help="Kafka host:port (default: SAFETY_KAFKA_BOOTSTRAP)")


@click.group("users", short_help="people's API tokens for scripts")
def users_command() -> None:
    """The people of the users file and their API tokens."""


@users_command.group("token")
def token_group() -> None:
    """Per-person API tokens: a script sends 'Authorization: Bearer <token>' and acts as that person."""


@token_group.command("create", help="Make a token for a person; it is printed once and stored only as a digest.")
@click.option("--user", "user", required=True, help="login name in the users file")
@click.option("--name", "label", required=True, help="what the token is for, e.g. 'nightly export'")
@BOOTSTRAP
@click.pass_context
def create_command(ctx: click.Context, user: str, label: str, bootstrap: str | None) -> int:
    settings, path, audit = _context(ctx, bootstrap)
    if user not in load_users(settings.auth.users_file).by_name:
        raise click.UsageError(f"no person {user[:64]!r} in the users file (SAFETY_USERS_FILE); add them first")
    now, by = datetime.now(UTC), getpass.getuser()
    if not 0 < len(" ".join(label.split())) <= apitokens.LABEL_MAX:
        raise click.BadParameter(f"one line of 1 to {apitokens.LABEL_MAX} characters", param_hint="--name")
    audit(command_record(now, person=by, action="token_created", target=f"user {user}", reason=label))
    token, record = apitokens.create(path, user, label, now, by)
    click.echo(f"token {record.id} for {user} ({record.name}); shown once, store it now:")
    click.echo(token)
    return 0


@token_group.command("list", help="The tokens of the file: id, person, label, created, revoked (never a token).")
def list_command() -> int:
    path = Settings.load().auth.api_tokens_file
    if path is None:
        raise click.UsageError("set SAFETY_API_TOKENS_FILE: the file the worker reads per-person API tokens from")
    for r in apitokens.listing(path):
        click.echo(
            f"{r.id}\t{r.user}\t{r.name}\tcreated {r.created}\t{'revoked ' + r.revoked if r.revoked else 'active'}"
        )
    return 0


@token_group.command("revoke", help="Withdraw a token by its id; the worker refuses it from the next request on.")
@click.argument("token_id")
@BOOTSTRAP
@click.pass_context
def revoke_command(ctx: click.Context, token_id: str, bootstrap: str | None) -> int:
    _, path, audit = _context(ctx, bootstrap)
    known = apitokens.revocable(path, token_id)
    now, by = datetime.now(UTC), getpass.getuser()
    audit(command_record(now, person=by, action="token_revoked", target=f"user {known.user}", reason=token_id))
    apitokens.revoke(path, token_id, now, by)
    click.echo(f"token {token_id} of {known.user} revoked")
    return 0
