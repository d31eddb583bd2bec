"""View models for the safety officer's pages and the ethics committee's reports.

Pure functions from input events, graded observations, alerts and acknowledgement records to plain models: the
study overview (``overview``), the SAE/SUSAR line listing (``listings``), each subject's lab timeline
(``timeline``), the eDISH plot (``edish``) and the public safety summary (``summary``). The stream's pages and the
offline ``safety report`` build the same models from the same inputs, so the two can be compared byte for byte.
No clock is read: ``generated_at`` is an input.
"""

from safety.reports.alert_detail import AlertDetail, Trigger, alert_detail
from safety.reports.edish import QUADRANTS, EdishPoint, edish_points, quadrant
from safety.reports.inputs import AckRecord, read_acks, read_alerts, read_events, read_graded
from safety.reports.listings import LISTED_KINDS, LISTING_COLUMNS, ListingRow, line_listing, listing_record
from safety.reports.lists import (
    SORTS,
    STATUSES,
    AeRow,
    AlertQuery,
    ae_listing,
    lab_listing,
    overdue_reports,
    select_alerts,
    term_by_grade,
)
from safety.reports.overview import Overview, SeriesPoint, StoppingParams, overview, posterior_exceeds
from safety.reports.status import REPORTED_KINDS, AlertStatus, alert_statuses
from safety.reports.summary import (
    FEED_KINDS,
    SUMMARY_FORMAT_VERSION,
    Crossing,
    Report,
    SummaryView,
    build_report,
    crossing,
    subject_ids,
    summary_document,
    summary_view,
)
from safety.reports.timeline import (
    EARLY_DAYS,
    SUBJECT_POINTS_LIMIT,
    TIMELINE_LABELS,
    TIMELINE_TESTS,
    ULN_UNIT,
    GradeBand,
    LabPoint,
    LabScale,
    LabSeries,
    Marker,
    SubjectTimeline,
    lab_scale,
    subject_timeline,
    timeline_tests,
)

__all__ = [
    "EARLY_DAYS",
    "FEED_KINDS",
    "LISTED_KINDS",
    "LISTING_COLUMNS",
    "QUADRANTS",
    "REPORTED_KINDS",
    "SORTS",
    "STATUSES",
    "SUBJECT_POINTS_LIMIT",
    "SUMMARY_FORMAT_VERSION",
    "TIMELINE_LABELS",
    "TIMELINE_TESTS",
    "ULN_UNIT",
    "AckRecord",
    "AeRow",
    "AlertDetail",
    "AlertQuery",
    "AlertStatus",
    "Crossing",
    "EdishPoint",
    "GradeBand",
    "LabPoint",
    "LabScale",
    "LabSeries",
    "ListingRow",
    "Marker",
    "Overview",
    "Report",
    "SeriesPoint",
    "StoppingParams",
    "SubjectTimeline",
    "SummaryView",
    "Trigger",
    "ae_listing",
    "alert_detail",
    "alert_statuses",
    "build_report",
    "crossing",
    "edish_points",
    "lab_listing",
    "lab_scale",
    "line_listing",
    "listing_record",
    "overdue_reports",
    "overview",
    "posterior_exceeds",
    "quadrant",
    "read_acks",
    "read_alerts",
    "read_events",
    "read_graded",
    "select_alerts",
    "subject_ids",
    "subject_timeline",
    "summary_document",
    "summary_view",
    "term_by_grade",
    "timeline_tests",
]
