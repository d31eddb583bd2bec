"""Shared fixtures: the repository layout and the study's rule set."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def ruleset():  # type: ignore[no-untyped-def]
    from streams.rulefiles import load_ruleset

    return load_ruleset()
