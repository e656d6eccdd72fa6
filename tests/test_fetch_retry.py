"""Retries: only transient failures, Retry-After honoured or the host parked, time bounded."""

from __future__ import annotations

import itertools
import logging
import socket
import time
from datetime import timedelta
from email.utils import format_datetime

import pytest

from scraper.errors import BadStatus, HostParked, RobotsUnavailable, TransientFetchError
from scraper.fetch.retry import backoff, retry_after_seconds
from tests import fetch_support
from tests.fetch_support import FakeClock, Reply, fetch_config, polite_config

# the tests of timeouts fetch no robots.txt: on a busy machine its own fetch can take longer
# than the sub-second timeouts they set, which ends the fetch before the page is asked for
NO_ROBOTS = polite_config(robots=False)

local_site_server = fetch_support.local_site_server
local_site = fetch_support.local_site
make_fetcher = fetch_support.make_fetcher


def test_503_503_200_is_retried_and_succeeds(local_site, make_fetcher):
    clock = FakeClock()
    local_site.route("/a", Reply(503, b"busy"), Reply(503, b"busy"), Reply(200))
    page = make_fetcher(clock=clock, politeness=polite_config(adaptive=False)).fetch(
        local_site.url("/a")
    )
    assert (page.status, page.attempts, len(local_site.hits("/a"))) == (200, 3, 3)
    first, second = clock.sleeps  # equal jitter: between half and all of base * 2^n
    assert 0.25 <= first <= 0.5
    assert 0.5 <= second <= 1.0
    # every wait is on the result (to the millisecond; the fake clock keeps its sleeps to
    # the microsecond, so rounding both to 3 places can differ by one in the last digit)
    assert page.waits == pytest.approx((first, second), abs=0.0011)
    assert page.meta_json()["waits"] == list(page.waits)


def test_retry_after_in_seconds_is_honoured(local_site, make_fetcher):
    clock = local_site.clock = FakeClock()
    busy = Reply(429, b"slow down", {"Retry-After": "2"})
    local_site.route("/a", busy, busy, Reply(200))
    page = make_fetcher(clock=clock).fetch(local_site.url("/a"))
    assert page.status == 200
    assert clock.sleeps == [2.0, 2.0]
    assert (page.attempts, page.waits) == (3, (2.0, 2.0))
    at = [h.at for h in local_site.hits("/a")]
    assert [b - a for a, b in itertools.pairwise(at)] == [2.0, 2.0]


def test_retry_after_as_http_date_is_honoured(local_site, make_fetcher):
    clock = FakeClock()
    when = format_datetime(clock.utcnow() + timedelta(seconds=7), usegmt=True)
    local_site.route("/a", Reply(503, b"", {"Retry-After": when}), Reply(200))
    page = make_fetcher(clock=clock).fetch(local_site.url("/a"))
    assert (page.status, page.attempts, clock.sleeps) == (200, 2, [7.0])


def test_retry_after_holds_the_whole_host(local_site, make_fetcher):
    clock = local_site.clock = FakeClock()
    local_site.route("/a", Reply(429, b"", {"Retry-After": "30"}))
    local_site.route("/b", Reply(200))
    fetcher = make_fetcher(fetch_config(attempts=1), clock=clock)
    with pytest.raises(TransientFetchError, match="HTTP 429"):
        fetcher.fetch(local_site.url("/a"))
    fetcher.fetch(local_site.url("/b"))
    assert local_site.hits("/b")[0].at - local_site.hits("/a")[0].end >= 30.0


def test_a_long_retry_after_parks_the_host_instead_of_sleeping(local_site, make_fetcher):
    clock = FakeClock()
    local_site.route("/a", Reply(503, b"", {"Retry-After": "3600"}), Reply(200))
    local_site.route("/b", Reply(200))
    fetcher = make_fetcher(clock=clock)
    with pytest.raises(HostParked, match="Retry-After 3600 s") as info:
        fetcher.fetch(local_site.url("/a"))
    assert info.value.until == pytest.approx(clock.utcnow().timestamp() + 3600)
    with pytest.raises(HostParked):
        fetcher.fetch(local_site.url("/b"))
    assert clock.sleeps == []
    assert local_site.paths() == ["/robots.txt", "/a"]
    clock.now += 3600
    assert fetcher.fetch(local_site.url("/b")).status == 200


