"""A worker sends a page's hrefs back each once, in page order: the crawl process judges the
same links from them with less to unpickle and to look at."""

from __future__ import annotations

from archive.record import RawPage
from scraper.config import Source
from scraper.crawl.classify import UrlPolicy
from scraper.crawl.discover import page_hrefs
from scraper.crawl.links import LinkJudge
from scraper.crawl.workers import parse_in_worker
from tests.archive_support import make_page

SITE = "https://news.example"


def _page() -> RawPage:
    links = ["/a", "/b", "/a", "https://news.example/c", "/b", "d", "/a"]
    html = "<html><body>" + "".join(f'<a href="{h}">x</a>' for h in links) + "</body></html>"
    return make_page(f"{SITE}/index", html.encode())


def test_each_href_comes_back_once_in_page_order() -> None:
    parsed = parse_in_worker(_page(), "news", None, True, None)
    assert parsed.hrefs is not None
    base, hrefs = parsed.hrefs
    assert base == f"{SITE}/index"
    assert hrefs == ["/a", "/b", "https://news.example/c", "d"]


def test_the_links_judged_are_those_of_every_href() -> None:
    page = _page()
    parsed = parse_in_worker(page, "news", None, True, None)
    assert parsed.hrefs is not None
    policy = UrlPolicy.for_source(_source())
    base, raw = page_hrefs(page.body, page.final_url)
    assert LinkJudge(policy).links(parsed.hrefs[1], base) == LinkJudge(policy).links(raw, base)


def _source() -> Source:
    return Source(name="news", home=f"{SITE}/", hosts=("news.example",))
