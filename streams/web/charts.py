"""Server-rendered SVG charts for the safety pages: no JavaScript library, bilingual labels (zh / en).

Pure string building from the view models of ``safety.reports.report``: the stream's pages and the offline report
embed the same SVG, so a browser test of the static report also checks the live pages' charts. Every chart
carries ``data-*`` attributes with its numbers, so tests read values, not pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from html import escape

from safety.reports import QUADRANTS, EdishPoint, LabSeries, Marker, SeriesPoint

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 20, 28, 44
BAND_COLOURS = {1: "#fff4c2", 2: "#ffd89a", 3: "#ffb08a", 4: "#ff8a8a"}
FONT = "font-family=\"'Noto Sans CJK SC','Microsoft YaHei','PingFang SC',sans-serif\" font-size=\"11\""


def _num(x: float) -> str:
    return f"{x:.1f}"


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


def _frame(
    title: str, body: list[str], *, chart: str, attrs: str = "", width: int = WIDTH, height: int = HEIGHT
) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{escape(chart)}" {attrs} '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>'
        f'<text x="{LEFT}" y="16" {FONT} font-weight="bold">{escape(title)}</text>' + "".join(body) + "</svg>"
    )


def _axes(x0: float, x1: float, y0: float, y1: float) -> str:
    return (
        f'<line x1="{_num(x0)}" y1="{_num(y1)}" x2="{_num(x1)}" y2="{_num(y1)}" stroke="#333"/>'
        f'<line x1="{_num(x0)}" y1="{_num(y0)}" x2="{_num(x0)}" y2="{_num(y1)}" stroke="#333"/>'
    )


def _text(x: float, y: float, s: str, anchor: str = "middle", extra: str = "") -> str:
    return f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" {FONT} {extra}>{escape(s)}</text>'


def _time_ticks(ts: Sequence[datetime], sx: _Linear, y: float) -> list[str]:
    if not ts:
        return []
    picks = [ts[0], ts[-1]] if len(ts) > 1 else [ts[0]]
    if len(ts) > 4:
        picks.insert(1, ts[len(ts) // 2])
    out = []
    for t in picks:
        x = sx(t.timestamp())
        out.append(f'<line x1="{_num(x)}" y1="{_num(y)}" x2="{_num(x)}" y2="{_num(y + 4)}" stroke="#333"/>')
        out.append(_text(x, y + 16, t.date().isoformat()))
    return out


def _empty(title: str, chart: str) -> str:
    return _frame(
        title, [_text(WIDTH / 2, HEIGHT / 2, "暂无数据 / No data yet")], chart=chart, attrs='data-points="0"'
    )


def posterior_chart(series: Sequence[SeriesPoint], boundary: float, threshold: float) -> str:
    """P(DLT rate > threshold) after each change, as a step line, against the boundary (protocol.md)."""
    title = (
        f"后验概率 P(DLT率 > {threshold:g}) / Posterior P(DLT rate > {threshold:g}) vs boundary {boundary:g}"
    )
    pts = [p for p in series if p.probability is not None]
    if not pts:
        return _empty(title, "posterior")
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    ts = [p.at.timestamp() for p in pts]
    lo, hi = min(ts), max(ts)
    if hi == lo:
        lo, hi = lo - 43200, hi + 43200
    sx, sy = _Linear(lo, hi, x0 + 6, x1 - 6), _Linear(0.0, 1.0, y1, y0)
    body = [_axes(x0, x1, y0, y1)]
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        body.append(f'<line x1="{x0 - 4}" y1="{_num(sy(v))}" x2="{x0}" y2="{_num(sy(v))}" stroke="#333"/>')
        body.append(_text(x0 - 8, sy(v) + 4, f"{v:.2f}", anchor="end"))
    by = sy(boundary)
    body.append(
        f'<line class="boundary" x1="{x0}" y1="{_num(by)}" x2="{x1}" y2="{_num(by)}" stroke="#c62828" '
        f'stroke-dasharray="6 4" data-boundary="{boundary:g}"/>'
    )
    body.append(
        _text(
            x1 - 4, by - 5, f"停止界值 / Stopping boundary {boundary:g}", anchor="end", extra='fill="#c62828"'
        )
    )
    path = []
    for i, p in enumerate(pts):
        x, y = sx(p.at.timestamp()), sy(p.probability or 0.0)
        if i:
            path.append(f"H{_num(x)}V{_num(y)}")
        else:
            path.append(f"M{_num(x)} {_num(y)}")
    body.append(f'<path d="{"".join(path)}" fill="none" stroke="#1565c0" stroke-width="2"/>')
    for p in pts:
        colour = "#c62828" if p.crossed else "#1565c0"
        body.append(
            f'<circle class="point" cx="{_num(sx(p.at.timestamp()))}" '
            f'cy="{_num(sy(p.probability or 0.0))}" r="4" '
            f'fill="{colour}" data-n="{p.infused}" data-x="{p.with_dlt}" data-p="{p.probability:.3f}">'
            f"<title>{escape(f'{p.with_dlt}/{p.infused} DLT: P = {p.probability:.3f}')}</title></circle>"
        )
    body += _time_ticks([p.at for p in pts], sx, y1)
    body.append(
        _text(18, (y0 + y1) / 2, "概率 / Probability", extra=f'transform="rotate(-90 18 {(y0 + y1) / 2})"')
    )
    last = pts[-1]
    return _frame(
        title,
        body,
        chart="posterior",
        attrs=f'data-points="{len(pts)}" data-last="{(last.probability or 0.0):.3f}"',
    )


def incidence_chart(series: Sequence[SeriesPoint]) -> str:
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
    body = [_axes(x0, x1, y0, y1)]
    step = max(1, math.ceil(top / 5))
    for v in range(0, top + 1, step):
        body.append(f'<line x1="{x0 - 4}" y1="{_num(sy(v))}" x2="{x0}" y2="{_num(sy(v))}" stroke="#333"/>')
        body.append(_text(x0 - 8, sy(v) + 4, str(v), anchor="end"))
    lines = (
        ("infused", "已输注 / Infused", "#455a64"),
        ("with_dlt", "DLT", "#c62828"),
        ("with_sae", "SAE", "#ef6c00"),
    )
    for i, (attr, label, colour) in enumerate(lines):
        d = []
        for j, p in enumerate(series):
            x, y = sx(p.at.timestamp()), sy(getattr(p, attr))
            d.append(f"M{_num(x)} {_num(y)}" if j == 0 else f"H{_num(x)}V{_num(y)}")
        d.append(f"H{_num(x1)}")
        body.append(
            f'<path class="series-{attr}" d="{"".join(d)}" fill="none" stroke="{colour}" '
            f'stroke-width="2" data-last="{getattr(series[-1], attr)}"/>'
        )
        ly = y0 + 14 + i * 18
        body.append(
            f'<line x1="{x1 + 12}" y1="{ly - 4}" x2="{x1 + 30}" y2="{ly - 4}" stroke="{colour}" '
            f'stroke-width="2"/>'
        )
        body.append(_text(x1 + 34, ly, f"{label}: {getattr(series[-1], attr)}", anchor="start"))
    body += _time_ticks([p.at for p in series], sx, y1)
    return _frame(title, body, chart="incidence", attrs=f'data-points="{len(series)}"')


def lab_chart(series: LabSeries, markers: Sequence[Marker], day_range: tuple[int, int]) -> str:
    """One test over study days: grade bands, baseline (dashed), values, infusions and AEs marked."""
    title = f"{series.label} ({series.unit})"
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
    body = []
    # Grade bands: beyond each threshold, in the term's direction.
    bands = sorted(series.bands, key=lambda b: b[0])
    for i, (grade, threshold) in enumerate(bands):
        if series.direction == "high":
            upper = bands[i + 1][1] if i + 1 < len(bands) else y_max
            lo_v, hi_v = threshold, min(upper, y_max)
        else:
            lower = bands[i + 1][1] if i + 1 < len(bands) else y_min
            lo_v, hi_v = max(lower, y_min), threshold
        if hi_v <= lo_v or lo_v >= y_max:
            continue
        ya, yb = sy(min(hi_v, y_max)), sy(lo_v)
        body.append(
            f'<rect class="band" data-grade="{grade}" x="{x0}" y="{_num(ya)}" width="{x1 - x0}" '
            f'height="{_num(max(yb - ya, 0.5))}" fill="{BAND_COLOURS.get(grade, "#eee")}"/>'
        )
        body.append(_text(x1 - 4, (ya + yb) / 2 + 4, f"G{grade}", anchor="end", extra='fill="#8d6e63"'))
    body.append(_axes(x0, x1, y0, y1))
    for v in _nice_ticks(y_min, y_max):
        body.append(f'<line x1="{x0 - 4}" y1="{_num(sy(v))}" x2="{x0}" y2="{_num(sy(v))}" stroke="#333"/>')
        body.append(_text(x0 - 8, sy(v) + 4, f"{v:g}", anchor="end"))
    for v in _nice_ticks(float(d_lo), float(d_hi)):
        body.append(f'<line x1="{_num(sx(v))}" y1="{y1}" x2="{_num(sx(v))}" y2="{y1 + 4}" stroke="#333"/>')
        body.append(_text(sx(v), y1 + 16, f"{v:g}"))
    body.append(_text((x0 + x1) / 2, HEIGHT - 6, "研究日 / Study day"))
    for m in markers:
        x = sx(m.study_day)
        if m.kind == "infusion":
            body.append(
                f'<line class="marker-infusion" x1="{_num(x)}" y1="{y0}" x2="{_num(x)}" y2="{y1}" '
                f'stroke="#2e7d32" stroke-width="1.5"><title>{escape(m.label)}</title></line>'
            )
        elif m.kind == "adverse_event":
            body.append(
                f'<path class="marker-ae" d="M{_num(x - 5)} {y0 + 2}h10l-5 9z" fill="#6a1b9a">'
                f"<title>{escape(f'Day {m.study_day}: {m.label}')}</title></path>"
            )
    if series.baseline is not None:
        by = sy(series.baseline)
        body.append(
            f'<line class="baseline" x1="{x0}" y1="{_num(by)}" x2="{x1}" y2="{_num(by)}" stroke="#37474f" '
            f'stroke-dasharray="4 3" data-value="{series.baseline:g}"/>'
        )
        body.append(
            _text(
                x0 + 4,
                by - 4,
                f"基线 / Baseline {series.baseline:.3g}",
                anchor="start",
                extra='fill="#37474f"',
            )
        )
    pts = [p for p in series.points if d_lo <= p.study_day <= d_hi]
    if pts:
        d = " ".join(
            f"{'M' if i == 0 else 'L'}{_num(sx(p.study_day))} {_num(sy(min(p.value, y_max)))}"
            for i, p in enumerate(pts)
        )
        body.append(f'<path d="{d}" fill="none" stroke="#1565c0" stroke-width="1.5"/>')
    for p in pts:
        grade_text = "" if p.grade is None else str(p.grade)
        tip = escape(f"Day {p.study_day}: {p.reported} (G{grade_text or '?'})")
        body.append(
            f'<circle class="point" cx="{_num(sx(p.study_day))}" cy="{_num(sy(min(p.value, y_max)))}" '
            f'r="3.5" fill="#1565c0" data-day="{p.study_day}" data-value="{p.value:g}" '
            f'data-grade="{grade_text}"><title>{tip}'
            f"</title></circle>"
        )
    if not series.points:
        body.append(_text((x0 + x1) / 2, (y0 + y1) / 2, "暂无数据 / No values"))
    attrs = f'data-points="{len(series.points)}"'
    if series.ctcae_version:
        attrs += f' data-ctcae-version="{escape(series.ctcae_version)}"'
    return _frame(title, body, chart=f"lab-{series.test}", attrs=attrs)


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


def edish_chart(points: Sequence[EdishPoint], view: str, alt_line: float, bili_line: float) -> str:
    """eDISH: peak ALT (log x) vs peak total bilirubin (log y), four labelled quadrants split by lines at the
    protocol's Hy's law multiples (``Protocol.hys_law``: ``transaminase_x_uln``, ``bilirubin_x_uln``)."""
    basis = "x ULN" if view == "uln" else "x baseline / x 基线"
    title = f"eDISH: 峰值 ALT vs 峰值总胆红素 / peak ALT vs peak total bilirubin ({basis})"
    size_w, size_h = 720, 480
    x0, x1, y0, y1 = LEFT, size_w - RIGHT, TOP, size_h - BOTTOM
    sx, sy = _Log(0.1, 100.0, x0, x1), _Log(0.1, 100.0, y1, y0)
    body = [_axes(x0, x1, y0, y1)]
    for v in (0.1, 0.3, 1, 3, 10, 30, 100):
        body.append(f'<line x1="{_num(sx(v))}" y1="{y1}" x2="{_num(sx(v))}" y2="{y1 + 4}" stroke="#333"/>')
        body.append(_text(sx(v), y1 + 16, f"{v:g}"))
    for v in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100):
        body.append(f'<line x1="{x0 - 4}" y1="{_num(sy(v))}" x2="{x0}" y2="{_num(sy(v))}" stroke="#333"/>')
        body.append(_text(x0 - 8, sy(v) + 4, f"{v:g}", anchor="end"))
    body.append(
        f'<line class="alt-line" x1="{_num(sx(alt_line))}" y1="{y0}" x2="{_num(sx(alt_line))}" y2="{y1}" '
        f'stroke="#c62828" stroke-dasharray="6 4" data-value="{alt_line:g}"/>'
    )
    body.append(
        f'<line class="bili-line" x1="{x0}" y1="{_num(sy(bili_line))}" x2="{x1}" y2="{_num(sy(bili_line))}" '
        f'stroke="#c62828" stroke-dasharray="6 4" data-value="{bili_line:g}"/>'
    )
    body.append(_text(x1 - 6, y0 + 14, QUADRANTS["hys_law"], anchor="end", extra='fill="#c62828"'))
    body.append(_text(x0 + 6, y0 + 14, QUADRANTS["cholestasis"], anchor="start"))
    body.append(_text(x1 - 6, y1 - 8, QUADRANTS["temple"], anchor="end"))
    body.append(_text(x0 + 6, y1 - 8, QUADRANTS["normal"], anchor="start"))
    body.append(_text((x0 + x1) / 2, size_h - 6, f"峰值 ALT / Peak ALT ({basis}, log)"))
    body.append(
        _text(
            16,
            (y0 + y1) / 2,
            f"峰值总胆红素 / Peak bilirubin ({basis}, log)",
            extra=f'transform="rotate(-90 16 {(y0 + y1) / 2})"',
        )
    )
    shown = 0
    for p in points:
        alt, bili = (p.alt_x_uln, p.bili_x_uln) if view == "uln" else (p.alt_x_baseline, p.bili_x_baseline)
        quad = p.quadrant_uln if view == "uln" else p.quadrant_baseline
        if alt is None or bili is None:
            continue
        shown += 1
        colour = "#c62828" if quad == "hys_law" else "#1565c0"
        cx, cy = sx(min(max(alt, 0.1), 100.0)), sy(min(max(bili, 0.1), 100.0))
        body.append(
            f'<circle class="subject" cx="{_num(cx)}" cy="{_num(cy)}" r="5" fill="{colour}" '
            f'fill-opacity="0.8" data-subject="{escape(p.subject_id)}" data-alt="{alt:g}" '
            f'data-bili="{bili:g}" data-quadrant="{quad}">'
            f"<title>{escape(f'{p.subject_id}: ALT {alt:.2f}, BILI {bili:.2f} ({QUADRANTS[quad]})')}"
            f"</title></circle>"
        )
    return _frame(
        title, body, chart=f"edish-{view}", attrs=f'data-points="{shown}"', width=size_w, height=size_h
    )
