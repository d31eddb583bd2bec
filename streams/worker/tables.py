"""faust Tables of the worker: JSON bytes values, changelog-backed, one writer each.

``subjects``: subject_id -> SubjectState JSON; written only by the ``ingest`` agent; co-partitioned with
safety.events (same key, same partition count), so a subject's state lives where its events arrive.
``seen``: "<study_id>/<subject_id>/<event_id>" -> the revision and digest last applied for that event id, and the
subject's event count then (streams/worker/codec.py, ``encode_seen``); written only by the ``ingest`` agent, always
with the subject's record as current event, so its changelog partition is the subject's (co-partitioned with
``subjects``). Read one entry per event: the subject state no longer carries them.
``study``: study_id -> StudyState JSON; written only by the ``study`` agent on safety.study.
The store is ``settings.worker.store`` (memory:// in tests and the demo, rocksdb:// in production).

Every table of the worker, plug-ins' included (``dashboard_view``, ``delivery_ledger``), is declared with
``raw_table``: faust picks the changelog serializer from ``key_type``/``value_type``, and a table declared with a
raw ``schema`` but without ``key_type=bytes, value_type=bytes`` gets the "json" serializer for its changelog. Its
writes still work, so nothing shows until the first restart: recovery then json-decodes our raw bytes, logs
"Error in recovery Expecting value" ~80 times a second and never finishes, and the worker processes nothing
again (README, "Known limitations"). tests/streams/test_tables.py checks every table of the app.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.types import TableT

from streams.settings import Settings
from streams.worker.context import Tables

RAW: dict[str, Any] = {"key_type": bytes, "value_type": bytes}


def raw_schema() -> faust.Schema[bytes, bytes]:
    """Raw bytes both ways: decoding is ours (streams.worker.codec), never faust's."""
    return faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


def raw_table(
    app: faust.App, name: str, *, help_text: str, partitions: int | None = None, is_global: bool = False
) -> TableT[bytes, bytes]:
    """A changelog-backed table of bytes -> bytes (``GlobalTable`` when ``is_global``): the only way to declare one."""
    factory = app.GlobalTable if is_global else app.Table
    table: TableT[bytes, bytes] = factory(
        name, default=None, schema=raw_schema(), partitions=partitions, help=help_text, **RAW
    )
    return table


def declare_tables(app: faust.App, settings: Settings) -> Tables:
    def table(name: str, help_text: str) -> TableT[bytes, bytes]:
        return raw_table(app, name, help_text=help_text, partitions=settings.kafka.partitions)

    return Tables(
        subjects=table("subjects", "subject_id -> SubjectState JSON (writer: ingest)"),
        seen=table("seen", "study/subject/event_id -> revision:digest@count applied (writer: ingest)"),
        study=table("study", "study_id -> StudyState JSON (writer: study)"),
    )
