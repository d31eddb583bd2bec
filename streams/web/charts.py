"""Server-rendered SVG charts for the safety pages: no JavaScript library, bilingual labels (zh / en).

The geometry is computed here from the view models of ``safety.reports`` (scales, ticks, positions); the
shapes are the templates ``posterior.svg``, ``incidence.svg``, ``lab.svg`` and ``edish.svg`` (streams/web/templates).
The stream's pages and the offline report embed the same SVG, so a browser test of the static report also checks the
live pages' charts. Every chart carries ``data-*`` attributes with its numbers, so tests read values, not pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from markupsafe import Markup

from safety.reports import QUADRANTS, EdishPoint, GradeBand, LabSeries, Marker, SeriesPoint
from streams.web.templating import fragment

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 20, 28, 44
LEGEND = 150  # right of the incidence chart: its legend's longest line, "已输注 / Infused: 48"
BAND_COLOURS = {1: "#fff4c2", 2: "#ffd89a", 3: "#ffb08a", 4: "#ff8a8a"}
GRADE_COLOURS = {1: "#f9a825", 2: "#ef6c00", 3: "#c62828", 4: "#8e0000", 5: "#000000"}  # AE bars and points
LAB_WIDTH, LAB_HEIGHT = 660, 210  # two side by side in a 1366 px wide window
LANE = 26  # one row of the event chart


class _Linear:
    def __init__(self, lo: float, hi: float, a: float, b: float) -> None:
        if hi <= lo:
            hi = lo + 1.0
        self.lo, self.hi, self.a, self.b = lo, hi, a, b

    def __call__(self, v: float) -> float:
        return self.a + (v - self.lo) / (self.hi - self.lo) * (self.b - self.a)


class _Log(_Linear):
    def __init__(self, lo: float, hi: float, a: float, b: float) -> None:
        super().__init__(math.log10(lo), math.log10(hi), a, b)

    def __call__(self, v: float) -> float:
        return super().__call__(math.log10(max(v, 10**self.lo)))


def _chart(
    template: str,
    title: str,
    chart: str,
    data: dict[str, Any],
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    **plot: Any,
) -> Markup:
    """One chart: ``data`` becomes its ``data-*`` attributes, ``plot`` the context of its template."""
    return fragment(template, title=title, chart=chart, data=data, width=width, height=height, left=LEFT, **plot)


def _empty(title: str, chart: str) -> Markup:
    return _chart("chart.svg", title, chart, {"points": 0})


def _time_ticks(ts: Sequence[datetime], sx: _Linear) -> list[tuple[float, str, str]]:
    """First, middle (from five points on) and last time, labelled with their dates: the first label starts at its
    tick and the last ends at it, so neither runs off the chart."""
    if len(ts) == 1:
        return [(sx(ts[0].timestamp()), ts[0].date().isoformat(), "middle")]
    picks = [(ts[0], "start"), (ts[-1], "end")]
    if len(ts) > 4:
        picks.insert(1, (ts[len(ts) // 2], "middle"))
    return [(sx(t.timestamp()), t.date().isoformat(), anchor) for t, anchor in picks]


def _steps(xy: Sequence[tuple[float, float]]) -> str:
    """SVG path data of a step line through ``xy``: move to the first, then across and up or down to each."""
    return "".join(f"M{x:.1f} {y:.1f}" if i == 0 else f"H{x:.1f}V{y:.1f}" for i, (x, y) in enumerate(xy))


def posterior_chart(series: Sequence[SeriesPoint], boundary: float, threshold: float) -> Markup:
    """P(DLT rate > threshold) after each change, as a step line, against the protocol's stopping boundary."""
    title = f"后验概率 P(DLT率 > {threshold:g}) / Posterior P(DLT rate > {threshold:g}) vs boundary {boundary:g}"
    pts = [p for p in series if p.probability is not None]
    if not pts:
        return _empty(title, "posterior")
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    ts = [p.at.timestamp() for p in pts]
    lo, hi = min(ts), max(ts)
    if hi == lo:
        lo, hi = lo - 43200, hi + 43200
    sx, sy = _Linear(lo, hi, x0 + 6, x1 - 6), _Linear(0.0, 1.0, y1, y0)
    xy = [(sx(p.at.timestamp()), sy(p.probability or 0.0)) for p in pts]
    points = [
        {
            "x": x,
            "y": y,
            "colour": "#c62828" if p.crossed else "#1565c0",
            "n": p.infused,
            "dlt": p.with_dlt,
            "p": f"{p.probability:.3f}",
        }
        for p, (x, y) in zip(pts, xy, strict=True)
    ]
    return _chart(
        "posterior.svg",
        title,
        "posterior",
        {"points": len(pts), "last": f"{(pts[-1].probability or 0.0):.3f}"},
        x0=x0,
        x1=x1,
        y0=y0,
        y1=y1,
        yticks=[(sy(v), f"{v:.2f}") for v in (0.0, 0.25, 0.5, 0.75, 1.0)],
        boundary=f"{boundary:g}",
        boundary_y=sy(boundary),
        path=_steps(xy),
        points=points,
        xticks=_time_ticks([p.at for p in pts], sx),
    )


