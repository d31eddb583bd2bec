"""The functional core is a core (docs/architecture.md, "Two halves: a pure core and a shell").

`safety/` is pure: it never reaches the shell (`streams`) or a framework, whatever the route (an import statement,
absolute or relative, or an import by name at run time); it reads no clock and no environment and does no I/O. Time
comes from the event and rules are an argument, so replay is deterministic and the stream gives the same alerts.
Pure libraries (pydantic, yaml, scipy, jinja2, itsdangerous) are allowed.

Every package declares its API in `__init__.__all__`, and the shell's packages load lazily: `import streams.cli`
imports no stream stack, so `safety --help` and `safety replay` start fast.
"""

from __future__ import annotations

import ast
import functools
import importlib
import json
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import safety
import streams

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "safety"

SHELL = "streams"
FRAMEWORKS = frozenset(
    {
        "faust",
        "mode",
        "aiokafka",
        "kafka",
        "apprise",
        "aiohttp",
        "prometheus_client",
        "rich",
        "click",
        "pydantic_settings",
    }
)
FORBIDDEN = FRAMEWORKS | {SHELL}
# Machinery that imports a module named by a string (importlib.import_module, importlib.util.find_spec,
# __import__, runpy, sys.modules): a fence on import statements cannot see through it, so the core uses none.
DYNAMIC_MODULES = frozenset({"importlib", "imp", "runpy", "pkgutil", "zipimport", "builtins", "sys"})
DYNAMIC_NAMES = frozenset({"__import__", "__builtins__", "exec", "eval", "compile"})  # builtins; re.compile is fine

CLOCK_ATTRIBUTES = frozenset({"now", "utcnow", "today"})  # datetime.now, datetime.utcnow, date.today, aliases too
CLOCK_MODULES = frozenset({"time"})  # time.time, time.monotonic, time.perf_counter, time.time_ns ...
ENVIRONMENT_NAMES = frozenset({"environ", "environb", "getenv", "putenv"})
IO_CALLS = frozenset({"open", "print", "input"})
IO_ATTRIBUTES = frozenset(
    {
        "open",
        "read_text",
        "read_bytes",
        "write_text",
        "write_bytes",
        "iterdir",
        "glob",
        "rglob",
        "exists",
        "is_file",
        "is_dir",
        "stat",
        "mkdir",
        "unlink",
        "touch",
        "resolve",
    }
)
IO_MODULES = frozenset({"os", "io", "socket", "subprocess", "shutil", "tempfile", "urllib", "http", "asyncio"})


