"""The `safety` command: one click group whose subcommands are imported only when they run.

``COMMANDS`` names each subcommand's click command as ``"module:attribute"``; the group imports that module when
the subcommand is asked for (click's "Lazily Loading Subcommands"), so `safety replay` and `safety rules check` never
import faust or apprise, and a new subcommand is one line in ``COMMANDS``. A command's callback returns its exit
code; a ``SafetyError`` it lets through (a refused setting or rules file) is one line on stderr and exit 2.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import click

from safety.errors import SafetyError

COMMANDS: dict[str, str] = {
    "replay": "streams.cli.replay:replay_command",
    "rules": "streams.cli.rules:rules_command",
    "demo": "streams.dev.demo:demo_command",
    "worker": "streams.worker.run:worker_command",
    "produce": "streams.admin:produce_command",
    "topics": "streams.admin:topics_command",
    "deliver": "streams.cli.deliver:deliver_command",
    "ack": "streams.cli.ack:ack_command",
    "report": "streams.cli.report:report_command",
    "import": "streams.cli.importing:import_group",
    "documents": "streams.cli.documents:documents_command",
    "audit": "streams.cli.audit:audit_command",
    "users": "streams.cli.users:users_command",
}


class LazyGroup(click.Group):
    """A group whose ``lazy`` subcommands (name -> "module:attribute") are imported on first use."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *self.lazy]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = self.lazy[cmd_name].partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"COMMANDS[{cmd_name!r}] = {self.lazy[cmd_name]!r} is not a click command")
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SafetyError as exc:
            click.echo(f"safety {ctx.invoked_subcommand}: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
def safety() -> None:
    """Clinical-trial safety surveillance: CTCAE grading, DLT/SAE rules and alerting."""


@safety.result_callback()
def _exit_with(code: int | None) -> None:
    """A subcommand's callback returns its exit code (None: 0)."""
    click.get_current_context().exit(code or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``safety`` with ``argv`` (default: the process arguments) and return its exit code."""
    try:
        safety.main(args=list(sys.argv[1:] if argv is None else argv), prog_name="safety")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
