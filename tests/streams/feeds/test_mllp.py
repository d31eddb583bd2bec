"""The MLLP listener answers AA only after the broker acknowledged every event; AE when it did not."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from streams.feeds.live import END, START, FeedMetrics, Gateway, serve_mllp
from streams.feeds.site import load_site

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "feeds"
LRI = (FIXTURES / "LRI_2.0-NG_CBC_Typ_Message.hl7").read_text(encoding="utf-8").replace("\n", "\r")


async def exchange(acknowledge: bool) -> tuple[str, list[bytes], list[str]]:
    """One message over a real socket; the broker's acknowledgement is a future that resolves or never does."""
    sent: list[bytes] = []
    letters: list[str] = []

    async def send(key: bytes, value: bytes) -> Awaitable[Any]:
        sent.append(value)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if acknowledge:
            future.set_result(None)
        return future

    async def dead_letter(adapter: str, reason: str, raw: str) -> None:
        letters.append(reason + raw)

    site = load_site(ROOT / "rules" / "sites" / "example-lis.yaml", FIXTURES / "subjects.csv")
    gateway = Gateway(site, send, dead_letter, FeedMetrics.create(CollectorRegistry()), ack_timeout=0.5)
    server = await serve_mllp(gateway, "127.0.0.1", 0, 1_000_000)
    port = server.sockets[0].getsockname()[1]
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(START + LRI.encode() + END)
        await writer.drain()
        answer = (await reader.readuntil(END)).decode()
        writer.close()
    return answer, sent, letters


def test_aa_after_the_broker_acknowledged() -> None:
    answer, sent, letters = asyncio.run(exchange(acknowledge=True))
    assert "MSA|AA|NIST-LRI-NG-002.00" in answer
    assert len(sent) == 5 and letters == []
    assert not any(b"PATID1234" in value or b"Jones" in value for value in sent)


def test_no_aa_when_the_broker_does_not_acknowledge() -> None:
    answer, sent, _ = asyncio.run(exchange(acknowledge=False))
    assert "MSA|AE|NIST-LRI-NG-002.00|the broker did not acknowledge" in answer
    assert "MSA|AA" not in answer
