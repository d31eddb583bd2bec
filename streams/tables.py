"""faust Tables of the worker: JSON bytes values, changelog-backed, one writer each (convention 10).

``subjects``: subject_id -> SubjectState JSON; written only by the ``ingest`` agent; co-partitioned with
safety.events (same key, same partition count), so a subject's state lives where its events arrive.
``study``: study_id -> StudyState JSON; written only by the ``study`` agent on safety.study.
The store is ``settings.store`` (memory:// in tests and the demo, rocksdb:// in production).
"""

from __future__ import annotations

import faust
from faust.types import TableT

from streams.context import Tables
from streams.settings import Settings


def declare_tables(app: faust.App, settings: Settings) -> Tables:
    def table(name: str, help_text: str) -> TableT[bytes, bytes]:
        # key_type/value_type=bytes is what makes faust pick the "raw" serializer for the changelog (recovery
        # json-decodes otherwise and stalls with "Error in recovery"); the schema covers the table's sends.
        schema: faust.Schema[bytes, bytes] = faust.Schema(
            key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        )
        return app.Table(
            name,
            default=None,
            schema=schema,
            key_type=bytes,
            value_type=bytes,
            partitions=settings.partitions,
            help=help_text,
        )

    return Tables(
        subjects=table("subjects", "subject_id -> SubjectState JSON (writer: ingest)"),
        study=table("study", "study_id -> StudyState JSON (writer: study)"),
    )
