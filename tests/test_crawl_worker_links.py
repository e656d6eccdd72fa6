"""A pooled crawl judges a page's links in its ingest worker (`links.followed`): the links
followed are exactly those the crawl process followed before (`absolute_links`, then
`UrlPolicy.judge`, as `_follow_links` did), and the crawl process judges none of a page's."""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.record import RawPage
from archive.store import Archive
from scraper.config import Source
from scraper.crawl import links as crawl_links
from scraper.crawl.classify import UrlPolicy, Verdict, url_template
from scraper.crawl.discover import absolute_links, feed_links, page_hrefs
from scraper.crawl.links import Followed, LinkJudge, WorkerJudges, followed
from scraper.crawl.run import crawl
from scraper.crawl.workers import FollowAsk, links_in_worker, parse_in_worker
from scraper.fetch import AsyncFetcher
from scraper.pipeline import ingest as pipeline_ingest
from tests.archive_support import make_page
from tests.crawl_support import NewsSite, SiteServer, site_config

PAGES = Path(__file__).resolve().parent / "pages"
BENCH = Path(__file__).resolve().parent.parent / "bench"


def _before(policy: UrlPolicy, page: RawPage, *, pages: bool) -> Followed:
    """What the crawl process followed from a page before: every link judged there."""
    base, raw = page_hrefs(page.body, page.final_url)
    out: Followed = []
    for url in absolute_links(raw, base):
        verdict = policy.judge(url).verdict
        if verdict is Verdict.ARTICLE:
            out.append((url, None))
        elif verdict is Verdict.PAGE and pages:
            out.append((url, url_template(url)))
    return out


def _real_pages() -> list[RawPage]:
    """The corpus and synthetic pages at their own URLs, and the test news site's pages."""
    out = []
    for html in sorted(PAGES.glob("*/*.html")):
        meta = json.loads(html.with_suffix("").with_suffix(".meta.json").read_text())
        url = meta.get("url") or f"https://news.example/2024/05/17/{html.stem}"
        out.append(make_page(url, html.read_bytes()))
    site = NewsSite.with_articles(30)
    site.base = "https://news.example"
    paths = ["/", "/world", "/politics?page=2", "/calendar/2024/05"]
    paths += [a.path for a in site.articles[:10]]
    for path in paths:
        status, _, body = site.respond(path)
        assert status == 200, path
        out.append(make_page(site.url(path), body))
    # the polite benchmark's pages: ~57 links an article, related stories with ?utm_ copies
    polite = _polite_site()
    host = polite.Host(3, 20, 1.0)
    base = "http://127.1.0.4"
    out.append(make_page(base + "/", host.index()))
    for path, i in list(host.paths.items())[:5]:
        out.append(make_page(base + path, host.article(i, b"")))
    return out


def _polite_site() -> Any:
    spec = importlib.util.spec_from_file_location("polite_site", BENCH / "polite_site.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sources(page: RawPage) -> list[Source]:
    """A few rules for the page's site: the default classifier, deny and allow patterns."""
    home = page.final_url.split("/", 3)[:3]
    base = "/".join(home)
    return [
        Source(name="plain", home=base + "/"),
        Source(name="denying", home=base + "/", deny=(r"/world/", r"\?page=")),
        Source(name="allowing", home=base + "/", allow=(r"/\d{4}/\d{2}/",)),
    ]


def test_the_worker_follows_exactly_the_links_followed_before() -> None:
    pages = _real_pages()
    assert len(pages) > 15
    judges = WorkerJudges()  # one cache for every source, as in a worker
    compared = 0
    for _ in range(2):  # the second time from the cache
        for page in pages:
            for source in _sources(page):
                policy = UrlPolicy.for_source(source)
                for follow_pages in (True, False):
                    ask = FollowAsk(policy, pages=follow_pages)
                    parsed = parse_in_worker(page, source.name, None, ask, None)
                    expected = _before(policy, page, pages=follow_pages)
                    assert parsed.links == expected, (page.final_url, source.name)
                    feeds = feed_links(page.body, page.final_url)
                    found = links_in_worker(page, source.name, ask, True)
                    assert found == (feeds, expected)
                    base, raw = page_hrefs(page.body, page.final_url)
                    judge = judges.for_source(source.name, policy)
                    assert followed(judge, raw, base, pages=follow_pages) == expected
                    compared += len(expected)
    assert compared > 1000  # real pages, with real links


def test_a_source_whose_rules_change_is_judged_afresh() -> None:
    page = make_page(
        "https://news.example/", b'<a href="/world/2024/05/17/floods-hit-the-north">x</a>'
    )
    judges = WorkerJudges()
    base, raw = page_hrefs(page.body, page.final_url)
    plain = UrlPolicy.for_source(Source(name="s", home="https://news.example/"))
    denying = UrlPolicy.for_source(Source(name="s", home="https://news.example/", deny=("/w",)))
    assert followed(judges.for_source("s", plain), raw, base, pages=True) != []
    assert followed(judges.for_source("s", denying), raw, base, pages=True) == []
    assert followed(judges.for_source("t", plain), raw, base, pages=True) != []


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with SiteServer(NewsSite.with_articles(14, crawl_delay=0.005)) as served:
        yield served


def _frontier(data_dir: Path) -> set[tuple[str, str]]:
    (path,) = data_dir.rglob("frontier.sqlite")
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT url, kind FROM frontier_urls WHERE source = 'local'")
        return set(rows.fetchall())


def test_a_pooled_crawl_judges_no_links_in_the_crawl_process(
    site: NewsSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An article's links and a section page's are judged in the ingest workers (a listing's
    are few and dated: read in the crawl process). The frontier ends as the in-process
    crawl's does."""
    crawl_pid = os.getpid()
    judged_here: list[str] = []
    real = LinkJudge.links

    def spy(self: LinkJudge, hrefs: list[str], base: str) -> Any:
        if os.getpid() == crawl_pid:  # (a forked worker inherits the spy)
            judged_here.append(base)
        return real(self, hrefs, base)

    monkeypatch.setattr(crawl_links.LinkJudge, "links", spy)
    frontiers = []
    for pooled in (True, False):
        config = site_config(site.base, tmp_path / f"data-{pooled}")
        with Archive.open(config.data_dir) as archive:
            fetcher = AsyncFetcher(config.fetch, config.politeness)
            ingest = None if pooled else pipeline_ingest  # an `ingest` given: no pool
            crawl(config, fetcher=fetcher, archive=archive, ingest=ingest)
            assert len(list(archive.iter_articles(source="local"))) == 14
        frontiers.append(_frontier(config.data_dir))
        if pooled:
            assert judged_here == []
    assert judged_here  # (the spy works: the in-process crawl judged them all here)
    assert {site.url(a.path) for a in site.articles} & set(judged_here)
    assert frontiers[0] == frontiers[1]
    assert len(frontiers[0]) > 14
