"""Politeness: spacing per host, caps on requests in flight, slowing down, robots rules."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from scraper.config import PolitenessConfig
from scraper.fetch import AsyncFetcher
from scraper.fetch.polite import HostPace, RobotsRules
from tests import fetch_support
from tests.fetch_support import FakeClock, Reply, fetch_config, polite_config

local_site_server = fetch_support.local_site_server
local_site = fetch_support.local_site
make_fetcher = fetch_support.make_fetcher


def robots(body: bytes) -> Reply:
    return Reply(200, body, {"Content-Type": "text/plain"})


def gaps(hits) -> list[float]:
    """End of each response to the start of the next request, as the server saw them."""
    return [round(b.at - a.end, 6) for a, b in itertools.pairwise(hits)]


def test_crawl_delay_spaces_every_request_including_robots(local_site, make_fetcher):
    clock = local_site.clock = FakeClock()
    local_site.route("/robots.txt", robots(b"User-agent: *\nCrawl-delay: 1\n"))
    for path in ("/a", "/b", "/c"):
        local_site.route(path, Reply())
    fetcher = make_fetcher(politeness=polite_config(delay=0.2), clock=clock)
    for path in ("/a", "/b", "/c"):
        fetcher.fetch(local_site.url(path))
    assert local_site.paths() == ["/robots.txt", "/a", "/b", "/c"]
    assert gaps(local_site.hits()) == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("delay", "robots_txt", "expected"),
    [
        (2.0, b"User-agent: *\nCrawl-delay: 1\n", 2.0),  # the longer of the two wins
        (0.0, b"User-agent: *\nCrawl-delay: 0.5\n", 0.5),  # fractional values count
        (0.0, b"User-agent: morgue\nCrawl-delay: 3\n\nUser-agent: *\nCrawl-delay: 1\n", 3.0),
        (0.0, b"User-agent: *\nRequest-rate: 1/4\n", 4.0),
    ],
)
def test_the_longest_delay_applies(local_site, make_fetcher, delay, robots_txt, expected):
    clock = local_site.clock = FakeClock()
    local_site.route("/robots.txt", robots(robots_txt))
    local_site.route("/a", Reply())
    fetcher = make_fetcher(politeness=polite_config(delay=delay), clock=clock)
    fetcher.fetch(local_site.url("/a"))
    fetcher.fetch(local_site.url("/a"))
    assert gaps(local_site.hits()) == [expected, expected]


@pytest.mark.slow
def test_crawl_delay_holds_in_real_time(local_site, make_fetcher):
    local_site.route("/robots.txt", robots(b"User-agent: *\nCrawl-delay: 1\n"))
    local_site.route("/a", Reply())
    fetcher = make_fetcher(politeness=polite_config(delay=0.1))
    for _ in range(3):
        fetcher.fetch(local_site.url("/a"))
    measured = gaps(local_site.hits())
    assert len(measured) == 3
    assert all(1.0 <= gap < 1.5 for gap in measured), measured


def test_per_host_override_from_politeness_for(local_site, make_fetcher):
    clock = local_site.clock = FakeClock()
    local_site.route("/a", Reply())
    slow = polite_config(delay=5.0)
    fetcher = make_fetcher(
        clock=clock,
        politeness_for=lambda host: slow if host == "127.0.0.1" else polite_config(),
    )
    fetcher.fetch(local_site.url("/a"))
    fetcher.fetch(local_site.url("/a"))
    assert gaps(local_site.hits()) == [5.0, 5.0]


def many_hosts(port: int, count: int):
    async def resolve(host: str, port_: int) -> list[str]:
        return ["127.0.0.1"]

    urls = [f"http://h{i}.test:{port}/page{j}" for i in range(count) for j in range(2)]
    return resolve, urls


async def fetch_all(fetcher: AsyncFetcher, urls: list[str]) -> None:
    async with fetcher:
        pages = await asyncio.gather(*(fetcher.fetch(url) for url in urls))
    assert all(page.status == 200 for page in pages)


def test_never_more_than_the_global_cap_in_flight(local_site):
    for j in range(2):
        local_site.route(f"/page{j}", Reply(delay=0.05))
    resolve, urls = many_hosts(local_site.port(), 6)
    fetcher = AsyncFetcher(fetch_config(), polite_config(concurrency=3), resolve=resolve)
    asyncio.run(fetch_all(fetcher, urls))
    assert len(local_site.hits()) == 6 + 12  # robots.txt per host, then the pages
    assert local_site.max_in_flight["*"] == 3
    assert max(v for k, v in local_site.max_in_flight.items() if k != "*") == 1


def test_never_more_than_the_per_host_cap_in_flight(local_site):
    urls = [local_site.url(f"/p{i}") for i in range(8)]
    for i in range(8):
        local_site.route(f"/p{i}", Reply(delay=0.05))
    fetcher = AsyncFetcher(fetch_config(), polite_config(per_host=2, concurrency=16))
    asyncio.run(fetch_all(fetcher, urls))
    assert local_site.max_in_flight[f"127.0.0.1:{local_site.port()}"] == 2


def test_robots_txt_is_fetched_once_under_concurrency(local_site):
    urls = [local_site.url(f"/p{i}") for i in range(5)]
    fetcher = AsyncFetcher(fetch_config(), polite_config(per_host=3))
    for i in range(5):
        local_site.route(f"/p{i}", Reply())
    asyncio.run(fetch_all(fetcher, urls))
    assert local_site.paths()[0] == "/robots.txt"
    assert local_site.paths().count("/robots.txt") == 1


def test_503_slows_the_host_down_and_it_recovers_slowly(local_site, make_fetcher):
    clock = local_site.clock = FakeClock()
    local_site.route("/a", Reply(503, b""), Reply(200))
    fetcher = make_fetcher(fetch_config(backoff_base=0.1), polite_config(delay=0.0), clock)
    for _ in range(4):
        fetcher.fetch(local_site.url("/a"))
    measured = gaps(local_site.hits("/a"))
    assert measured[0] >= 1.0  # doubled from nothing to at least 1 s
    assert measured[1] >= 0.8  # and eased off by a tenth per good answer
    assert measured[1] > measured[2] > measured[3] > 0


def pace(clock: FakeClock, **changes) -> HostPace:
    async def sleep(seconds: float) -> None:
        clock.sleep(seconds)

    return HostPace("h", PolitenessConfig(**changes), clock=clock, sleep=sleep)


def test_rising_latency_lengthens_the_delay():
    host = pace(FakeClock(), delay=0.1)
    for _ in range(5):
        host.finished(status=200, latency=0.05)
    assert host.delay == pytest.approx(0.1)
    for _ in range(5):
        host.finished(status=200, latency=2.0)
    assert host.delay > 1.0
    host_off = pace(FakeClock(), delay=0.1, adaptive=False)
    host_off.finished(status=429, latency=5.0)
    assert host_off.delay == pytest.approx(0.1)


def test_wait_turn_measures_from_the_end_of_the_last_response():
    clock = FakeClock()
    host = pace(clock, delay=2.0)
    asyncio.run(host.wait_turn())
    clock.now += 0.5  # the response takes half a second
    host.finished(status=200, latency=0.5)
    asyncio.run(host.wait_turn())
    assert clock.sleeps == [2.0]


def test_unpaced_wait_turn_waits_for_a_hold_but_leaves_the_delay_to_the_gate():
    # a cluster worker's host gate keeps the delay (and grants turns ahead): a local wait
    # for it first would only ask the gate late; a Retry-After is still this host's own
    clock = FakeClock()
    host = pace(clock, delay=2.0)
    asyncio.run(host.wait_turn(paced=False))
    host.finished(status=200, latency=0.1)
    asyncio.run(host.wait_turn(paced=False))
    assert clock.sleeps == []
    host.hold(5.0)
    asyncio.run(host.wait_turn(paced=False))
    assert clock.sleeps == [5.0]


@pytest.mark.parametrize(
    ("status", "allowed"), [(200, False), (404, True), (403, True), (429, False), (500, False)]
)
def test_robots_answers(status, allowed):
    rules = RobotsRules.from_response(
        status, b"User-agent: *\nDisallow: /\n", now=0.0, politeness=PolitenessConfig()
    )
    assert rules.allowed("http://h/x") is allowed
    if status >= 429:
        assert rules.expires == PolitenessConfig().robots_error_wait
        assert "unavailable" in (rules.disallow_all or "")


def test_waiting_behind_other_urls_of_a_host_does_not_use_up_the_url_budget(local_site):
    # 8 URLs on a host that wants 10 s between requests: the last starts 80 s after it was
    # asked for, longer than the 30 s budget, and still succeeds.
    clock = local_site.clock = FakeClock()

    async def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        await asyncio.sleep(0)

    urls = [local_site.url(f"/p{i}") for i in range(8)]
    for i in range(8):
        local_site.route(f"/p{i}", Reply())
    fetcher = AsyncFetcher(
        fetch_config(url_budget=30.0),
        polite_config(delay=10.0),
        sleep=sleep,
        clock=clock,
        now=clock.utcnow,
    )
    asyncio.run(fetch_all(fetcher, urls))
    assert gaps(local_site.hits()) == [10.0] * 8
