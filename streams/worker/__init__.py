"""The stream worker: the faust app, its topics, tables and agents (ingest, delivery, watchdog), and its start and
bounded stop. Names are imported on first use (streams/exports.py), so a module of this package loads alone.
"""

from typing import TYPE_CHECKING

from streams.exports import lazy_exports

if TYPE_CHECKING:
    from streams.worker.app import create_app as create_app
    from streams.worker.delivery import Dispatcher as Dispatcher
    from streams.worker.delivery import FileLedger as FileLedger
    from streams.worker.delivery import MemoryLedger as MemoryLedger
    from streams.worker.health import BrokerHealth as BrokerHealth
    from streams.worker.run import run_worker as run_worker
    from streams.worker.run import worker_command as worker_command

_HOMES = {
    "BrokerHealth": "health",
    "Dispatcher": "delivery",
    "FileLedger": "delivery",
    "MemoryLedger": "delivery",
    "create_app": "app",
    "run_worker": "run",
    "worker_command": "run",
}
__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
