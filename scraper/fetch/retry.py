"""What is retried, how long to wait between attempts, and the tenacity loop that does it.

Only transient failures are retried (Scrapy's RETRY_HTTP_CODES and connection trouble):
connect errors, timeouts, a connection dropped mid-response, and HTTP 408, 429, 500, 502,
503 and 504. Everything else fails at once. The wait before the next attempt is the server's
Retry-After when it sent one (seconds or an HTTP date), else exponential backoff with jitter.
The loop gives up when the attempts are spent or the next wait would overrun the URL's time
budget; every wait is logged. Parking a host that asks for a long pause is the fetcher's job.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
)
from tenacity.stop import stop_base

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# The longest Retry-After taken at its word: a server asking for a century gets a week (its
# host is parked for that long), so "until" stays a usable timestamp everywhere.
RETRY_AFTER_CEILING = 7 * 86400.0


class Retryable(Exception):
    """One failed attempt that may succeed if tried again later."""

    def __init__(
        self, reason: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        super().__init__(reason)


class Budget:
    """One URL's time budget. It starts with the URL's first request, not when the URL joins
    its host's queue: waiting behind other URLs of the same host is not this URL's cost."""

    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self._seconds = seconds
        self._clock = clock
        self._deadline: float | None = None

    def start(self) -> None:
        if self._deadline is None:
            self._deadline = self._clock() + self._seconds

    def left(self) -> float:
        """Seconds left (all of them until it has started)."""
        return self._seconds if self._deadline is None else self._deadline - self._clock()


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value: `120` or an HTTP date; None if unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        # float(), not int(): 400 digits make int -> float overflow (and 5000 trip int's limit)
        return min(float(text), RETRY_AFTER_CEILING)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        seconds = (when - now).total_seconds()
    except OverflowError:  # a year-9999 date at a far offset
        return RETRY_AFTER_CEILING
    return min(max(0.0, seconds), RETRY_AFTER_CEILING)


def backoff(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Wait after failed attempt `attempt` (1-based): base * 2^(attempt-1), capped, with
    "equal jitter" (half fixed, half random) so many clients do not retry in lockstep."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return float(ceiling / 2 + rng.uniform(0.0, ceiling / 2))


def _failure(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None else None


class _OutOfTime(stop_base):
    """Stop when the wait before the next attempt would use up the URL's time budget."""

    def __init__(self, time_left: Callable[[], float]) -> None:
        self._time_left = time_left

    def __call__(self, state: RetryCallState) -> bool:
        return state.upcoming_sleep >= self._time_left()


def retrying(
    *,
    url: str,
    attempts: int,
    backoff_base: float,
    backoff_max: float,
    rng: random.Random,
    sleep: Callable[[float], Awaitable[None]],
    time_left: Callable[[], float],
) -> AsyncRetrying:
    """A tenacity loop for one URL: retries `Retryable` only, re-raising the last one."""

    def wait(state: RetryCallState) -> float:
        exc = _failure(state)
        if isinstance(exc, Retryable) and exc.retry_after is not None:
            return exc.retry_after
        return backoff(state.attempt_number, base=backoff_base, cap=backoff_max, rng=rng)

    def before_sleep(state: RetryCallState) -> None:
        log.info(
            "%s: %s; attempt %d of %d, retrying in %.2f s",
            url,
            _failure(state),
            state.attempt_number,
            attempts,
            state.upcoming_sleep,
        )

    return AsyncRetrying(
        stop=stop_after_attempt(attempts) | _OutOfTime(time_left),
        wait=wait,
        retry=retry_if_exception_type(Retryable),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