def test_500_forever_gives_up_after_the_configured_attempts(local_site, make_fetcher, caplog):
    caplog.set_level(logging.INFO, logger="scraper")
    clock = FakeClock()
    local_site.route("/a", Reply(500, b"oops"))
    fetcher = make_fetcher(fetch_config(attempts=4), clock=clock)
    with pytest.raises(TransientFetchError, match=r"HTTP 500 \(gave up after 4 attempts\)"):
        fetcher.fetch(local_site.url("/a"))
    assert len(local_site.hits("/a")) == 4
    assert len(clock.sleeps) == 3
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert [m.split("; ")[1].split(",")[0] for m in retries] == [
        "attempt 1 of 4",
        "attempt 2 of 4",
        "attempt 3 of 4",
    ]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 501])
def test_other_statuses_are_not_retried(local_site, make_fetcher, status):
    local_site.route("/a", Reply(status, b"no"))
    with pytest.raises(BadStatus):
        make_fetcher(clock=FakeClock()).fetch(local_site.url("/a"))
    assert len(local_site.hits("/a")) == 1


@pytest.mark.parametrize("status", [408, 502, 504])
def test_each_transient_status_is_retried(local_site, make_fetcher, status):
    local_site.route("/a", Reply(status, b""), Reply(200))
    assert make_fetcher(clock=FakeClock()).fetch(local_site.url("/a")).attempts == 2


def test_a_stalled_response_times_out(local_site, make_fetcher):
    local_site.route("/stall", Reply(stall=True))
    cfg = fetch_config(read_timeout=0.3, attempts=2, backoff_base=0.05)
    started = time.monotonic()
    with pytest.raises(TransientFetchError, match=r"timed out.*gave up after 2 attempts"):
        make_fetcher(cfg, NO_ROBOTS).fetch(local_site.url("/stall"))
    assert time.monotonic() - started < 2.0
    assert len(local_site.hits("/stall")) == 2


def test_a_trickling_response_is_cut_at_the_request_timeout(local_site, make_fetcher):
    def trickle():
        for _ in range(100):
            time.sleep(0.05)  # always inside the read timeout, never done
            yield b"<p>x</p>"

    local_site.route("/slow", Reply(200, b"", {"Content-Type": "text/html"}, chunks=trickle))
    cfg = fetch_config(read_timeout=0.3, request_timeout=0.5, attempts=1)
    started = time.monotonic()
    with pytest.raises(TransientFetchError, match=r"no complete answer within 0.5 s"):
        make_fetcher(cfg, NO_ROBOTS).fetch(local_site.url("/slow"))
    assert time.monotonic() - started < 1.5


def test_a_server_that_never_answers_costs_at_most_the_url_budget(local_site, make_fetcher):
    local_site.route("/stall", Reply(stall=True))
    cfg = fetch_config(read_timeout=0.25, attempts=50, backoff_base=0.05, url_budget=1.0)
    started = time.monotonic()
    with pytest.raises(TransientFetchError, match="gave up"):
        make_fetcher(cfg, NO_ROBOTS).fetch(local_site.url("/stall"))
    assert time.monotonic() - started < 1.5


def test_connection_refused_is_retried_then_reported(make_fetcher):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fetcher = make_fetcher(fetch_config(attempts=2), clock=FakeClock())
    with pytest.raises(RobotsUnavailable, match=r"robots.txt unavailable \(connection failed"):
        fetcher.fetch(f"http://127.0.0.1:{port}/a")
    fetcher = make_fetcher(fetch_config(attempts=2), polite_config(robots=False), FakeClock())
    with pytest.raises(TransientFetchError, match=r"connection failed.*after 2 attempts"):
        fetcher.fetch(f"http://127.0.0.1:{port}/a")


def test_retry_after_parsing():
    now = FakeClock().utcnow()
    assert retry_after_seconds("120", now) == 120.0
    assert (
        retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    )
    assert retry_after_seconds(format_datetime(now - timedelta(days=1), usegmt=True), now) == 0.0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_backoff_grows_exponentially_within_its_cap():
    import random

    rng = random.Random(1)
    waits = [backoff(n, base=1.0, cap=8.0, rng=rng) for n in range(1, 7)]
    for n, wait in enumerate(waits, start=1):
        ceiling = min(8.0, 2.0 ** (n - 1))
        assert ceiling / 2 <= wait <= ceiling
