"""The eDISH plot (FDA DILI guidance 2009; README, "Dashboards and the ethics committee feed"): per subject, peak
ALT against peak total bilirubin after the first infusion, as multiples of ULN and of baseline, in the quadrants of
the protocol's Hy's law lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from safety.model.events import Infusion, Lab
from safety.model.outputs import GradedObservation
from safety.reports.labs import graded_by_event, plotted, si_reading
from safety.rules.ctcae import Criteria
from safety.rules.protocol import HysLaw

EDISH_TRANSAMINASE = "ALT"  # FDA DILI guidance 2009: the plot is peak ALT against peak bilirubin


class EdishPoint(BaseModel):
    """Per subject: peak ALT and peak total bilirubin after the first infusion, x ULN and x baseline."""

    model_config = ConfigDict(frozen=True)

    subject_id: str
    alt_x_uln: float | None
    bili_x_uln: float | None
    alt_x_baseline: float | None
    bili_x_baseline: float | None
    quadrant_uln: str
    quadrant_baseline: str


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


def edish_points(
    events: Sequence[Any],
    *,
    criteria: Criteria,
    hys_law: HysLaw,
    graded: Sequence[GradedObservation] = (),
    include_pre_infusion: bool = False,
) -> list[EdishPoint]:
    """Peak ALT vs peak bilirubin per subject (x ULN, and x baseline for ciclosporin-treated AA subjects).

    x ULN divides each value by its own record's ULN; x baseline divides the SI value by the SI baseline,
    the last value of the test before the first infusion's ``occurred_at`` (docs/rules.md, "Baseline and
    treatment-emergent"), so a baseline reported in mg/dL and a follow-up in umol/L compare correctly. Quadrant
    lines are the protocol's Hy's law multiples. SI values come from the graded rows, else rules/units.yaml.
    """
    tests = (EDISH_TRANSAMINASE, hys_law.bilirubin_test)
    first: dict[str, Any] = {}
    for e in events:
        if isinstance(e, Infusion) and (e.subject_id not in first or e.occurred_at < first[e.subject_id]):
            first[e.subject_id] = e.occurred_at
    per: dict[str, dict[str, list[Lab]]] = {}
    for e in events:
        if isinstance(e, Lab) and e.test in tests and plotted(e, e.test):
            per.setdefault(e.subject_id, {}).setdefault(e.test, []).append(e)
    rows = {test: graded_by_event(graded, test) for test in tests}
    lines = (hys_law.transaminase_x_uln, hys_law.bilirubin_x_uln)
    out = []
    for subject in sorted(per):
        t0 = first.get(subject)
        values: list[tuple[float | None, float | None]] = []
        for test in tests:
            labs = sorted(per[subject].get(test, []), key=lambda e: e.occurred_at)
            readings = [(lab, si_reading(lab, rows[test].get(lab.event_id, []), criteria.units)) for lab in labs]
            before = [r for lab, r in readings if t0 is not None and lab.occurred_at < t0]
            after = [
                r
                for lab, r in readings
                if r is not None and (include_pre_infusion or (t0 is not None and lab.occurred_at >= t0))
            ]
            base = before[-1][0] if before and before[-1] is not None else None
            x_uln = [value / uln for value, uln in after if uln]
            x_base = [value / base for value, _ in after if base]
            values.append(
                (
                    round(max(x_uln), 6) if x_uln else None,
                    round(max(x_base), 6) if x_base else None,
                )
            )
        alt, bili = values
        if alt == (None, None) and bili == (None, None):
            continue
        out.append(
            EdishPoint(
                subject_id=subject,
                alt_x_uln=alt[0],
                bili_x_uln=bili[0],
                alt_x_baseline=alt[1],
                bili_x_baseline=bili[1],
                quadrant_uln=quadrant(alt[0], bili[0], *lines),
                quadrant_baseline=quadrant(alt[1], bili[1], *lines),
            )
        )
    return out


__all__ = [
    "EDISH_TRANSAMINASE",
    "EdishPoint",
    "QUADRANTS",
    "edish_points",
    "quadrant",
]
