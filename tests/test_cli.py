"""The `safety` command: every subcommand answers --help, and `python -m safety` is the same command."""

from __future__ import annotations

import subprocess
import sys

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
