"""The one Jinja2 environment of the service's documents, and the one escaping policy they follow.

Every page (streams/web/views.py, the acknowledgement link page of streams/web/acks.py), the SVG charts
(streams/web/charts.py), the printable summary and the Atom feed (streams/web/ethics.py) are templates in
``streams/web/templates/``, loaded here and nowhere else; the worker and ``safety report`` (streams/cli/report.py)
render the same files.

Escaping policy:

* HTML, SVG and XML (``.html``, ``.svg``, ``.xml``, ``.atom``) are autoescaped: every value a template prints is
  escaped for markup. Only ``Markup`` passes as it is: a chart rendered by its own (autoescaped) template, or an
  alert message's HTML, which safety/delivery/messages.py builds with every value escaped.
* CSV is not a template: streams/web/ethics.py writes it with the csv module, every cell quoted and no text cell
  able to start a spreadsheet formula.
* A name a template uses that its caller does not pass is an error naming it (``StrictUndefined``), so a typo
  fails a test instead of rendering an empty cell.
"""

from __future__ import annotations

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
