"""Regenerate examples/demo_events.jsonl, the bundled 48-subject trial that `make demo` and the tests replay.

    .venv/bin/python bench/make_example.py [PATH]

The generator (streams/dev/synthetic.py) is deterministic, so running this again without code changes gives a
byte-identical file; commit the file whenever the generator changes.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from streams.dev.synthetic import generate_trial, to_jsonl

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "examples" / "demo_events.jsonl"


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT_PATH
    events = generate_trial()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_jsonl(events), encoding="utf-8")
    counts = Counter(event["type"] for event in events)
    print(f"wrote {len(events)} events to {path}: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
