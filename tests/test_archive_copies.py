"""One article is one publication on one site (issue 14): wire copy on other sites, or under
another headline and canonical URL, is an article of its own, linked as a copy; URL variants
and identical bytes on one site stay one article; an archive an older release merged is split."""

from __future__ import annotations

import json
import shutil
import tarfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from archive.maintenance.rebuild import rebuild
from archive.maintenance.stats import stats
from archive.maintenance.verify import verify
from archive.record import Outcome, Stored
from archive.store import Archive
from scraper.cli import main
from tests.archive_support import T0, article_html, make_page, paragraphs, tiny_parse

OLD_ARCHIVE = Path(__file__).parent / "data" / "old_archives" / "archive-0.1.0-merged-wire.tar.gz"
WIRE = paragraphs(42)
SITES = [
    ("https://www.alpha.example/2024/05/02/port-strike", "Port strike enters third week", "alpha"),
    ("https://beta.example/news/2024/05/02/dockers-walk-out", "Dockers walk out again", "beta"),
    ("https://gamma.example/world/port-strike-story", "Strike shuts the harbour", "gamma"),
]


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    with Archive.open(tmp_path / "data") as arch:
        yield arch


def put(arch: Archive, url: str, html: bytes, source: str, hours: int = 0, **kw: str) -> Stored:
    page = make_page(url, html, at=T0 + timedelta(hours=hours), **kw)
    return arch.store(page, tiny_parse(page, source), source=source)


def show(capsys: pytest.CaptureFixture[str], data: Path, ref: str, fmt: str = "text") -> str:
    assert main(["--config", "/dev/null", "--data", str(data), "show", ref, "--format", fmt]) == 0
    return capsys.readouterr().out


