"""Server-rendered SVG charts for the safety pages: no JavaScript library, bilingual labels (zh / en).

The geometry is computed here from the view models of ``safety.reports`` (scales, ticks, positions); the
shapes are the templates ``posterior.svg``, ``incidence.svg``, ``lab.svg`` and ``edish.svg`` (streams/web/templates).
The stream's pages and the offline report embed the same SVG, so a browser test of the static report also checks the
live pages' charts. Every chart carries ``data-*`` attributes with its numbers, so tests read values, not pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from markupsafe import Markup

from safety.reports import QUADRANTS, EdishPoint, LabSeries, Marker, SeriesPoint
from streams.web.templating import fragment

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 20, 28, 44
BAND_COLOURS = {1: "#fff4c2", 2: "#ffd89a", 3: "#ffb08a", 4: "#ff8a8a"}


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


def _time_ticks(ts: Sequence[datetime], sx: _Linear) -> list[tuple[float, str]]:
    """First, middle (from five points on) and last time, labelled with their dates."""
    picks = [ts[0], ts[-1]] if len(ts) > 1 else [ts[0]]
    if len(ts) > 4:
        picks.insert(1, ts[len(ts) // 2])
    return [(sx(t.timestamp()), t.date().isoformat()) for t in picks]


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
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT - 110, TOP, HEIGHT - BOTTOM
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


def lab_chart(series: LabSeries, markers: Sequence[Marker], day_range: tuple[int, int]) -> Markup:
    """One test over study days: grade bands, baseline (dashed), values, infusions and AEs marked."""
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    d_lo, d_hi = day_range
    if d_hi <= d_lo:
        d_hi = d_lo + 1
    sx = _Linear(float(d_lo), float(d_hi), x0 + 8, x1 - 8)
    values = [p.value for p in series.points] + ([series.baseline] if series.baseline is not None else [])
    thresholds = [t for _, t in sorted(series.bands)]  # mildest grade first (from the loaded criteria)
    # High-direction tests (x ULN) show at least their second band; low-direction ones the mildest threshold.
    if not thresholds:
        floor = 1.0
    elif series.direction == "high" and len(thresholds) > 1:
        floor = thresholds[1] * 1.15
    else:
        floor = thresholds[0] * 1.4
    y_max, y_min = max(values + [floor]) * 1.1, 0.0
    sy = _Linear(y_min, y_max, y1, y0)
    # Grade bands: beyond each threshold, in the term's direction.
    bands = []
    ordered = sorted(series.bands, key=lambda b: b[0])
    for i, (grade, threshold) in enumerate(ordered):
        if series.direction == "high":
            upper = ordered[i + 1][1] if i + 1 < len(ordered) else y_max
            lo_v, hi_v = threshold, min(upper, y_max)
        else:
            lower = ordered[i + 1][1] if i + 1 < len(ordered) else y_min
            lo_v, hi_v = max(lower, y_min), threshold
        if hi_v <= lo_v or lo_v >= y_max:
            continue
        ya, yb = sy(min(hi_v, y_max)), sy(lo_v)
        bands.append(
            {
                "grade": grade,
                "top": ya,
                "height": max(yb - ya, 0.5),
                "colour": BAND_COLOURS.get(grade, "#eee"),
                "label_y": (ya + yb) / 2 + 4,
            }
        )
    pts = [p for p in series.points if d_lo <= p.study_day <= d_hi]
    xy = [(sx(p.study_day), sy(min(p.value, y_max))) for p in pts]
    data: dict[str, Any] = {"points": len(series.points)}
    if series.ctcae_version:
        data["ctcae-version"] = series.ctcae_version
    return _chart(
        "lab.svg",
        f"{series.label} ({series.unit})",
        f"lab-{series.test}",
        data,
        x0=x0,
        x1=x1,
        y0=y0,
        y1=y1,
        bands=bands,
        yticks=[(sy(v), f"{v:g}") for v in _nice_ticks(y_min, y_max)],
        xticks=[(sx(v), f"{v:g}") for v in _nice_ticks(float(d_lo), float(d_hi))],
        markers=[{"x": sx(m.study_day), "day": m.study_day, "kind": m.kind, "label": m.label} for m in markers],
        baseline=None
        if series.baseline is None
        else {"y": sy(series.baseline), "value": f"{series.baseline:g}", "label": f"{series.baseline:.3g}"},
        path=" ".join(f"{'M' if i == 0 else 'L'}{x:.1f} {y:.1f}" for i, (x, y) in enumerate(xy)),
        points=[
            {
                "x": x,
                "y": y,
                "day": p.study_day,
                "value": f"{p.value:g}",
                "grade": "" if p.grade is None else str(p.grade),
                "reported": p.reported,
            }
            for p, (x, y) in zip(pts, xy, strict=True)
        ],
        measured=bool(series.points),
    )


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
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


def edish_chart(points: Sequence[EdishPoint], view: str, alt_line: float, bili_line: float) -> Markup:
    """eDISH: peak ALT (log x) vs peak total bilirubin (log y), four labelled quadrants split by lines at the
    protocol's Hy's law multiples (``Protocol.hys_law``: ``transaminase_x_uln``, ``bilirubin_x_uln``)."""
    basis = "x ULN" if view == "uln" else "x baseline / x 基线"
    size_w, size_h = 720, 480
    x0, x1, y0, y1 = LEFT, size_w - RIGHT, TOP, size_h - BOTTOM
    sx, sy = _Log(0.1, 100.0, x0, x1), _Log(0.1, 100.0, y1, y0)
    shown = []
    for p in points:
        alt, bili = (p.alt_x_uln, p.bili_x_uln) if view == "uln" else (p.alt_x_baseline, p.bili_x_baseline)
        quad = p.quadrant_uln if view == "uln" else p.quadrant_baseline
        if alt is None or bili is None:
            continue
        shown.append(
            {
                "x": sx(min(max(alt, 0.1), 100.0)),
                "y": sy(min(max(bili, 0.1), 100.0)),
                "colour": "#c62828" if quad == "hys_law" else "#1565c0",
                "subject": p.subject_id,
                "alt": f"{alt:g}",
                "bili": f"{bili:g}",
                "alt_2": f"{alt:.2f}",
                "bili_2": f"{bili:.2f}",
                "quadrant": quad,
            }
        )
    return _chart(
        "edish.svg",
        f"eDISH: 峰值 ALT vs 峰值总胆红素 / peak ALT vs peak total bilirubin ({basis})",
        f"edish-{view}",
        {"points": len(shown)},
        width=size_w,
        height=size_h,
        x0=x0,
        x1=x1,
        y0=y0,
        y1=y1,
        xticks=[(sx(v), f"{v:g}") for v in (0.1, 0.3, 1, 3, 10, 30, 100)],
        yticks=[(sy(v), f"{v:g}") for v in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)],
        alt_x=sx(alt_line),
        alt_line=f"{alt_line:g}",
        bili_y=sy(bili_line),
        bili_line=f"{bili_line:g}",
        quadrants=QUADRANTS,
        basis=basis,
        points=shown,
    )
