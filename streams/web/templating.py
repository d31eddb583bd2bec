"""The one Jinja2 environment of the service's documents, and the one escaping policy they follow.

Every page (streams/web/views.py, the acknowledgement link page of streams/web/acks.py), the SVG charts
(streams/web/charts.py), the printable summary and the Atom feed (streams/web/ethics.py) are templates in
``streams/web/templates/``, loaded here and nowhere else; the worker and ``safety report`` (streams/cli/report.py)
render the same files.

Escaping policy:

* HTML, SVG and XML (``.html``, ``.svg``, ``.xml``, ``.atom``) are autoescaped: every value a template prints is
  escaped for markup. Only ``Markup`` passes as it is: a chart rendered by its own (autoescaped) template, or an
  alert message's HTML, which safety/delivery/messages.py builds with every value escaped.
* CSV is not a template: ``csv_text`` writes it with the csv module (RFC 4180), every cell quoted and no text
  cell able to start a spreadsheet formula (OWASP, CSV Injection): every CSV of the service goes through it.
* A name a template uses that its caller does not pass is an error naming it (``StrictUndefined``), so a typo
  fails a test instead of rendering an empty cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

ENVIRONMENT = Environment(
    loader=PackageLoader("streams.web", "templates"),
    autoescape=select_autoescape(["html", "xml", "atom", "svg"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
ENVIRONMENT.filters["px"] = lambda value: f"{value:.1f}"  # an SVG coordinate (streams/web/charts.py)


def render(name: str, **context: Any) -> str:
    """The template ``name`` of streams/web/templates rendered with ``context``."""
    return ENVIRONMENT.get_template(name).render(context)


def fragment(name: str, **context: Any) -> Markup:
    """A rendered template to embed in another one as it is (it escaped its own values)."""
    return Markup(render(name, **context))


# A spreadsheet reads a cell that starts with one of these as a formula (OWASP, CSV Injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(text: str) -> str:
    """``text`` as a spreadsheet shows it, never runs it: a leading single quote before a formula start."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_cell(value: Any) -> str:
    """A CSV cell: numbers as they are (a study day of -3 stays a number), every text, each part of a list too,
    neutralised; None is empty, a boolean yes/no."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ";".join(_inert(str(v)) for v in value)
    if isinstance(value, int | float):
        return str(value)
    return _inert(str(value))


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A CSV document: ``header`` then ``rows``, every cell quoted (a separator inside stays text) and made inert."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return buf.getvalue()
