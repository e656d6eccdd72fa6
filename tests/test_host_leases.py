"""Host leases in PostgreSQL: politeness held across workers, and a dead worker's slot expires."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import pytest

from archive.backends.catalog_pg import PgCatalog
from archive.backends.hostlease_pg import Ask, HostLeases, Lease


@pytest.fixture
def catalog(pg_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    cat = PgCatalog(pg_url, root=tmp_path)
    yield cat
    cat.close()


def take(leases: HostLeases, host: str, *, delay: float, per_host: int = 1, ttl: float = 30.0):  # type: ignore[no-untyped-def]
    while True:
        got = leases.take(host, delay=delay, per_host=per_host, ttl=ttl)
        if isinstance(got, Lease):
            return got
        time.sleep(min(got, 0.05))


def test_workers_never_start_two_requests_closer_than_the_delay(
    pg_url: str, tmp_path: Path, catalog: PgCatalog
) -> None:
    starts: list[float] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        cat = PgCatalog(pg_url, root=tmp_path)  # each worker its own pool, as processes have
        try:
            leases = HostLeases(cat.pool, f"w{n}")
            for _ in range(4):
                lease = take(leases, "news.example", delay=0.15)
                with lock:
                    starts.append(lease.started)
                time.sleep(0.01)  # the request
                leases.give_back(lease)
        finally:
            cat.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    starts.sort()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 12
    assert min(gaps) >= 0.15, gaps  # on the database's clock, the one all workers share
    assert max(gaps) < 0.6  # and nobody sat idle long while work was waiting


def test_per_host_caps_requests_in_flight(catalog: PgCatalog) -> None:
    a, b, c = (HostLeases(catalog.pool, name) for name in "abc")
    first = a.take("h", delay=0.0, per_host=2, ttl=30)
    second = b.take("h", delay=0.0, per_host=2, ttl=30)
    assert isinstance(first, Lease)
    assert isinstance(second, Lease)
    assert {first.slot, second.slot} == {0, 1}
    assert not isinstance(c.take("h", delay=0.0, per_host=2, ttl=30), Lease)  # both in flight
    a.give_back(first)
    third = c.take("h", delay=0.0, per_host=2, ttl=30)
    assert isinstance(third, Lease)
    assert third.slot == first.slot
    # another host is not held up by this one
    assert isinstance(a.take("other", delay=0.0, per_host=1, ttl=30), Lease)


def test_a_batch_grants_each_host_once_and_tells_the_others_when(catalog: PgCatalog) -> None:
    a, b = HostLeases(catalog.pool, "a"), HostLeases(catalog.pool, "b")
    first = a.take("x", delay=0.5, per_host=1, ttl=30)
    assert isinstance(first, Lease)
    a.give_back(first)
    got = b.take_many(
        [Ask("x", 0.5, 1), Ask("y", 0.5, 1), Ask("y", 0.5, 1), Ask("z", 0.5, 1)], ttl=30
    )
    assert isinstance(got[1], Lease)
    assert isinstance(got[3], Lease)
    assert not isinstance(got[0], Lease)  # x started just now: it rests its delay
    assert 0.0 < float(got[0]) <= 0.5  # type: ignore[arg-type]
    assert got[2] == 0.5  # y asked twice: one start, the other waits the delay
    # give-backs go first in a batch: the end is noted before the next ask is weighed
    again = b.take_many([Ask("y", 0.0, 1)], ttl=30, done=[got[1]])  # type: ignore[list-item]
    assert isinstance(again[0], Lease)


def test_a_turn_close_ahead_is_reserved_and_holds_off_the_others(catalog: PgCatalog) -> None:
    a, b = HostLeases(catalog.pool, "a"), HostLeases(catalog.pool, "b")
    first = a.take("h", delay=0.4, per_host=1, ttl=30)
    assert isinstance(first, Lease)
    a.give_back(first)
    far = b.take_many([Ask("h", 0.4, 1, reserve=0.1)], ttl=30)[0]
    assert not isinstance(far, Lease)  # its turn is further away than 0.1 s
    assert 0.0 < far <= 0.3
    reserved = b.take_many([Ask("h", 0.4, 1, reserve=1.0)], ttl=30)[0]
    assert isinstance(reserved, Lease)
    assert 0.0 < reserved.wait <= 0.4  # granted now, to start at the host's turn
    assert reserved.started >= first.started + 0.4
    b.give_back(reserved)  # ended at once: the next turn counts from the reserved start
    after = a.take("h", delay=0.4, per_host=1, ttl=30)
    assert not isinstance(after, Lease)
    assert after > 0.4 - 0.1  # a full delay after the reserved start, still ahead


def test_a_dead_workers_slot_expires(catalog: PgCatalog) -> None:
    dead, alive = HostLeases(catalog.pool, "dead"), HostLeases(catalog.pool, "alive")
    assert isinstance(dead.take("h", delay=0.0, per_host=1, ttl=0.3), Lease)  # never given back
    assert not isinstance(alive.take("h", delay=0.0, per_host=1, ttl=0.3), Lease)
    time.sleep(0.35)
    lease = alive.take("h", delay=0.0, per_host=1, ttl=0.3)
    assert isinstance(lease, Lease)
    assert lease.holder == "alive"
    # the dead holder giving back late frees nothing of the live one's
    dead.give_back(Lease("h", lease.slot, "dead", 0.0))
    assert not isinstance(dead.take("h", delay=0.0, per_host=1, ttl=0.3), Lease)


def test_robots_txt_is_shared_until_it_expires(catalog: PgCatalog) -> None:
    one, two = HostLeases(catalog.pool, "one"), HostLeases(catalog.pool, "two")
    assert two.robots("http://a.example") is None
    one.put_robots("http://a.example", 200, b"User-agent: *\nCrawl-delay: 1\n", ttl=0.3)
    assert two.robots("http://a.example") == (200, b"User-agent: *\nCrawl-delay: 1\n")
    time.sleep(0.35)
    assert two.robots("http://a.example") is None


def test_frontier_leases_of_a_dead_worker_expire(catalog: PgCatalog) -> None:
    from archive.backends.frontier import Entry, Kind, State

    catalog.frontier_lease_ttl = 0.3
    with catalog.open_frontier() as f:
        f.begin_run("s", now=0.0, starts=[])
        f.add(
            "s",
            [Entry(f"https://e.org/s-{i}", Kind.ARTICLE, 1) for i in range(3)],
            now=0.0,
            refresh_after=1e9,
        )
        taken = f.lease("s", 2)  # a worker that dies now
        # a second worker joining the run does not take the live leases back
        f.begin_run("s", now=1.0, starts=[])
        (mine,) = f.lease("s", 5)
        assert mine.key == "https://e.org/s-2"
        f.finish("s", mine.key, state=State.DONE, now=2.0, outcome="new")
        time.sleep(0.35)
        assert sorted(i.key for i in f.lease("s", 5)) == sorted(i.key for i in taken)


def test_a_give_back_notes_when_the_response_ended_not_when_it_is_sent(
    catalog: PgCatalog,
) -> None:
    a, b = HostLeases(catalog.pool, "a"), HostLeases(catalog.pool, "b")
    first = a.take("h", delay=0.0, per_host=1, ttl=30)
    assert isinstance(first, Lease)
    time.sleep(2.0)  # the request is long over when its give-back goes (a busy batcher)
    a.take_many([], ttl=30, done=[first], ended_ago=[0.5])
    # the 1 s delay counts from the end 0.5 s ago, not from now: 0.5 s of it left
    wait = b.take("h", delay=1.0, per_host=1, ttl=30)
    assert not isinstance(wait, Lease)
    assert 0.3 < wait < 0.6
    # never earlier than the delay after the last start
    c = HostLeases(catalog.pool, "c")
    second = c.take("k", delay=0.0, per_host=1, ttl=30)
    assert isinstance(second, Lease)
    c.take_many([], ttl=30, done=[second], ended_ago=[5.0])
    soon = b.take("k", delay=1.0, per_host=1, ttl=30)
    assert not isinstance(soon, Lease)
    assert 0.8 < soon <= 1.0


class SlowAnswers:
    """Host leases on a database whose clock is the epoch clock, each granting a turn 0.5 s
    after it read its clock; the first answer comes back at once, the others 0.2 s after
    the read (round trips vary: a busy batch takes longer)."""

    def __init__(self) -> None:
        self.calls = 0

    def take_many(self, asks, *, ttl, done=(), ended_ago=()):  # type: ignore[no-untyped-def]
        read = time.time()
        if asks:
            self.calls += 1
            time.sleep(0.2 if self.calls > 1 else 0.0)
        return [Lease(a.host, 0, "w", read + 0.5, 0.5) for a in asks]


def test_a_reserved_turn_starts_on_time_not_a_round_trip_late() -> None:
    import asyncio

    from scraper.cluster.politeness import PgHostGate

    gate = PgHostGate(SlowAnswers(), ttl=30.0)  # type: ignore[arg-type]

    async def turns() -> list[tuple[float, float]]:
        got = []
        for _ in range(3):
            asked = time.time()
            lease = await gate.acquire("news.example", delay=1.0, per_host=1)
            assert isinstance(lease, Lease)
            got.append((time.time() - lease.started, time.time() - asked))
            await gate.release(lease, delay=1.0)
        return got

    for early_or_late, took in asyncio.run(turns()):
        assert early_or_late >= -0.002  # never before its turn (the sleep's clock resolution)
        assert early_or_late < 0.1  # nor the 0.2 s round trip after it (the quick one told
        assert took < 0.6  # how far the two clocks are apart)


def test_a_request_behind_this_workers_own_lease_asks_with_its_give_back(
    catalog: PgCatalog,
) -> None:
    """The host's one slot is this worker's: the next request waits for the give-back here,
    not asking the database every RETRY_LOCKED, and its ask goes in the give-back's batch."""
    import asyncio

    from scraper.cluster.politeness import PgHostGate

    leases = HostLeases(catalog.pool, "w")
    gate = PgHostGate(leases, ttl=30.0)

    async def two_requests() -> tuple[Lease, Lease, int, list[float]]:
        first = await gate.acquire("h", delay=0.3, per_host=1)
        assert isinstance(first, Lease)
        before = leases.queries
        second_task = asyncio.ensure_future(gate.acquire("h", delay=0.3, per_host=1))
        await asyncio.sleep(0.5)  # the first response is on the wire this long
        asked_meanwhile = leases.queries - before
        await gate.release(first, delay=0.3)
        second = await second_task
        assert isinstance(second, Lease)
        await gate.release(second, delay=0.3)
        return first, second, asked_meanwhile, gate.batch_sizes

    first, second, asked_meanwhile, batches = asyncio.run(two_requests())
    assert asked_meanwhile == 0  # no polling for the slot this worker holds
    assert second.started >= first.started + 0.3  # (and it waited its delay)
    assert 2.0 in batches  # the second's ask went with the first's give-back
