"""Broker-less agent tests (docs/decisions/embedded-broker.md, section 8): a fresh app per test, sends captured."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from unittest import mock

import faust
import pytest
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from prometheus_client import CollectorRegistry

from streams.settings import Settings
from streams.web.metrics import SafetyMetrics
from streams.worker.app import create_app


class Sent(list[tuple[str, bytes | None, bytes]]):
    """(topic, key, value) of every Topic.send, in order; a record over the producer's size limit raises, as
    aiokafka does. ``flushed``: the subjects and seen tables each time the producer was flushed (ingest flushes
    before it writes subject states)."""

    flushed: list[dict[str, dict[bytes, bytes]]]

    def on(self, topic: str) -> list[tuple[bytes | None, bytes]]:
        return [(k, v) for t, k, v in self if t == topic]


@pytest.fixture()
def sent() -> Iterator[Sent]:
    calls = Sent()

    async def fake_send(self: faust.Topic, *, key: Any = None, value: Any = None, **_: Any) -> asyncio.Future[None]:
        size = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, [])
        if size > self.app.conf.producer_max_request_size:  # what aiokafka's producer raises in send()
            raise MessageSizeTooLargeError(f"The message is {size} bytes when serialized")
        calls.append((self.get_topic_name(), key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    calls.flushed = []

    async def fake_flush(self: Any) -> None:  # no broker: nothing buffered can reach one
        tables = self.app.safety.tables
        calls.flushed.append({"subjects": dict(tables.subjects.items()), "seen": dict(tables.seen.items())})

    with (
        mock.patch("faust.topics.Topic.send", fake_send),
        mock.patch("faust.transport.drivers.aiokafka.Producer.flush", fake_flush),
    ):
        yield calls


@pytest.fixture()
def app() -> faust.App:
    settings = Settings(kafka={"bootstrap": "127.0.0.1:1"}, worker={"store": "memory://"}, web={"enabled": False})
    worker = create_app(settings, metrics=SafetyMetrics.create(CollectorRegistry()))
    worker.finalize()
    worker.flow_control.resume()
    return worker
