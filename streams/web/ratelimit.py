"""In-process rate limits of sign-in and acknowledgement attempts, per source address and per person.

A password guessed online or an alert flooded with acknowledgements must cost time: each key (``addr:<ip>``,
``user:<name>``) may make ``limit`` attempts in a sliding ``window`` of seconds. The limit is per worker process
(several workers multiply it; a reverse proxy's limit is the outer one). Memory is bounded: the least recently
used keys beyond ``keys_kept`` are forgotten.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable


class RateLimit:
    def __init__(self, limit: int, window: float, clock: Callable[[], float], keys_kept: int = 10_000) -> None:
        self.limit, self.window, self.clock, self.keys_kept = limit, window, clock, keys_kept
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, keys: Iterable[str]) -> int | None:
        """Count one attempt under each key; None when every key is within its limit, else seconds to wait."""
        now = self.clock()
        wait = 0.0
        for key in keys:
            hits = self._hits.pop(key, None) or deque()
            while hits and now - hits[0] >= self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                wait = max(wait, self.window - (now - hits[0]))
            else:
                hits.append(now)
            self._hits[key] = hits
        while len(self._hits) > self.keys_kept:
            self._hits.popitem(last=False)
        return max(1, int(wait + 0.999)) if wait > 0 else None