def incidence_chart(series: Sequence[SeriesPoint]) -> Markup:
    """Cumulative subjects infused, with >= 1 DLT and with >= 1 SAE, as step lines over time."""
    title = "累计发生数 / Cumulative subjects: infused, DLT, SAE"
    if not series:
        return _empty(title, "incidence")
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT - LEGEND, TOP, HEIGHT - BOTTOM
    ts = [p.at.timestamp() for p in series]
    lo, hi = min(ts), max(ts)
    if hi == lo:
        lo, hi = lo - 43200, hi + 43200
    top = max(max(p.infused for p in series), 1)
    sx, sy = _Linear(lo, hi, x0 + 6, x1 - 6), _Linear(0.0, float(top), y1, y0)
    lines = (
        ("infused", "已输注 / Infused", "#455a64"),
        ("with_dlt", "DLT", "#c62828"),
        ("with_sae", "SAE", "#ef6c00"),
    )
    return _chart(
        "incidence.svg",
        title,
        "incidence",
        {"points": len(series)},
        x0=x0,
        x1=x1,
        y0=y0,
        y1=y1,
        yticks=[(sy(v), str(v)) for v in range(0, top + 1, max(1, math.ceil(top / 5)))],
        lines=[
            {
                "name": attr,
                "label": label,
                "colour": colour,
                "path": _steps([(sx(p.at.timestamp()), sy(getattr(p, attr))) for p in series]) + f"H{x1:.1f}",
                "last": getattr(series[-1], attr),
                "legend_y": y0 + 14 + i * 18,
            }
            for i, (attr, label, colour) in enumerate(lines)
        ],
        xticks=_time_ticks([p.at for p in series], sx),
    )


def day_ticks(d_lo: int, d_hi: int) -> list[tuple[float, str]]:
    """Study-day ticks in whole weeks or months, at most ten: 0, 7, 14, 21, 28 for the first four weeks."""
    span = max(d_hi - d_lo, 1)
    step = next((s for s in (1, 2, 7, 14, 28, 60, 90, 180) if span / s <= 10), 365)
    first = math.ceil(d_lo / step) * step
    return [(float(d), str(d)) for d in range(first, d_hi + 1, step)]