def _core_files() -> Iterator[tuple[str, Path]]:
    for path in sorted(CORE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    """Every module an import statement names, relative ones resolved against ``module``'s package."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)] if package else []
                base = ".".join([*anchor, base] if base else anchor)
            names.update(f"{base}.{alias.name}" if base else alias.name for alias in node.names)
            names.add(base)
    return {name for name in names if name}


def _roots(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def _offences(source: str, module: str = "safety.example", is_package: bool = False) -> dict[str, set[str]]:
    """What the fence finds in one module's source, by rule: forbidden imports, dynamic imports, clock,
    environment and I/O. An empty set for each rule is a clean module."""
    tree = ast.parse(source)
    roots = _roots(_imported(tree, module, is_package))
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    imported_names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
    called = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    return {
        "imports": roots & FORBIDDEN,
        "dynamic imports": (roots & DYNAMIC_MODULES)
        | (names & DYNAMIC_NAMES)
        | (attributes & {"__import__"})
        | (strings & {"__import__", "import_module", "find_spec"}),
        "clock": (roots & CLOCK_MODULES) | (attributes & CLOCK_ATTRIBUTES) | (imported_names & CLOCK_ATTRIBUTES),
        "environment": (attributes | imported_names | names) & ENVIRONMENT_NAMES,
        "io": (called & IO_CALLS) | (attributes & IO_ATTRIBUTES) | (roots & IO_MODULES),
    }


@functools.cache
def _core_offences() -> dict[str, dict[str, set[str]]]:
    return {
        str(path.relative_to(ROOT)): _offences(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
        for module, path in _core_files()
    }


def _core_offenders(rule: str) -> dict[str, list[str]]:
    return {path: sorted(found[rule]) for path, found in _core_offences().items() if found[rule]}


# ---------------------------------------------------------------------------------------------------------------
# The fence itself: what it catches (so a clean result means something)
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ("import streams.web.pages", "imports"),
        ("from streams.cli import main", "imports"),
        ("import faust as f", "imports"),
        ("from aiokafka.structs import TopicPartition", "imports"),
        ("import pydantic_settings", "imports"),
        ("def f():\n    from apprise import Apprise", "imports"),
        ("from ... import streams", "imports"),  # relative, from safety/sub/module.py: the top level
        ("import importlib\nimportlib.import_module('streams.cli')", "dynamic imports"),
        ("from importlib import import_module\nimport_module('faust')", "dynamic imports"),
        ("import importlib.util\nimportlib.util.find_spec('streams')", "dynamic imports"),
        ("__import__('streams')", "dynamic imports"),
        ("import builtins\nbuiltins.__import__('faust')", "dynamic imports"),
        ("getattr(__builtins__, '__import__')('faust')", "dynamic imports"),
        ("exec('import streams')", "dynamic imports"),
        ("import sys\nsys.modules['streams']", "dynamic imports"),
        ("from datetime import datetime\ndatetime.now()", "clock"),
        ("from datetime import datetime as dt, UTC\ndt.now(UTC)", "clock"),
        ("import datetime\ndatetime.datetime.utcnow()", "clock"),
        ("from datetime import date\ndate.today()", "clock"),
        ("import time\ntime.time()", "clock"),
        ("from time import monotonic\nmonotonic()", "clock"),
        ("import os\nos.environ['SAFETY_X']", "environment"),
        ("import os\nos.getenv('SAFETY_X')", "environment"),
        ("from os import environ", "environment"),
        ("open('rules/units.yaml')", "io"),
        ("from pathlib import Path\nPath('x').read_text()", "io"),
        ("from pathlib import Path\nPath('x').read_bytes()", "io"),
        ("from pathlib import Path\nPath('x').write_text('y')", "io"),
        ("from pathlib import Path\nwith Path('x').open() as f:\n    pass", "io"),
        ("import socket", "io"),
        ("import subprocess", "io"),
        ("print('progress')", "io"),
    ],
)
def test_the_fence_catches_each_route(source: str, rule: str) -> None:
    assert _offences(source, "safety.sub.module")[rule], f"the fence misses: {source!r}"


def test_the_fence_passes_what_the_core_may_do() -> None:
    source = (
        "from __future__ import annotations\n"
        "from datetime import datetime, timedelta\n"
        "from pathlib import PurePosixPath\n"
        "import scipy.stats\n"
        "import jinja2\n"
        "import itsdangerous\n"
        "from pydantic import BaseModel\n"
        "from . import values\n"
        "from .values import fmt\n"
        "def due(at: datetime) -> datetime:\n"
        "    return at + timedelta(days=1)\n"
    )
    assert _offences(source, "safety.model.events") == {
        "imports": set(),
        "dynamic imports": set(),
        "clock": set(),
        "environment": set(),
        "io": set(),
    }


def test_relative_imports_resolve_against_the_module_package() -> None:
    tree = ast.parse("from . import values\nfrom ..rules import ctcae\nfrom .state import SubjectState")
    assert _imported(tree, "safety.model.events", is_package=False) >= {
        "safety.model.values",
        "safety.rules.ctcae",
        "safety.model.state",
    }
    assert "safety.model.values" in _imported(ast.parse("from . import values"), "safety.model", is_package=True)


# ---------------------------------------------------------------------------------------------------------------
# The core, statically
# ---------------------------------------------------------------------------------------------------------------


def test_the_core_imports_neither_the_shell_nor_a_framework() -> None:
    assert _core_offenders("imports") == {}


def test_the_core_imports_nothing_by_name_at_run_time() -> None:
    """No importlib, __import__, exec or sys.modules: every dependency of the core is an import statement."""
    assert _core_offenders("dynamic imports") == {}


def test_the_core_reads_no_clock() -> None:
    """Time is an input: the event's own clock, or ``generated_at`` given to the reports."""
    assert _core_offenders("clock") == {}


def test_the_core_reads_no_environment() -> None:
    assert _core_offenders("environment") == {}


def test_the_core_does_no_io() -> None:
    """No files, sockets, processes or printing: the shell reads inputs and writes outputs."""
    assert _core_offenders("io") == {}


# ---------------------------------------------------------------------------------------------------------------
# The core, at run time
# ---------------------------------------------------------------------------------------------------------------

_LOAD_EVERY_CORE_MODULE = """
import json, pkgutil, sys
import safety
for info in pkgutil.walk_packages(safety.__path__, "safety."):
    __import__(info.name)
loaded = sorted(name for name in sys.modules if name.split(".")[0] in set(json.loads(sys.argv[1])))
print(json.dumps({"modules": sorted(n for n in sys.modules if n.startswith("safety")), "forbidden": loaded}))
"""


def _fresh_interpreter(code: str, *args: str) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, check=True, timeout=120
    )
    result: dict[str, list[str]] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_importing_every_core_module_loads_neither_the_shell_nor_a_framework() -> None:
    loaded = _fresh_interpreter(_LOAD_EVERY_CORE_MODULE, json.dumps(sorted(FORBIDDEN)))
    every_module = {module for module, _ in _core_files()}
    assert set(loaded["modules"]) >= every_module  # the walk reached every module of safety/
    assert loaded["forbidden"] == []


def test_the_command_line_starts_without_the_stream_stack() -> None:
    code = (
        "import json, sys, streams.cli\n"
        "print(json.dumps({'loaded': sorted(n for n in sys.modules if n.split('.')[0] in set(sys.argv[1:]))}))"
    )
    stack = ("faust", "mode", "aiokafka", "kafka", "aiohttp", "apprise", "prometheus_client")
    assert _fresh_interpreter(code, *stack)["loaded"] == []


# ---------------------------------------------------------------------------------------------------------------
# Package APIs
# ---------------------------------------------------------------------------------------------------------------


def _packages() -> list[str]:
    found = [safety.__name__, streams.__name__]
    for root in (safety, streams):
        found += [info.name for info in pkgutil.walk_packages(root.__path__, f"{root.__name__}.") if info.ispkg]
    return sorted(found)


PACKAGES = _packages()


def test_every_package_is_covered() -> None:
    expected = {"safety", "streams"} | {
        f"{top}.{path.parent.name}" for top in ("safety", "streams") for path in (ROOT / top).glob("*/__init__.py")
    }
    assert set(PACKAGES) == expected


@pytest.mark.parametrize("name", [p for p in PACKAGES if p not in ("streams", "streams.cli")])
def test_each_package_declares_its_api_and_every_name_exists(name: str) -> None:
    package = importlib.import_module(name)
    api = package.__all__
    assert api, f"{name}/__init__.py declares no __all__"
    assert len(api) == len(set(api)), f"{name}.__all__ lists a name twice"
    missing = [attr for attr in api if not hasattr(package, attr)]
    assert missing == [], f"{name}.__all__ names what {name} does not have"
