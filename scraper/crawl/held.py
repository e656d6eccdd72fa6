"""A crawl's leased URLs that have not started yet, by host.

A crawl leases URLs in batches, and a batch may hold many URLs of one host: at the start of a
run, when few listings are read yet, one lease took all 20 articles of a few hosts. Started
at once, they all waited in the fetcher behind their host's delay (the last for 20 delays),
and took the places of fetches to other hosts, whose turns then went unused. `HeldUrls` starts
at most `per_host` URLs of a host at a time (one on the wire, one asking for the next turn);
the rest wait here, taking no fetch's place, and start as their host's fetches end. Hosts take
turns: each start goes to the host that has waited longest for one.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from urllib.parse import urlsplit

from archive.backends.frontier import Item


def _host(item: Item) -> str:
    return urlsplit(item.url).hostname or ""


class HeldUrls:
    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._by_host: dict[str, deque[Item]] = {}
        self._fetching: Counter[str] = Counter()
        # hosts with a URL here and fewer than `per_host` fetching, in the order they can
        # start one (a dict as an ordered set)
        self._startable: dict[str, None] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def startable(self) -> int:
        """How many hosts have a URL here that may start now (at least one each)."""
        return len(self._startable)

    def keys(self) -> list[str]:
        return [item.key for items in self._by_host.values() for item in items]

    def add(self, items: Iterable[Item]) -> None:
        for item in items:
            host = _host(item)
            self._by_host.setdefault(host, deque()).append(item)
            self._count += 1
            if self._fetching[host] < self.per_host:
                self._startable.setdefault(host)

    def pop(self) -> Item | None:
        """A URL to start now, counted as fetching until `fetched`; None when none may."""
        if not self._startable:
            return None
        host = next(iter(self._startable))
        del self._startable[host]
        waiting = self._by_host[host]
        item = waiting.popleft()
        self._count -= 1
        if not waiting:
            del self._by_host[host]
        self._fetching[host] += 1
        self._maybe_startable(host)
        return item

    def busy(self, host: str) -> bool:
        """Whether a URL of `host` started here and its fetch has not ended."""
        return self._fetching[host] > 0

    def withdraw(self, host: str) -> list[str]:
        """Take out the URLs of `host` not started (a cluster crawl hands the host to another
        worker, and its URLs go back to the queue): their keys."""
        items = self._by_host.pop(host, None)
        self._startable.pop(host, None)
        if not items:
            return []
        self._count -= len(items)
        return [item.key for item in items]

    def fetched(self, item: Item) -> None:
        """A started URL's fetch ended (its page is being stored, or it is done)."""
        host = _host(item)
        self._fetching[host] -= 1
        if self._fetching[host] <= 0:
            del self._fetching[host]
        self._maybe_startable(host)

    def _maybe_startable(self, host: str) -> None:
        if host in self._by_host and self._fetching[host] < self.per_host:
            self._startable.setdefault(host)  # at the back: the other hosts go first