def _value_range(series: LabSeries) -> tuple[float, float]:
    """The y range of a test: its values and the two mildest thresholds of each direction (so at least one whole
    grade band shows) that lie within a factor 3 of the values (a leukocytosis band at 100 x 10^9/L would flatten
    every count), 8 % of the span added on both sides; it starts at 0 when 0 is near."""
    measured = [p.value for p in series.points] + ([series.baseline] if series.baseline is not None else [])
    values = list(measured)
    for direction, reverse in (("low", True), ("high", False)):
        thresholds = sorted({b.threshold for b in series.bands if b.direction == direction}, reverse=reverse)
        values += [
            t
            for t in thresholds[:2]
            if not measured or (t <= 3 * max(measured) if direction == "high" else t >= min(measured) / 3)
        ]
    if not values:
        return 0.0, 1.0
    lo, hi = min(values), max(values)
    pad = max(hi - lo, abs(hi) * 0.1, 1e-6) * 0.08
    lo, hi = lo - pad, hi + pad
    if lo < 0 <= min(values) or 0 <= lo < (hi - lo) * 0.5:
        lo = 0.0
    return lo, hi


def _bands(series: LabSeries, y_min: float, y_max: float, sy: _Linear) -> list[dict[str, Any]]:
    """Each grade band of each term between its threshold and the next worse grade's (or the chart's edge)."""
    out = []
    groups: dict[tuple[str, str], list[GradeBand]] = {}
    for band in series.bands:
        groups.setdefault((band.term, band.direction), []).append(band)
    for (_, direction), bands in groups.items():
        ordered = sorted(bands, key=lambda b: b.grade)
        for i, band in enumerate(ordered):
            worse = ordered[i + 1].threshold if i + 1 < len(ordered) else None
            if direction == "high":
                lo_v, hi_v = band.threshold, y_max if worse is None else worse
            else:
                lo_v, hi_v = y_min if worse is None else worse, band.threshold
            lo_v, hi_v = max(lo_v, y_min), min(hi_v, y_max)
            if hi_v <= lo_v:
                continue
            ya, yb = sy(hi_v), sy(lo_v)
            out.append(
                {
                    "grade": band.grade,
                    "term": band.term,
                    "top": ya,
                    "height": max(yb - ya, 0.5),
                    "colour": BAND_COLOURS.get(band.grade, "#eee"),
                    "label_y": (ya + yb) / 2 + 4 if yb - ya >= 11 else None,  # no label where it cannot fit
                }
            )
    return out


def _point_colour(grade: int | None) -> str:
    return GRADE_COLOURS.get(grade or 0, "#1565c0")


def lab_chart(
    series: LabSeries,
    markers: Sequence[Marker],
    day_range: tuple[int, int],
    alert_href: Callable[[str], str],
    view: str = "all",
) -> Markup:
    """One test over the study days of ``day_range``: grade bands of every term, baseline (dashed, labelled in
    the header, where no point covers it), values coloured by grade, infusions and death as vertical lines; a value
    an alert was raised on is ringed and links to the alert's page."""
    x0, x1, y0, y1 = LEFT, LAB_WIDTH - RIGHT, TOP, LAB_HEIGHT - BOTTOM
    d_lo, d_hi = day_range
    if d_hi <= d_lo:
        d_hi = d_lo + 1
    sx = _Linear(float(d_lo), float(d_hi), x0 + 8, x1 - 8)
    y_min, y_max = _value_range(series)
    sy = _Linear(y_min, y_max, y1, y0)
    pts = [p for p in series.points if d_lo <= p.study_day <= d_hi]
    xy = [(sx(p.study_day), sy(min(max(p.value, y_min), y_max))) for p in pts]
    data: dict[str, Any] = {"points": len(series.points), "shown": len(pts), "view": view}
    if series.ctcae_version:
        data["ctcae-version"] = series.ctcae_version
    lines = [m for m in markers if m.kind in ("infusion", "death") and d_lo <= m.study_day <= d_hi]
    return _chart(
        "lab.svg",
        f"{series.label} ({series.unit})" if series.unit else series.label,
        f"lab-{series.test}",
        data,
        width=LAB_WIDTH,
        height=LAB_HEIGHT,
        x0=x0,
        x1=x1,
        y0=y0,
        y1=y1,
        bands=_bands(series, y_min, y_max, sy),
        yticks=[(sy(v), f"{v:g}") for v in _nice_ticks(y_min, y_max, 4)],
        xticks=[(sx(v), label, "middle") for v, label in day_ticks(d_lo, d_hi)],
        markers=[{"x": sx(m.study_day), "day": m.study_day, "kind": m.kind, "label": m.label} for m in lines],
        baseline=None
        if series.baseline is None
        else {
            "y": sy(min(max(series.baseline, y_min), y_max)),
            "value": f"{series.baseline:g}",
            "label": f"{series.baseline:.3g}",
        },
        path=" ".join(f"{'M' if i == 0 else 'L'}{x:.1f} {y:.1f}" for i, (x, y) in enumerate(xy)),
        points=[
            {
                "x": x,
                "y": y,
                "day": p.study_day,
                "value": f"{p.value:g}",
                "grade": "" if p.grade is None else str(p.grade),
                "colour": _point_colour(p.grade),
                "title": f"第 {p.study_day} 天 / Day {p.study_day}: {p.reported}"
                + (f" ({p.term} G{p.grade})" if p.grade else ""),
                "href": None if p.alert_id is None else alert_href(p.alert_id),
                "alert": p.alert_id or "",
            }
            for p, (x, y) in zip(pts, xy, strict=True)
        ],
        measured=bool(pts),
        empty="暂无数据 / No values" if not series.points else "此期间无数据 / No values in these days",
    )


