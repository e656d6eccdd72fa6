"""Helpers for the reading side's tests: a small archive stored through `Archive.store`
(articles with every searchable field, one with two versions, one seen at several URLs, a
duplicate page, hostile records) and `morgue serve` started as a user starts it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from archive.record import Block, BlockKind, Caption, Content
from archive.store import Archive
from tests.archive_support import T0, make_page

HOSTILE_HEADLINE = "<script>alert(1)</script><img src=x onerror=alert(2)>Hostile"
BIG_HEADLINE_BYTES = 5_000_000


def content(headline: str, paragraphs: list[str], **fields: object) -> Content:
    body = tuple(Block(p) for p in paragraphs)
    return Content(headline=headline, body=body, parser="test", parser_version="1", **fields)  # type: ignore[arg-type]


def page_html(title: str, extra: str = "") -> bytes:
    head = f"<!doctype html><html><head><title>{title}</title></head>"
    return f"{head}<body>{extra}</body></html>".encode()


@dataclass
class Stored:
    strike: str  # the two-version article (headline changed, a paragraph removed)
    mueller: str  # captions and authors with diacritics; seen at three URLs
    weather: str  # another source, no published date
    hostile: str  # script headline, javascript: URLs, raw page with SVG onload
    big: str  # a 5 MB headline
    urls: dict[str, list[str]]


def store(
    arch: Archive,
    url: str,
    c: Content,
    *,
    at_hours: float,
    source: str = "harbour-news",
    requested: str | None = None,
    body: bytes | None = None,
) -> str:
    page = make_page(
        url, body or page_html(url), requested=requested, at=T0 + timedelta(hours=at_hours)
    )
    stored = arch.store(page, c, source=source)
    assert stored.article is not None
    return stored.article.id


def build(root: Path, *, hostile: bool = True) -> Stored:
    """The reading tests' archive, built through the archive's own store path."""
    base = "http://news.example"
    with Archive.open(root) as arch:
        strike_v1 = content(
            "Port strike closes the harbour",
            [
                "Dockers walked out at dawn on Monday.",
                "The port authority called it unlawful.",
                "Ships waited in the bay.",
                "A rumour of a deal went round by noon.",
            ],
            subheadline="Union demands higher pay",
            authors=("Jane Roe",),
            published="2024-03-04T08:00:00+01:00",
            section="Business",
        )
        strike = store(arch, f"{base}/2024/03/04/port-strike", strike_v1, at_hours=0)
        strike_v2 = content(
            "Port strike ends after talks",
            [
                "Dockers walked out at dawn on Monday.",
                "The port authority called the strike unlawful.",
                "Ships waited in the bay.",
            ],
            subheadline="Union demands higher pay",
            authors=("Jane Roe",),
            published="2024-03-04T08:00:00+01:00",
            section="Business",
        )
        store(arch, f"{base}/2024/03/04/port-strike", strike_v2, at_hours=30)
        mueller_c = content(
            "Council meets over budget",
            ["The council met on Thursday.", "Nothing was decided about the ferry timetable."],
            authors=("Anna Müller",),
            captions=(
                Caption("The town hall at night", "Jörg Straße", "https://img.example/a.jpg"),
            ),
            published="2024-05-02",
            section="Local",
        )
        mueller = store(
            arch, f"{base}/2024/05/02/council", mueller_c, at_hours=2, requested=f"{base}/c/123"
        )
        # the same text at another address: a duplicate, linked to the article
        store(arch, f"{base}/print/council", mueller_c, at_hours=3)
        weather_c = content("Storm warning for the coast", ["Gales are expected tonight."])
        weather = store(
            arch, "http://weather.example/storm", weather_c, at_hours=4, source="weather"
        )
        hostile_id = big_id = ""
        if hostile:
            svg = (
                b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(3)"></svg>'
                b"<script>alert(4)</script>"
                b'<script type="application/ld+json">{"headline": "</script>'
                b'<script>alert(5)</script>"}</script>'
                b'<a href="javascript:alert(6)">x</a>'
            )
            hostile_c = content(
                HOSTILE_HEADLINE,
                [
                    '<a href="javascript:alert(7)">click</a> </script><script>alert(8)</script>',
                    "javascript:alert(9)",
                ],
                captions=(Caption("<svg onload=alert(10)>", "<b>x</b>", "javascript:alert(11)"),),
                lead_image="javascript:alert(12)",
                authors=("<script>alert(13)</script>",),
            )
            hostile_id = store(
                arch, f"{base}/evil", hostile_c, at_hours=5, body=page_html("evil", svg.decode())
            )
            big_c = content(
                "Big " + "A" * BIG_HEADLINE_BYTES, ["A paragraph under a very long headline."]
            )
            big_id = store(arch, f"{base}/big", big_c, at_hours=6)
        urls = {
            mueller: [u.url for u in arch.catalog.article_urls(mueller)],
        }
    return Stored(strike, mueller, weather, hostile_id, big_id, urls)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(tmp: Path, data: Path) -> Path:
    path = tmp / "config.yaml"
    path.write_text(
        f"data_dir: {data}\n"
        "politeness: {delay: 0s}\n"
        "network: {allow: [127.0.0.1, localhost]}\n"
        "fetch: {attempts: 1}\n",
        encoding="utf-8",
    )
    return path


@contextlib.contextmanager
def serve(config: Path, *extra: str) -> Iterator[str]:
    """`morgue serve` in a child process, as a user starts it; yields its base URL."""
    port = free_port()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scraper",
            "--config",
            str(config),
            "serve",
            "--port",
            str(port),
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"morgue serve exited {proc.returncode}: {err}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/api/sources", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail("morgue serve did not answer within 60 s")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


__all__ = ["BIG_HEADLINE_BYTES", "HOSTILE_HEADLINE", "BlockKind", "Stored", "build", "serve"]
