"""Tables keep raw JSON bytes: the changelog must not be JSON-decoded by faust on recovery."""

from __future__ import annotations


def test_table_changelogs_use_the_raw_serializer_so_recovery_can_read_them(app) -> None:
    for table in (app.safety.tables.subjects, app.safety.tables.study):
        topic = table.changelog_topic
        assert (table.key_serializer, table.value_serializer) == ("raw", "raw")
        assert (topic.key_serializer, topic.value_serializer) == ("raw", "raw")


def test_every_topic_is_declared_raw_so_poison_records_reach_our_parser(app) -> None:
    topics = app.safety.topics
    assert {getattr(topics, name).value_serializer for name in vars(topics)} == {"raw"}
