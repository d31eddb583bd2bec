"""A very small HTML template renderer: substitutions and loops, nothing else (templates carry no logic).

Syntax: ``{{ name }}`` / ``{{ row.field }}`` (HTML-escaped), ``{{ name|safe }}`` (inserted as is: server-built
SVG or pre-escaped HTML), and ``{% for row in rows %}...{% endfor %}`` (nestable). A missing name is an error
naming the template and the name, so a typo fails a test instead of rendering an empty cell.
The project has no Jinja2 dependency; this is all the pages need.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape
from typing import Any

from safety.errors import SafetyError

_TOKEN = re.compile(r"{{\s*([\w.]+)(\|safe)?\s*}}|{%\s*for\s+(\w+)\s+in\s+([\w.]+)\s*%}|{%\s*endfor\s*%}")


class TemplateError(SafetyError, ValueError):
    """A template references a name its page does not provide, or its loops do not balance."""


def _lookup(scope: Mapping[str, Any], dotted: str, template: str) -> Any:
    head, *rest = dotted.split(".")
    if head not in scope:
        raise TemplateError(f"template {template}: no value named {head!r}; the page must pass it")
    value = scope[head]
    for part in rest:
        if isinstance(value, Mapping):
            if part not in value:
                raise TemplateError(f"template {template}: {dotted!r} has no key {part!r}")
            value = value[part]
        else:
            value = getattr(value, part)
    return value


def _parse(text: str, name: str) -> list[Any]:
    """Nested node list: str, ("var", dotted, safe), ("for", var, seq, children)."""
    root: list[Any] = []
    stack: list[list[Any]] = [root]
    pos = 0
    for m in _TOKEN.finditer(text):
        stack[-1].append(text[pos : m.start()])
        pos = m.end()
        if m.group(1):
            stack[-1].append(("var", m.group(1), bool(m.group(2))))
        elif m.group(3):
            node: tuple[str, str, str, list[Any]] = ("for", m.group(3), m.group(4), [])
            stack[-1].append(node)
            stack.append(node[3])
        else:
            if len(stack) == 1:
                raise TemplateError(f"template {name}: {{% endfor %}} without a matching {{% for %}}")
            stack.pop()
    if len(stack) != 1:
        raise TemplateError(f"template {name}: a {{% for %}} is not closed by {{% endfor %}}")
    root.append(text[pos:])
    return root


def _render(nodes: list[Any], scope: Mapping[str, Any], name: str, out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif node[0] == "var":
            value = _lookup(scope, node[1], name)
            text = "" if value is None else str(value)
            out.append(text if node[2] else escape(text))
        else:
            for item in _lookup(scope, node[2], name):
                _render(node[3], {**scope, node[1]: item}, name, out)


def render(text: str, context: Mapping[str, Any], name: str = "<template>") -> str:
    out: list[str] = []
    _render(_parse(text, name), context, name, out)
    return "".join(out)
