"""The `safety` command: every subcommand answers --help, and `python -m safety` is the same command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from safety.cli import DELEGATED


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "safety", *args], capture_output=True, text=True, timeout=120)


def test_top_level_help_lists_every_subcommand() -> None:
    result = run("--help")
    assert result.returncode == 0
    for name in ["replay", "rules", *DELEGATED]:
        assert name in result.stdout


@pytest.mark.parametrize("command", [["replay"], ["rules"], ["rules", "check"], *[[name] for name in DELEGATED]])
def test_every_subcommand_has_help(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_missing_events_file_is_a_one_line_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = run("replay", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "no such file" in result.stderr


def closed_port() -> int:
    """A loopback port nothing listens on."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_produce_to_an_unreachable_broker_says_so_in_one_line_within_ten_seconds(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"type": "lab", "subject_id": "AA-001"}\n', encoding="utf-8")
    address = f"127.0.0.1:{closed_port()}"
    result = subprocess.run([sys.executable, "-m", "safety", "produce", str(events), "--bootstrap", address],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert f"no answer from the broker at {address}" in result.stderr
    assert "Traceback" not in result.stderr


def test_produce_keys_a_line_nested_too_deep_to_read_by_nothing_instead_of_crashing() -> None:
    from streams.admin import subject_key

    assert subject_key(b'{"subject_id": "AA-001", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}") is None
    assert subject_key(b'{"subject_id": "AA-001"}') == b"AA-001"


def help_text(command: str) -> tuple[str, str]:
    """(description paragraph, whole help) of `safety COMMAND --help`."""
    result = run(command, "--help")
    assert result.returncode == 0, result.stderr
    paragraphs = result.stdout.split("\n\n")
    return " ".join(paragraphs[1].split()), result.stdout


@pytest.mark.parametrize("command", ["ack", "deliver", "produce"])
def test_help_of_the_delivery_commands_reads_as_sentences(command: str) -> None:
    description, whole = help_text(command)
    assert description[0].isupper() and description.endswith("."), description
    assert not description.startswith("`"), description


@pytest.mark.parametrize(("module", "command"), [("streams.ack_cli", "ack"), ("streams.deliver_cli", "deliver")])
def test_every_argument_of_ack_and_deliver_is_explained(module: str, command: str) -> None:
    import importlib

    parser = importlib.import_module(module)._parser()
    for action in parser._actions:
        assert action.help and len(action.help.split()) >= 3, (command, action.dest)


def test_ack_url_is_documented_with_its_default_the_workers_address() -> None:
    _, whole = help_text("ack")
    assert "--url URL             the worker's web address" in whole
    assert "default: http://127.0.0.1:6066" in " ".join(whole.split())


def test_the_demo_serves_on_the_port_ack_reaches_by_default_when_it_is_free() -> None:
    import socket

    from streams.ack_cli import DEFAULT_URL
    from streams.demo import serve_port
    from streams.settings import Settings

    assert DEFAULT_URL == f"http://127.0.0.1:{Settings().web_port}"
    port = closed_port()
    assert serve_port(Settings(web_port=port)) == port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        assert serve_port(Settings(web_port=port)) != port
