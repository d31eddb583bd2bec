"""Topic declarations: names from settings (contract names by default), every topic raw bytes.

Raw key and value serializers everywhere: decoding is ours (streams.worker.codec), so a poison record becomes a dead
letter rather than an agent crash (docs/decisions/embedded-broker.md, section 5). Topics are created by
streams.admin from deploy/kafka/topics.yaml, not by faust, so partitions and configs are the operator's (section 2).
"""

from __future__ import annotations

import faust

from streams.settings import Settings
from streams.worker.context import Topics


def declare_topics(app: faust.App, settings: Settings) -> Topics:
    def raw(name: str) -> faust.TopicT:
        return app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.kafka.partitions,
        )

    return Topics(**{field: raw(name) for field, name in settings.topics.names().items()})