def _text_width(text: str) -> float:
    """About how wide ``text`` is at the charts' 11 px font: a CJK character is twice a Latin one."""
    return sum(11.0 if ord(c) > 0x2E80 else 6.2 for c in text)


def events_chart(
    markers: Sequence[Marker], day_range: tuple[int, int], alert_href: Callable[[str], str], view: str = "all"
) -> Markup:
    """What happened to the subject over ``day_range``, one lane each: infusions, transfusions, every adverse
    event as a bar from onset to end (an arrow when not ended), death and alerts; what an alert was raised on links
    to the alert's page."""
    d_lo, d_hi = day_range
    if d_hi <= d_lo:
        d_hi = d_lo + 1
    x0, x1 = LEFT, LAB_WIDTH - RIGHT
    sx = _Linear(float(d_lo), float(d_hi), x0 + 8, x1 - 8)

    def shown(m: Marker) -> bool:
        end = m.study_day if m.kind != "adverse_event" else (d_hi if m.end_day is None else m.end_day)
        return m.study_day <= d_hi and end >= d_lo

    def mark(m: Marker) -> dict[str, Any]:
        return {
            "x": sx(min(max(m.study_day, d_lo), d_hi)),
            "day": m.study_day,
            "label": m.label,
            "href": None if m.alert_id is None else alert_href(m.alert_id),
            "colour": GRADE_COLOURS.get(m.grade or 0, "#6a1b9a"),
        }

    visible = [m for m in markers if shown(m)]
    lanes: list[dict[str, Any]] = []
    for kind, title in (
        ("infusion", "输注 / Infusions"),
        ("transfusion", "输血 / Transfusions"),
        ("death", "死亡 / Death"),
        ("alert", "警报 / Alerts"),
    ):
        marks = [mark(m) for m in visible if m.kind == kind]
        if marks or kind in ("infusion", "alert"):
            lanes.append({"kind": kind, "title": title, "marks": marks, "bar": None})
    for m in visible:
        if m.kind != "adverse_event":
            continue
        start = sx(max(m.study_day, d_lo))
        end = sx(min(d_hi if m.end_day is None else m.end_day, d_hi))
        title = m.label + (
            f" (第 {m.study_day}–{m.end_day} 天 / days {m.study_day}–{m.end_day})"
            if m.end_day is not None
            else f" (第 {m.study_day} 天起, 未结束 / from day {m.study_day}, ongoing)"
        )
        fits = start + _text_width(title) <= x1
        lanes.append(
            {
                "kind": "adverse_event",
                "label_x": start if fits else x1,
                "label_anchor": "start" if fits else "end",
                "title": title,
                "bar": {
                    **mark(m),
                    "x": start,
                    "width": max(end - start, 3.0),
                    "ongoing": m.end_day is None or m.end_day > d_hi,
                },
                "marks": [],
            }
        )
    top = TOP
    for i, lane in enumerate(lanes):
        lane["y"] = top + i * LANE
    y1 = top + len(lanes) * LANE
    return _chart(
        "events.svg",
        "事件 / Events (不良事件: 起止 / adverse events: onset–end)",
        "events",
        {
            "view": view,
            "adverse-events": sum(1 for lane in lanes if lane["kind"] == "adverse_event"),
            "transfusions": sum(1 for m in visible if m.kind == "transfusion"),
        },
        width=LAB_WIDTH,
        height=y1 + BOTTOM,
        x0=x0,
        x1=x1,
        y0=top,
        y1=y1,
        lane_height=LANE,
        lanes=lanes,
        xticks=[(sx(v), label, "middle") for v, label in day_ticks(d_lo, d_hi)],
    )


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round values from ``lo`` to ``hi``, about ``count`` of them."""
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    out = []
    v = first
    while v <= hi + 1e-9:
        out.append(round(v, 10))
        v += step
    return out


def edish_chart(
    points: Sequence[EdishPoint],
    view: str,
    alt_line: float,
    bili_line: float,
    href: Callable[[EdishPoint], str],
) -> Markup:
    """eDISH: peak transaminase (ALT or AST, the higher; log x) vs peak total bilirubin (log y), four labelled
    quadrants split by lines at the protocol's Hy's law multiples (``Protocol.hys_law``: ``transaminase_x_uln``,
    ``bilirubin_x_uln``); each point links to ``href(point)`` (its Hy's law alert, else its subject)."""
    basis = "x ULN" if view == "uln" else "x 基线 / x baseline"
    size_w, size_h = 720, 480
    x0, x1, y0, y1 = LEFT, size_w - RIGHT, TOP, size_h - BOTTOM
    sx, sy = _Log(0.1, 100.0, x0, x1), _Log(0.1, 100.0, y1, y0)
    shown = []
    for p in points:
        if view == "uln":
            alt, bili, test, quad = p.transaminase_x_uln, p.bili_x_uln, p.transaminase_test, p.quadrant_uln
        else:
            alt, bili = p.transaminase_x_baseline, p.bili_x_baseline
            test, quad = p.transaminase_test_baseline, p.quadrant_baseline
        if alt is None or bili is None:
            continue
        shown.append(
            {
                "x": sx(min(max(alt, 0.1), 100.0)),
                "y": sy(min(max(bili, 0.1), 100.0)),
                "colour": "#c62828" if quad == "hys_law" else "#1565c0",
                "subject": p.subject_id,
                "test": test or "",
                "alt": f"{alt:g}",
                "bili": f"{bili:g}",
                "alt_2": f"{alt:.2f}",
                "bili_2": f"{bili:.2f}",
                "quadrant": quad,
                "href": href(p),
                "alert": p.alert_id or "",
            }
        )
    return _chart(
        "edish.svg",
        f"eDISH: 峰值 ALT 或 AST vs 峰值总胆红素 / peak ALT or AST vs peak total bilirubin ({basis})",
        f"edish-{view}",
        {"points": len(shown)},
        width=size_w,
        height=size_h,
        x0=x0,
        x1=x1,
        y0=y0,
        y1=y1,
        xticks=[(sx(v), f"{v:g}", "middle") for v in (0.1, 0.3, 1, 3, 10, 30, 100)],
        yticks=[(sy(v), f"{v:g}") for v in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)],
        alt_x=sx(alt_line),
        alt_line=f"{alt_line:g}",
        bili_y=sy(bili_line),
        bili_line=f"{bili_line:g}",
        quadrants=QUADRANTS,
        basis=basis,
        points=shown,
    )
