"""The functional core has an import fence (architecture convention 1): safety/ never imports the shell."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"faust", "apprise", "prometheus_client", "aiohttp", "kafka", "aiokafka", "mode", "streams"}
# The command-line shells may reach the stream stack, lazily, as the contract's `safety` command needs.
SHELL_MODULES = {"cli.py", "__main__.py"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_imports_no_stream_delivery_or_metrics_library() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & FORBIDDEN)
        for path in (ROOT / "safety").rglob("*.py")
        if path.name not in SHELL_MODULES and _imports(path) & FORBIDDEN
    }
    assert offenders == {}


def test_core_reads_no_wall_clock() -> None:
    """Time is an input (convention 2): replay must be deterministic, so the core never asks for 'now'."""
    offenders = []
    for path in (ROOT / "safety").rglob("*.py"):
        if path.name in SHELL_MODULES or path.name.endswith("_cli.py"):
            continue
        text = path.read_text(encoding="utf-8")
        if any(call in text for call in ("datetime.now(", "time.time(", "date.today(", "datetime.utcnow(")):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
