"""Both packages type-check under ``mypy --strict`` and pass ruff (their settings: pyproject.toml).

Run in the suite so CI fails on a type error the way it fails on a test: most of what mypy finds here is an
Optional used as a value, and in grading or alerting that is a wrong grade or a missed alert.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_safety_and_streams_type_check_strictly() -> None:
    result = run("mypy")  # settings in pyproject.toml [tool.mypy]: strict, files safety and streams
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_passes_ruff() -> None:
    result = run("ruff", "check", "safety", "streams", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr
