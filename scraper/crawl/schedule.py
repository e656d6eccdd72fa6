"""`morgue schedule`: start each source's crawl when its schedule says, for as long as it runs.

`Scheduler.run(stop)` loops until `stop` is set: it starts every source that is due (its
`Schedule.every` after its last start, or the next `Schedule.cron` time), at most
`max_parallel` at once, never two sources that share a host (each crawl paces hosts with its
own fetcher), and never a source while its previous crawl still runs (a source that
overran its interval runs once more right after, not once per missed slot). A crawl that raises
is logged and the source is simply due again later; the others carry on. When `stop` is set
(SIGINT/SIGTERM in the CLI) running crawls see `should_stop()` turn True, finish what they have
in flight and checkpoint the rest in the frontier, and `run` returns once they have. The clock,
the sleep and the executor are parameters, so tests drive hours of schedule in milliseconds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import datetime, timedelta

from archive.record import utcnow
from scraper.config import Schedule, Source

log = logging.getLogger(__name__)

# run_source(source, should_stop) performs one crawl of one source
RunSource = Callable[[Source, Callable[[], bool]], object]
MAX_NAP = 30.0  # seconds; the loop wakes at least this often to reap finished crawls


def next_due(schedule: Schedule, after: datetime) -> datetime:
    """The first time after `after` that the schedule fires."""
    if schedule.cron:
        from croniter import croniter

        moment: datetime = croniter(schedule.cron, after).get_next(datetime)
        return moment
    return after + timedelta(seconds=schedule.every or 3600.0)


class Scheduler:
    def __init__(
        self,
        sources: Sequence[Source],
        run_source: RunSource,
        *,
        now: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], object] | None = None,
        executor: Executor | None = None,
        max_parallel: int = 4,
        last_started: Mapping[str, datetime] | None = None,
    ) -> None:
        self.sources = list(sources)
        self.run_source = run_source
        self.now = now
        self._sleep = sleep
        self._executor = executor
        self.max_parallel = max_parallel
        self.last_started = dict(last_started or {})
        self.started: list[tuple[str, datetime]] = []  # (source, when): what ran, for tests/logs
        self.failures: list[tuple[str, str]] = []

    def first_due(self, source: Source, now: datetime) -> datetime:
        """Due now when never run (or overdue), else one interval after the last start."""
        last = self.last_started.get(source.name)
        if last is None:
            return now if source.schedule.cron is None else next_due(source.schedule, now)
        return min(max(next_due(source.schedule, last), now), next_due(source.schedule, now))

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set, then wait for running crawls to checkpoint."""
        sleep = self._sleep or stop.wait
        executor = self._executor or ThreadPoolExecutor(
            max_workers=self.max_parallel, thread_name_prefix="crawl"
        )
        start = self.now()
        due = {s.name: self.first_due(s, start) for s in self.sources}
        running: dict[str, Future[object]] = {}
        try:
            while not stop.is_set():
                self._reap(running)
                now = self.now()
                for source in self.sources:
                    if stop.is_set() or len(running) >= self.max_parallel:
                        break
                    if source.name in running or due[source.name] > now:
                        continue
                    if self._shares_a_host(source, running):
                        continue  # still due: it starts once the other crawl has ended

                    due[source.name] = next_due(source.schedule, now)
                    running[source.name] = self._start(executor, source, stop, now)
                self._reap(running)
                if stop.is_set():
                    break
                soonest = min(due.values(), default=now + timedelta(seconds=MAX_NAP))
                nap = max((soonest - self.now()).total_seconds(), 0.0)
                # while crawls run, wake every second to notice the ones that ended
                sleep(min(nap, 1.0 if running else MAX_NAP))
        finally:
            log.info("stopping: waiting for %d running crawl(s) to checkpoint", len(running))
            for name, future in list(running.items()):
                self._report(name, future)
            if self._executor is None:
                executor.shutdown(wait=True)

    def _shares_a_host(self, source: Source, running: Mapping[str, object]) -> bool:
        """Each crawl paces hosts with its own fetcher, so two sources on one host must not
        run at once: together they would visit it twice as often as politeness allows."""
        hosts = set(source.hosts)
        return any(hosts & set(s.hosts) for s in self.sources if s.name in running)

    def _start(
        self, executor: Executor, source: Source, stop: threading.Event, now: datetime
    ) -> Future[object]:
        log.info("%s: starting a scheduled crawl", source.name)
        self.started.append((source.name, now))
        self.last_started[source.name] = now
        return executor.submit(self.run_source, source, stop.is_set)

    def _reap(self, running: dict[str, Future[object]]) -> None:
        for name, future in list(running.items()):
            if future.done():
                del running[name]
                self._report(name, future)

    def _report(self, name: str, future: Future[object]) -> None:
        try:
            future.result()
        except Exception as exc:  # a failing source must not stop the others
            self.failures.append((name, str(exc)))
            log.error("%s: crawl failed: %s", name, exc)
