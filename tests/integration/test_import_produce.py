"""`safety import odm --produce` against the real embedded broker: the emitted events reach the input topic before
the ledger records them, and a re-import sends nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.cli.import_odm import odm
from tests.integration.conftest import Stream

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "odm"


def test_produce_sends_exactly_the_emitted_events_and_a_reimport_sends_nothing(
    stream: Stream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFETY_KAFKA_BOOTSTRAP", stream.settings.kafka.bootstrap or "")
    monkeypatch.setenv("SAFETY_TOPIC_EVENTS", stream.settings.topics.events)
    out = tmp_path / "events.jsonl"

    def run() -> None:
        result = CliRunner().invoke(
            odm,
            [
                str(FIXTURES / "odm-data-snapshot.xml"),
                "--mapping",
                str(FIXTURES / "virus-mapping.yaml"),
                "--study",
                "ChiCTR2600125907",
                "--out",
                str(out),
                "--produce",
            ],
        )
        assert result.exit_code == 0, result.output

    run()
    emitted = out.read_bytes().splitlines()
    assert len(emitted) == 15
    assert sorted(stream.read(stream.settings.topics.events)) == sorted(emitted)
    run()
    assert out.read_bytes() == b"" and len(stream.read(stream.settings.topics.events)) == 15
