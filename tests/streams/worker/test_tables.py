"""Tables keep raw JSON bytes: the changelog must not be JSON-decoded by faust on recovery."""

from __future__ import annotations

from streams.settings import Settings


def test_table_changelogs_use_the_raw_serializer_so_recovery_can_read_them(app) -> None:
    for table in (app.safety.tables.subjects, app.safety.tables.study):
        topic = table.changelog_topic
        assert (table.key_serializer, table.value_serializer) == ("raw", "raw")
        assert (topic.key_serializer, topic.value_serializer) == ("raw", "raw")


def test_every_table_of_the_app_with_every_plug_in_has_the_raw_bytes_schema(app) -> None:
    # A table declared without key_type/value_type=bytes gets a json changelog: a restart never recovers it
    # (streams/worker/tables.py). The ``app`` fixture runs the default plug-ins, as `make demo` and production do.
    assert Settings().worker.plugins and app.safety.settings.worker.plugins == Settings().worker.plugins
    names = set(app.tables)
    assert {"subjects", "study", "dashboard_view", "delivery_ledger"} <= names
    for name in names:
        table = app.tables[name]
        topic = table.changelog_topic
        assert (table.key_type, table.value_type) == (bytes, bytes), name
        assert (table.key_serializer, table.value_serializer) == ("raw", "raw"), name
        assert (topic.key_serializer, topic.value_serializer) == ("raw", "raw"), name
        assert (table.data.key_serializer, table.data.value_serializer) == ("raw", "raw"), name


def test_every_topic_is_declared_raw_so_poison_records_reach_our_parser(app) -> None:
    topics = app.safety.topics
    assert {getattr(topics, name).value_serializer for name in vars(topics)} == {"raw"}
