"""The scheduler: due times (every / cron), no self-overlap, failures survived, clean stop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from datetime import UTC, datetime, timedelta
from typing import Any

from scraper.config import Schedule, Source
from scraper.crawl.schedule import Scheduler, next_due

T0 = datetime(2024, 5, 17, 10, 0, tzinfo=UTC)


class InlineExecutor(Executor):
    """Runs each job at submit time, on the caller's thread."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


class FakeClock:
    def __init__(self, stop: threading.Event, until: datetime) -> None:
        self.t = T0
        self.stop = stop
        self.until = until
        self.naps: list[float] = []

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.t += timedelta(seconds=max(seconds, 0.001))
        if self.t >= self.until:
            self.stop.set()


def _src(name: str, **schedule: Any) -> Source:
    return Source(name=name, home=f"https://{name}.example/", schedule=Schedule(**schedule))


def test_next_due_every_and_cron() -> None:
    assert next_due(Schedule(every=1800.0), T0) == T0 + timedelta(minutes=30)
    assert next_due(Schedule(every=None, cron="15 * * * *"), T0) == T0 + timedelta(minutes=15)


def test_sources_run_when_due_for_hours_of_fake_time() -> None:
    stop = threading.Event()
    clock = FakeClock(stop, until=T0 + timedelta(hours=3))
    ran: list[tuple[str, datetime]] = []
    sched = Scheduler(
        [_src("a", every=1800.0), _src("b", every=None, cron="15 * * * *")],
        lambda source, should_stop: ran.append((source.name, clock.now())),
        now=clock.now,
        sleep=clock.sleep,
        executor=InlineExecutor(),
    )
    sched.run(stop)
    a_runs = [t for n, t in ran if n == "a"]
    b_runs = [t for n, t in ran if n == "b"]
    assert a_runs == [T0 + timedelta(minutes=30 * i) for i in range(6)]
    assert b_runs == [
        T0 + timedelta(minutes=15),
        T0 + timedelta(hours=1, minutes=15),
        T0 + timedelta(hours=2, minutes=15),
    ]
    assert max(clock.naps) <= 30.0


def test_last_start_from_a_previous_process_is_respected() -> None:
    stop = threading.Event()
    clock = FakeClock(stop, until=T0 + timedelta(minutes=50))
    ran: list[datetime] = []
    Scheduler(
        [_src("a", every=3600.0)],
        lambda source, should_stop: ran.append(clock.now()),
        now=clock.now,
        sleep=clock.sleep,
        executor=InlineExecutor(),
        last_started={"a": T0 - timedelta(minutes=20)},
    ).run(stop)
    assert ran == [T0 + timedelta(minutes=40)]


def test_a_failing_source_does_not_stop_the_others() -> None:
    stop = threading.Event()
    clock = FakeClock(stop, until=T0 + timedelta(hours=1, minutes=1))
    ran: list[str] = []

    def run_source(source: Source, should_stop: Callable[[], bool]) -> None:
        ran.append(source.name)
        if source.name == "bad":
            raise RuntimeError("archive on fire")

    sched = Scheduler(
        [_src("bad", every=1800.0), _src("good", every=1800.0)],
        run_source,
        now=clock.now,
        sleep=clock.sleep,
        executor=InlineExecutor(),
    )
    sched.run(stop)
    assert ran.count("good") == 3
    assert ran.count("bad") == 3
    assert sched.failures[0] == ("bad", "archive on fire")


def test_no_overlap_and_stop_waits_for_the_running_crawl_to_checkpoint() -> None:
    """Real threads: a long crawl is not started twice; on stop it sees should_stop()."""
    stop = threading.Event()
    started = threading.Event()
    saw_stop: list[bool] = []
    runs: list[str] = []
    clock = {"t": T0}

    def run_source(source: Source, should_stop: Callable[[], bool]) -> None:
        runs.append(source.name)
        started.set()
        while not should_stop():  # a crawl that only ends when asked
            stop.wait(0.01)
        saw_stop.append(True)

    def sleep(seconds: float) -> None:
        clock["t"] += timedelta(minutes=10)  # an hour passes in six naps
        stop.wait(0.005)

    sched = Scheduler([_src("slow", every=60.0)], run_source, now=lambda: clock["t"], sleep=sleep)
    thread = threading.Thread(target=sched.run, args=(stop,))
    thread.start()
    assert started.wait(5)
    while clock["t"] < T0 + timedelta(hours=1):
        stop.wait(0.01)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert runs == ["slow"]  # due every minute for an hour, but never overlapping itself
    assert saw_stop == [True]


def test_sources_sharing_a_host_never_run_at_once() -> None:
    """Real threads: two sources on one host take turns; a third on another host runs beside."""
    stop = threading.Event()
    lock = threading.Lock()
    active: set[str] = set()
    together: list[set[str]] = []
    runs: list[str] = []

    def run_source(source: Source, should_stop: Callable[[], bool]) -> None:
        with lock:
            active.add(source.name)
            together.append(set(active))
            runs.append(source.name)
        stop.wait(0.05)
        with lock:
            active.discard(source.name)

    world = Source(name="world", feeds=("https://news.example/world.rss",), hosts=("news.example",))
    sport = Source(name="sport", feeds=("https://news.example/sport.rss",), hosts=("news.example",))
    other = Source(name="other", home="https://other.example/", hosts=("other.example",))
    clock = {"t": T0}

    def sleep(seconds: float) -> None:
        clock["t"] += timedelta(seconds=1)
        stop.wait(0.01)

    sched = Scheduler([world, sport, other], run_source, now=lambda: clock["t"], sleep=sleep)
    thread = threading.Thread(target=sched.run, args=(stop,))
    thread.start()
    while len(runs) < 3:
        stop.wait(0.01)
    stop.set()
    thread.join(5)
    assert not any({"world", "sport"} <= seen for seen in together)
    assert {"world", "other"} in together or {"sport", "other"} in together
