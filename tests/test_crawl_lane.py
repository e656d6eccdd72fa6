"""The handling lane: a burst of page handlers cannot hold back a host's request that fell due."""

from __future__ import annotations

import asyncio
import time

from scraper.crawl.lane import HandlingLane

HANDLERS = 20
WORK = 0.004  # seconds of CPU per handler: a section front's links


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def _burst(lane: HandlingLane | None) -> int:
    """Handlers that all become ready at once, as responses arriving together do, and a timer
    (a host's Crawl-delay running out) due in the same pass: how many handlers ran before it."""
    done = 0
    fired_after: list[int] = []

    async def handler() -> None:
        nonlocal done
        if lane is None:
            _busy(WORK)
        else:
            async with lane.turn():
                _busy(WORK)
        done += 1

    tasks = [asyncio.ensure_future(handler()) for _ in range(HANDLERS)]
    # due in the same pass of the loop as the burst, queued behind it
    asyncio.get_running_loop().call_later(0, lambda: fired_after.append(done))
    await asyncio.gather(*tasks)
    await asyncio.sleep(0)
    assert fired_after, "the timer never ran"
    return fired_after[0]


def test_a_due_timer_waits_for_at_most_one_handler() -> None:
    assert asyncio.run(_burst(HandlingLane())) <= 1


def test_without_the_lane_the_burst_runs_first() -> None:
    # the failure the lane exists for: every handler of the burst ran before the timer
    assert asyncio.run(_burst(None)) == HANDLERS


def test_handlers_keep_their_order_and_an_error_frees_the_lane() -> None:
    async def main() -> list[int]:
        lane = HandlingLane()
        order: list[int] = []

        async def handler(n: int) -> None:
            async with lane.turn():
                if n == 2:
                    raise ValueError("a broken page")
                order.append(n)

        results = await asyncio.gather(*(handler(n) for n in range(5)), return_exceptions=True)
        assert isinstance(results[2], ValueError)
        return order

    assert asyncio.run(main()) == [0, 1, 3, 4]
