"""Development and demonstration tools: the embedded Kafka-protocol broker, the synthetic trial and the demo.
Names are imported on first use (streams/exports.py), so a module of this package loads alone.
"""

from typing import TYPE_CHECKING

from streams.exports import lazy_exports

if TYPE_CHECKING:
    from streams.dev.broker import EmbeddedBroker as EmbeddedBroker
    from streams.dev.broker import embedded_broker as embedded_broker
    from streams.dev.broker import free_port as free_port
    from streams.dev.demo import demo_command as demo_command
    from streams.dev.demo import run_demo as run_demo
    from streams.dev.synthetic import generate_events as generate_events
    from streams.dev.synthetic import generate_trial as generate_trial
    from streams.dev.synthetic import to_jsonl as to_jsonl

_HOMES = {
    "EmbeddedBroker": "broker",
    "demo_command": "demo",
    "embedded_broker": "broker",
    "free_port": "broker",
    "generate_events": "synthetic",
    "generate_trial": "synthetic",
    "run_demo": "demo",
    "to_jsonl": "synthetic",
}
__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
