"""The `safety` command. A thin shell: each subcommand parses its arguments and calls one function.

Subcommands that need the stream stack (faust, apprise) are imported only when used, so `safety replay` and
`safety rules check` start fast and the pure core never imports the shell.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

# name -> (module, function taking argv and returning an exit code, one-line help)
DELEGATED: dict[str, tuple[str, str, str]] = {
    "demo": ("streams.dev.demo", "demo_main", "run the synthetic trial through the stream (embedded broker default)"),
    "worker": ("streams.worker.run", "worker_main", "run the stream worker against SAFETY_KAFKA_BOOTSTRAP"),
    "produce": ("streams.admin", "produce_main", "publish a JSON-lines file of events to the input topic"),
    "deliver": ("streams.cli.deliver", "deliver_main", "deliver an alerts.jsonl file to the configured channels"),
    "ack": ("streams.cli.ack", "ack_main", "acknowledge an alert on the worker (PI, ethics, safety officer)"),
    "report": ("streams.cli.report", "report_main", "build the ethics committee reports from a replay folder"),
}


def _replay(args: argparse.Namespace) -> int:
    from streams.cli.replay import run

    return run(args.events, args.out, args.rules, quiet=args.quiet, progress=args.progress)


def _rules_check(args: argparse.Namespace) -> int:
    """Check every file (a directory: its *.yaml); one line per refused file on stderr, exit 1 if any is."""
    from safety.errors import SafetyError
    from streams.cli.rules import rules_check, study_files

    try:
        files = study_files(args.files)
    except SafetyError as exc:
        print(f"safety rules check: {exc}", file=sys.stderr)
        return 1
    failed = 0
    for index, path in enumerate(files):
        try:
            summary = rules_check(path)
        except SafetyError as exc:
            print(f"safety rules check: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(("\n" if index else "") + summary)
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="safety",
        description="Clinical-trial safety surveillance: CTCAE grading, DLT/SAE rules and alerting.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    replay = sub.add_parser("replay", help="grade and evaluate a JSON-lines file of events offline",
                            description="Run the stream's rules engine over a JSON-lines file of events, in order, "
                                        "and write DIR/graded.jsonl, DIR/alerts.jsonl, DIR/rejected.jsonl and "
                                        "DIR/events.jsonl (the accepted input).")
    replay.add_argument("events", type=Path, help="JSON-lines file of input events, replayed in the order given")
    replay.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    replay.add_argument("--rules", type=Path, default=None,
                        help="a study rules file, or a directory of them (default: every study in "
                             "rules/studies); each event is evaluated under its own study's rules")
    replay.add_argument("--quiet", action="store_true", help="print no summary")
    replay.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show a progress bar on stderr (default: for a file of 5 MB or more in a terminal)")
    replay.set_defaults(func=_replay)
    rules = sub.add_parser("rules", help="validate rule files", description="Validate rule files.")
    rules_sub = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    check = rules_sub.add_parser("check", help="validate study rules files and print what each enables",
                                 description="Validate study rules files (rules/studies/*.yaml) against the CTCAE "
                                             "criteria they select and print what each enables; exit 1 if any is "
                                             "invalid.")
    check.add_argument("files", type=Path, nargs="+", metavar="FILE|DIR",
                       help="a study rules file, or a directory: every *.yaml in it")
    check.set_defaults(func=_rules_check)
    for name, (_, _, text) in DELEGATED.items():
        sub.add_parser(name, help=text, add_help=False)
    return parser


def _delegate(name: str) -> Callable[[list[str]], int]:
    module, function, _ = DELEGATED[name]
    return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]


SETTINGS_MODELS = ("Settings", "DeliverySettings")  # streams.settings, streams.notify.channels


def _run_delegated(name: str, argv: list[str]) -> int:
    """Run a shell subcommand; a configuration it refuses is one line on stderr and exit 2, not a traceback."""
    from pydantic import ValidationError

    from safety.errors import SafetyError

    try:
        return _delegate(name)(argv)
    except SafetyError as exc:
        print(f"safety {name}: {exc}", file=sys.stderr)
    except ValidationError as exc:
        if exc.title not in SETTINGS_MODELS:
            raise
        from streams.settings import describe

        print(f"safety {name}: {describe(exc)}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in DELEGATED:
        return _run_delegated(args_list[0], args_list[1:])
    parser = build_parser()
    args = parser.parse_args(args_list)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
