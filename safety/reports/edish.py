"""The eDISH plot (FDA DILI guidance 2009; README, "Dashboards and the ethics committee feed"): per subject, the peak
transaminase against peak total bilirubin after the first infusion, as multiples of ULN and of baseline, in the
quadrants of the protocol's Hy's law lines.

The transaminase is the one the HYS_LAW detector reads (safety/detectors/hys_law.py): any of the protocol's
``hys_law.transaminase_tests`` (ALT, AST) counts, so the plot takes the higher of them, and names which one it is,
so an alert raised on AST sits where its value is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from safety.model.events import Infusion, Lab
from safety.model.outputs import GradedObservation
from safety.reports.labs import graded_by_event, plotted, si_reading
from safety.reports.status import AlertStatus
from safety.rules.ctcae import Criteria
from safety.rules.protocol import HysLaw


class EdishPoint(BaseModel):
    """Per subject: peak transaminase and peak total bilirubin after the first infusion, x ULN and x baseline;
    ``transaminase_test`` / ``transaminase_test_baseline`` name the test of each peak (ALT or AST);
    ``alert_id`` is the subject's HYS_LAW alert, if any."""

    model_config = ConfigDict(frozen=True)

    subject_id: str
    transaminase_x_uln: float | None
    bili_x_uln: float | None
    transaminase_x_baseline: float | None
    bili_x_baseline: float | None
    quadrant_uln: str
    quadrant_baseline: str
    transaminase_test: str | None = None
    transaminase_test_baseline: str | None = None
    alert_id: str | None = None


QUADRANTS = {
    "normal": "正常 / Normal",
    "temple": "Temple 推论 / Temple's corollary",
    "cholestasis": "胆汁淤积 / Cholestasis",
    "hys_law": "潜在 Hy's law / Potential Hy's law",
}


def quadrant(alt: float | None, bili: float | None, alt_line: float, bili_line: float) -> str:
    """eDISH quadrants: lines at the protocol's Hy's law multiples (``Protocol.hys_law``:
    ``transaminase_x_uln``, ``bilirubin_x_uln``), both inclusive as Hy's law is >=."""
    high_alt = alt is not None and alt >= alt_line
    high_bili = bili is not None and bili >= bili_line
    if high_alt and high_bili:
        return "hys_law"
    if high_alt:
        return "temple"
    if high_bili:
        return "cholestasis"
    return "normal"


def _peaks(
    labs: Sequence[Lab],
    rows: dict[str, list[GradedObservation]],
    criteria: Criteria,
    t0: datetime | None,
    include_pre_infusion: bool,
) -> tuple[float | None, float | None]:
    """(peak x ULN, peak x baseline) of one test's values after the first infusion."""
    ordered = sorted(labs, key=lambda e: e.occurred_at)
    readings = [(lab, si_reading(lab, rows.get(lab.event_id, []), criteria.units)) for lab in ordered]
    before = [r for lab, r in readings if t0 is not None and lab.occurred_at < t0]
    after = [
        r
        for lab, r in readings
        if r is not None and (include_pre_infusion or (t0 is not None and lab.occurred_at >= t0))
    ]
    base = before[-1][0] if before and before[-1] is not None else None
    x_uln = [value / uln for value, uln in after if uln]
    x_base = [value / base for value, _ in after if base]
    return (round(max(x_uln), 6) if x_uln else None, round(max(x_base), 6) if x_base else None)


def _higher(peaks: dict[str, tuple[float | None, float | None]], i: int) -> tuple[str | None, float | None]:
    """The test with the higher peak (ALT before AST on a tie: the protocol's order) and that peak."""
    known = [(test, p[i]) for test, p in peaks.items() if p[i] is not None]
    if not known:
        return None, None
    return max(known, key=lambda tp: tp[1] or 0.0)


def edish_points(
    events: Sequence[Any],
    *,
    criteria: Criteria,
    hys_law: HysLaw,
    graded: Sequence[GradedObservation] = (),
    statuses: Sequence[AlertStatus] = (),
    include_pre_infusion: bool = False,
) -> list[EdishPoint]:
    """Peak transaminase (the higher of ``hys_law.transaminase_tests``) vs peak bilirubin per subject, x ULN and
    x baseline (for ciclosporin-treated AA subjects).

    x ULN divides each value by its own record's ULN; x baseline divides the SI value by the SI baseline of the
    same test, the last value before the first infusion's ``occurred_at`` (docs/rules.md, "Baseline and
    treatment-emergent"), so a baseline reported in mg/dL and a follow-up in umol/L compare correctly. Quadrant
    lines are the protocol's Hy's law multiples. SI values come from the graded rows, else rules/units.yaml.
    """
    transaminases = tuple(hys_law.transaminase_tests)
    tests = (*transaminases, hys_law.bilirubin_test)
    first: dict[str, Any] = {}
    for e in events:
        if isinstance(e, Infusion) and (e.subject_id not in first or e.occurred_at < first[e.subject_id]):
            first[e.subject_id] = e.occurred_at
    per: dict[str, dict[str, list[Lab]]] = {}
    for e in events:
        if isinstance(e, Lab) and e.test in tests and plotted(e, e.test):
            per.setdefault(e.subject_id, {}).setdefault(e.test, []).append(e)
    rows = {test: graded_by_event(graded, test) for test in tests}
    alerts: dict[str, str] = {}
    for st in sorted(statuses, key=lambda s: (s.withdrawn_at is not None, s.alert.raised_at)):
        if st.alert.kind == "HYS_LAW":
            alerts.setdefault(st.alert.subject_id, st.alert.alert_id)
    lines = (hys_law.transaminase_x_uln, hys_law.bilirubin_x_uln)
    out = []
    for subject in sorted(per):
        t0 = first.get(subject)
        peaks = {
            test: _peaks(per[subject].get(test, []), rows[test], criteria, t0, include_pre_infusion) for test in tests
        }
        bili = peaks.pop(hys_law.bilirubin_test)
        test_uln, trans_uln = _higher(peaks, 0)
        test_base, trans_base = _higher(peaks, 1)
        if (trans_uln, trans_base) == (None, None) and bili == (None, None):
            continue
        out.append(
            EdishPoint(
                subject_id=subject,
                transaminase_x_uln=trans_uln,
                bili_x_uln=bili[0],
                transaminase_x_baseline=trans_base,
                bili_x_baseline=bili[1],
                quadrant_uln=quadrant(trans_uln, bili[0], *lines),
                quadrant_baseline=quadrant(trans_base, bili[1], *lines),
                transaminase_test=test_uln,
                transaminase_test_baseline=test_base,
                alert_id=alerts.get(subject),
            )
        )
    return out


__all__ = [
    "EdishPoint",
    "QUADRANTS",
    "edish_points",
    "quadrant",
]
