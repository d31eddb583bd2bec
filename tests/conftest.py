"""Shared fixtures (the repository layout and the study's rule set) and how the suite shares two cores.

`make test` runs pytest-xdist with ``--dist loadgroup``: every slow test (a real broker, worker processes, a
browser) is in one group, so they run one after another on one process as they were written to (their timeouts
assume a core each), while the fast tests, grouped per module so a module fixture is built once, run on the other.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        group = "slow" if item.get_closest_marker("slow") else item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def ruleset():  # type: ignore[no-untyped-def]
    from streams.rulefiles import load_ruleset

    return load_ruleset()
