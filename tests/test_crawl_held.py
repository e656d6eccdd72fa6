"""A crawl's leased URLs wait by host: at most `per_host` of a host's fetching at once, and
the hosts take turns (`scraper.crawl.held`)."""

from __future__ import annotations

from archive.backends.frontier import Item, Kind
from scraper.crawl.held import HeldUrls


def _item(host: str, n: int) -> Item:
    url = f"https://{host}/story-{n}"
    return Item(url, url, Kind.ARTICLE, 1, None, None, None, 0)


def _drain(held: HeldUrls) -> list[Item]:
    started = []
    while (item := held.pop()) is not None:
        started.append(item)
    return started


def test_many_urls_of_one_host_leased_together_take_no_fetchs_place() -> None:
    held = HeldUrls(per_host=2)
    held.add([_item("a.org", n) for n in range(20)] + [_item("b.org", 0), _item("c.org", 0)])
    started = _drain(held)
    # two of a.org's (one on the wire, one asking for the next turn), then the other hosts
    assert [i.url for i in started] == [
        "https://a.org/story-0",
        "https://b.org/story-0",
        "https://c.org/story-0",
        "https://a.org/story-1",
    ]
    assert len(held) == 18
    assert held.startable == 0
    held.fetched(started[0])  # a.org's first fetch ended: its next may start
    assert held.startable == 1
    assert held.pop() == _item("a.org", 2)
    assert held.pop() is None
    assert sorted(held.keys()) == sorted(_item("a.org", n).key for n in range(3, 20))


def test_hosts_take_turns() -> None:
    held = HeldUrls(per_host=1)
    held.add([_item("a.org", 0), _item("a.org", 1), _item("b.org", 0), _item("b.org", 1)])
    first = _drain(held)
    assert [i.url for i in first] == ["https://a.org/story-0", "https://b.org/story-0"]
    for item in first:
        held.fetched(item)
    assert [i.url for i in _drain(held)] == ["https://a.org/story-1", "https://b.org/story-1"]
    assert len(held) == 0


def test_a_host_handed_back_has_its_urls_not_started_withdrawn() -> None:
    held = HeldUrls(per_host=1)
    held.add([_item("a.org", n) for n in range(3)] + [_item("b.org", 0)])
    first = held.pop()
    assert first == _item("a.org", 0)
    assert held.busy("a.org")
    assert not held.busy("b.org")
    assert held.withdraw("a.org") == [_item("a.org", n).key for n in (1, 2)]
    assert held.withdraw("a.org") == []
    assert len(held) == 1
    held.fetched(first)  # its fetch ended: nothing of a.org left to start
    assert not held.busy("a.org")
    assert _drain(held) == [_item("b.org", 0)]