def test_one_wire_story_on_three_sites_is_three_linked_articles(
    archive: Archive, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stored = [
        put(archive, url, article_html(headline, WIRE, canonical=url), source, i)
        for i, (url, headline, source) in enumerate(SITES)
    ]
    assert [s.outcome for s in stored] == [Outcome.NEW] * 3
    ids = [s.article.id for s in stored if s.article]
    assert len(set(ids)) == 3
    for (url, headline, source), article_id in zip(SITES, ids, strict=True):
        others = {(c.id, c.source) for c in archive.copies(article_id)}
        assert others == {(i, s) for i, (_u, _h, s) in zip(ids, SITES, strict=True)} - {
            (article_id, source)
        }
        text = show(capsys, tmp_path / "data", url)
        assert text.startswith(headline + "\n")
        copy_lines = [line for line in text.splitlines() if line.startswith("Copy: ")]
        assert len(copy_lines) == 2
        assert text.rstrip("\n").splitlines()[-2:] == copy_lines
        doc = json.loads(show(capsys, tmp_path / "data", article_id, "json"))
        assert doc["headline"] == headline
        assert doc["source"] == source
        assert sorted(c["id"] for c in doc["copies"]) == sorted(set(ids) - {article_id})
        assert {c["url"] for c in doc["copies"]} == {u for u, _h, _s in SITES} - {url}
    s = stats(archive)
    assert (s.total.articles, s.total.duplicates, s.copies, s.shared_texts) == (3, 0, 3, 1)
    assert verify(archive).ok


def test_amp_print_and_tracking_copies_of_one_page_are_one_article(
    archive: Archive, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    canon = "https://news.example/2024/05/02/port-strike"
    html = article_html("Port strike enters third week", WIRE, canonical=canon)
    variants = [canon, canon + "/amp", canon + "/print", canon + "?utm_source=feed", canon + "/"]
    stored = [put(archive, url, html, "news", i) for i, url in enumerate(variants)]
    assert [s.outcome for s in stored] == [Outcome.NEW] + [Outcome.UNCHANGED] * 4
    assert len({s.article.id for s in stored if s.article}) == 1
    assert stats(archive).total.articles == 1
    # every URL the article was seen at, though its version file was written once
    doc = json.loads(show(capsys, tmp_path / "data", canon + "/amp", "json"))
    assert set(variants) <= set(doc["urls"])
    assert doc["copies"] == []
    first = archive.layout.version("news", doc["id"], 1)
    assert canon + "/print" not in json.loads(first.read_text("utf-8"))["urls"]


def test_byte_identical_page_at_two_urls_of_one_site_is_one_article(archive: Archive) -> None:
    html = article_html("Harbour plan", paragraphs(2))
    first = put(archive, "https://news.example/harbour", html, "news")
    other = put(archive, "https://www.news.example/2024/harbour-plan", html, "news", 1)
    assert first.outcome is Outcome.NEW
    assert other.outcome is Outcome.DUPLICATE
    assert first.article is not None
    assert other.duplicate_of == first.article.id
    assert len(list(archive.blobs.iter())) == 1
    found = archive.find("https://www.news.example/2024/harbour-plan")
    assert found is not None
    assert found.id == first.article.id


def test_identical_bytes_on_another_site_are_stored_once_but_two_articles(
    archive: Archive,
) -> None:
    html = article_html("Mirror", paragraphs(3))
    a = put(archive, "https://one.example/mirror", html, "one")
    b = put(archive, "https://two.example/mirror", html, "two", 1)
    assert (a.outcome, b.outcome) == (Outcome.NEW, Outcome.NEW)
    assert len(list(archive.blobs.iter())) == 1
    assert a.article is not None
    assert b.article is not None
    assert [c.id for c in archive.copies(a.article.id)] == [b.article.id]


def test_same_text_under_a_new_headline_and_canonical_on_one_site_is_two_linked_articles(
    archive: Archive,
) -> None:
    one = "https://news.example/2024/05/02/port-strike"
    two = "https://news.example/2024/05/03/harbour-closed"
    a = put(archive, one, article_html("Port strike", WIRE, canonical=one), "news")
    b = put(archive, two, article_html("Harbour closed", WIRE, canonical=two), "news", 24)
    assert (a.outcome, b.outcome) == (Outcome.NEW, Outcome.NEW)
    assert a.article is not None
    assert b.article is not None
    assert [c.id for c in archive.copies(a.article.id)] == [b.article.id]
    assert [c.url for c in archive.copies(b.article.id)] == [one]
    # a re-fetch of the article's own URL whose body changed is still a new version
    changed = put(archive, one, article_html("Port strike", WIRE[:3], canonical=one), "news", 48)
    assert changed.outcome is Outcome.UPDATED
    assert changed.article is not None
    assert changed.article.id == a.article.id


def test_rebuild_splits_an_archive_an_older_release_merged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with tarfile.open(OLD_ARCHIVE) as tar:
        tar.extractall(tmp_path, filter="data")
    data = tmp_path / "morgue-data"
    with Archive.open(data) as arch:  # the catalog schema is upgraded on open
        # that release recorded no checksums: the upgrade records those of the intact files
        assert verify(arch, repair=True).ok
        before = stats(arch)
        assert (before.total.articles, before.total.duplicates) == (1, 3)
        report = rebuild(arch, tiny_parse, workers=1)
        assert report.split == 3
        assert any("split 3 wrongly merged" in line for line in report.lines())
        after = stats(arch)
        assert (after.total.articles, after.total.duplicates, after.copies) == (4, 0, 4)
        assert verify(arch).ok
        assert rebuild(arch, tiny_parse, workers=1).split == 0
    headlines = {
        "https://www.alpha.example/2024/05/02/port-strike": "Port strike enters third week",
        "https://beta.example/news/2024/05/02/dockers-walk-out": "Dockers walk out again",
        "https://gamma.example/world/port-strike-story": "Strike shuts the harbour",
        "https://www.alpha.example/2024/05/03/harbour-closed": "Harbour closed for a third week",
    }
    for url, headline in headlines.items():
        doc = json.loads(show(capsys, data, url, "json"))
        assert doc["headline"] == headline
        assert len(doc["copies"]) == 3
    # the files agree: a repair from them gives the same archive
    with Archive.open(data) as arch:
        repaired = verify(arch, repair=True)
        assert repaired.ok, repaired.lines()
        assert (stats(arch).total.articles, stats(arch).copies) == (4, 4)
    shutil.rmtree(data)


def test_the_reading_layer_lists_every_spelling_and_the_copies(archive: Archive) -> None:
    from archive.query import ArchiveReader

    canon = "https://news.example/2024/05/02/port-strike"
    html = article_html("Port strike enters third week", WIRE, canonical=canon)
    for i, url in enumerate([canon, canon + "?utm_source=feed", canon + "/amp"]):
        put(archive, url, html, "news", i)
    other = "https://beta.example/news/2024/05/02/dockers-walk-out"
    put(archive, other, article_html("Dockers walk out", WIRE, canonical=other), "beta", 5)
    reader = ArchiveReader(archive)
    urls = [u.url for u in reader.urls(canon)]
    assert urls[:3] == [canon, canon + "?utm_source=feed", canon + "/amp"]
    assert [c["url"] for c in reader.copies(canon)] == [other]
