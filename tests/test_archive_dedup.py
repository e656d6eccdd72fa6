"""The three levels of deduplication, versions, and what `store` returns."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from archive.backends.catalog_schema import CATALOG_SCHEMA_VERSION
from archive.maintenance.stats import stats
from archive.maintenance.verify import verify
from archive.record import Article, Outcome
from archive.store import Archive
from archive.validate import RecordValidator
from tests.archive_support import (
    T0,
    article_html,
    make_page,
    paragraphs,
    sql,
    tiny_parse,
)

CANON = "https://news.example/2012/05/bridge-reopens"


@pytest.fixture
def archive(open_archive: Callable[..., Archive], tmp_path: Path) -> Iterator[Archive]:
    with open_archive(tmp_path / "arch") as arch:
        yield arch


def store(arch: Archive, url: str, html: bytes, *, minutes: int = 0, source: str = "ex", **kw):  # type: ignore[no-untyped-def]
    page = make_page(url, html, at=T0 + timedelta(minutes=minutes), **kw)
    return arch.store(page, tiny_parse(page, source), source=source)


def test_five_url_variants_are_one_article(archive: Archive) -> None:
    html = article_html("Bridge reopens", paragraphs(1), canonical=CANON)
    variants = [
        CANON,
        CANON + "?utm_source=twitter&utm_medium=social",
        "http://NEWS.example:80/2012/05/bridge-reopens/amp",
        CANON + "#comments",
        "https://news.example/2012/05/bridge-reopens/?fbclid=abc",
    ]
    results = [store(archive, url, html, minutes=i) for i, url in enumerate(variants)]
    assert [r.outcome for r in results] == [Outcome.NEW] + [Outcome.UNCHANGED] * 4
    assert len({r.article.id for r in results}) == 1
    assert len(list(archive.iter_articles())) == 1
    for url in variants:
        found = archive.find(url)
        assert found is not None
        assert found.id == results[0].article.id
    # a listing's links, asked all at once (the crawl's discovery): the same answers as `find`
    unknown = "https://news.example/2012/05/another-story/"
    many = archive.find_urls([*variants, unknown])
    assert set(many) == set(variants)
    assert {a.id for a in many.values()} == {results[0].article.id}
    assert archive.find_urls([]) == {}


def test_urls_without_canonical_use_the_final_url_and_keep_every_url(archive: Archive) -> None:
    html = article_html("Harbour plan", paragraphs(2))
    first = store(archive, "https://news.example/harbour", html, requested="https://t.example/x")
    again = store(archive, "https://news.example/harbour?utm_campaign=a", html, minutes=1)
    other = store(archive, "https://www.news.example/harbour", html, minutes=2)
    assert first.outcome is Outcome.NEW
    assert again.outcome is Outcome.UNCHANGED
    # another host: not the same URL, but the same body text -> a duplicate, linked
    assert other.outcome is Outcome.DUPLICATE
    assert other.duplicate_of == first.article.id
    record = archive.find(first.article.id)
    assert record is not None
    assert "https://t.example/x" in record.urls
    assert "https://news.example/harbour" in record.urls


def test_canonical_on_another_site_is_ignored(archive: Archive) -> None:
    html = article_html("Storm", paragraphs(3), canonical="https://aggregator.example/storm")
    stored = store(archive, "https://news.example/storm", html)
    assert stored.article.canonical_url == "https://news.example/storm"


def test_changed_body_makes_version_two(archive: Archive) -> None:
    body = paragraphs(4)
    first = store(archive, CANON, article_html("Bridge reopens", body, canonical=CANON))
    changed = body[:3] + paragraphs(99, 3)
    second = store(
        archive, CANON, article_html("Bridge reopens", changed, canonical=CANON), minutes=60
    )
    assert second.outcome is Outcome.UPDATED
    assert (second.article.id, second.article.version) == (first.article.id, 2)
    versions = archive.versions(first.article.id)
    assert [v.version for v in versions] == [1, 2]
    assert [b.text for b in versions[0].content.body] == body
    assert archive.find(CANON).version == 2  # type: ignore[union-attr]


def test_changed_headline_alone_is_a_new_version(archive: Archive) -> None:
    body = paragraphs(5)
    store(archive, CANON, article_html("Bridge to reopen", body, canonical=CANON))
    second = store(archive, CANON, article_html("Bridge reopens", body, canonical=CANON), minutes=5)
    assert second.outcome is Outcome.UPDATED


def test_changed_sidebar_or_counter_is_unchanged(archive: Archive) -> None:
    body = paragraphs(6, count=8)
    first = store(archive, CANON, article_html("Bridge", body, canonical=CANON, sidebar="10:01"))
    sidebar = store(
        archive, CANON, article_html("Bridge", body, canonical=CANON, sidebar="10:02"), minutes=1
    )
    # a view counter inside the article text: the body digest changes, the SimHash barely
    counted = [*body, "1,204 readers"]
    counter1 = store(archive, CANON, article_html("Bridge", counted, canonical=CANON), minutes=2)
    counted2 = [*body, "1,205 readers"]
    counter2 = store(archive, CANON, article_html("Bridge", counted2, canonical=CANON), minutes=3)
    assert sidebar.outcome is Outcome.UNCHANGED
    assert counter1.outcome is Outcome.UNCHANGED
    assert counter2.outcome is Outcome.UNCHANGED
    assert len(archive.versions(first.article.id)) == 1
    # the raw bytes of each fetch are still kept, identical bytes once
    assert len(list(archive.blobs.iter())) == 4


def test_same_body_and_headline_at_two_urls_of_one_site_is_a_duplicate(archive: Archive) -> None:
    body = paragraphs(7)
    first = store(archive, "https://news.example/a", article_html("Fire at mill", body))
    again = store(archive, "https://www.news.example/wire/123", article_html("Fire at mill", body))
    assert again.outcome is Outcome.DUPLICATE
    assert again.duplicate_of == first.article.id
    assert len(list(archive.iter_articles())) == 1
    found = archive.find("https://www.news.example/wire/123")
    assert found is not None
    assert found.id == first.article.id
    assert stats(archive).total.duplicates == 1


def test_identical_bytes_are_stored_once_but_every_fetch_is_kept(archive: Archive) -> None:
    html = article_html("Same", paragraphs(8), canonical=CANON)
    for minutes in range(3):
        store(archive, CANON, html, minutes=minutes)
    shas = list(archive.blobs.iter())
    assert len(shas) == 1
    assert [d["fetched_at"] for d in archive.blobs.sidecars(shas[0])] == [
        "2026-05-09T12:00:00Z",
        "2026-05-09T12:01:00Z",
        "2026-05-09T12:02:00Z",
    ]


def test_near_identical_bodies_at_different_urls_are_reported(archive: Archive) -> None:
    body = paragraphs(9, count=10)
    a = store(archive, "https://news.example/one", article_html("One", body))
    b = store(archive, "https://news.example/two", article_html("Two", [*body, "Comments: 3"]))
    assert b.outcome is Outcome.NEW
    pairs = archive.near_duplicates()
    assert [(sorted(p[:2]), p[2] <= 3) for p in pairs] == [
        (sorted([a.article.id, b.article.id]), True)
    ]
    c = store(archive, "https://other.example/3", article_html("Three", paragraphs(10)))
    assert all(c.article.id not in p[:2] for p in archive.near_duplicates())


def test_article_id_is_stable_hex(archive: Archive) -> None:
    stored = store(archive, CANON, article_html("Id", paragraphs(11), canonical=CANON))
    import hashlib

    assert stored.article.id == hashlib.sha256(CANON.encode()).hexdigest()[:16]


def test_304_records_the_fetch_and_validators_come_back(archive: Archive) -> None:
    html = article_html("Etag", paragraphs(12), canonical=CANON)
    store(archive, CANON, html, etag='"v1"')
    validators = archive.validators(CANON + "?utm_source=x")
    assert validators is not None
    assert validators.etag == '"v1"'
    assert validators.headers()["If-None-Match"] == '"v1"'
    page = make_page(CANON, b"", at=T0 + timedelta(hours=1), status=304, etag='"v1"')
    result = archive.store_unchanged(page, source="ex")
    assert result.outcome is Outcome.UNCHANGED
    assert result.article is not None
    fetches = sql(archive, "SELECT status FROM archive_fetches ORDER BY fetched_at")
    assert [r[0] for r in fetches] == [200, 304]
    miss = archive.store_unchanged(make_page("https://x.example/new", b"", status=304), source="ex")
    assert miss.article is None
    assert archive.validators("https://unknown.example/") is None


def test_every_record_validates_and_round_trips(archive: Archive) -> None:
    body = paragraphs(13)
    store(archive, CANON, article_html("A", body, canonical=CANON, caption=("Crowd", "AP")))
    store(archive, CANON, article_html("B", paragraphs(14), canonical=CANON), minutes=1)
    store(archive, "https://news.example/c", article_html("C", paragraphs(15)))
    validator = RecordValidator()
    files = sorted(Path(archive.root, "articles").rglob("v*.json"))
    assert len(files) == 3
    for path in files:
        doc = json.loads(path.read_text("utf-8"))
        assert validator.problems(doc) == []
        assert Article.from_json(doc).to_json() == doc


def test_search_finds_headline_and_body_words(archive: Archive) -> None:
    store(archive, CANON, article_html("Bridge reopens", ["The ferry zebracorn ran late."]))
    store(archive, "https://news.example/x", article_html("Museum", ["Nothing to see here."]))
    from archive.query import ArchiveReader

    reader = ArchiveReader(archive)
    assert [h.headline for h in reader.search("zebracorn").hits] == ["Bridge reopens"]
    assert [h.headline for h in reader.search("museum").hits] == ["Museum"]
    assert not reader.search("absentword").hits


def test_crawl_runs_tag_their_fetches(archive: Archive) -> None:
    run = archive.start_run("crawl", "ex")
    store(archive, CANON, article_html("Run", paragraphs(16), canonical=CANON))
    archive.finish_run(run, {"new": 1})
    store(archive, "https://news.example/later", article_html("Later", paragraphs(17)))
    rows = sql(archive, "SELECT run_id FROM archive_fetches ORDER BY fetched_at, url")
    assert [r[0] for r in rows] == [run, None]
    (kind, counts, finished) = sql(
        archive, "SELECT kind, counts, finished_at FROM archive_runs WHERE id = ?", run
    )[0]
    assert (kind, counts) == ("crawl", '{"new": 1}')
    assert finished is not None


def test_content_that_fails_the_schema_is_refused_but_the_raw_page_kept(archive: Archive) -> None:
    from archive.errors import SchemaError
    from archive.record import Content

    page = make_page("https://news.example/empty", b"<html>odd</html>")
    bad = Content(headline="", body=(), published="last tuesday")
    with pytest.raises(SchemaError, match="headline"):
        archive.store(page, bad, source="ex")
    assert archive.blobs.has(page.sha256)
    assert archive.find("https://news.example/empty") is None
    assert verify(archive).ok


def test_a_new_version_replaces_the_articles_simhash_bands(archive: Archive) -> None:
    from archive.fingerprint import bands

    body = paragraphs(4)
    first = store(archive, CANON, article_html("Bridge reopens", body, canonical=CANON))
    changed = paragraphs(98, 4)
    second = store(
        archive, CANON, article_html("Bridge reopens", changed, canonical=CANON), minutes=60
    )
    assert second.outcome is Outcome.UPDATED
    (head,) = sql(archive, "SELECT simhash FROM archive_articles WHERE id = ?", first.article.id)
    rows = sql(
        archive,
        "SELECT band, value FROM archive_simhash_bands WHERE article_id = ? ORDER BY band",
        first.article.id,
    )
    assert rows == list(enumerate(bands(head[0] % 2**64)))  # the new body's, none of the old


def test_bands_are_found_by_article_so_a_store_does_not_scan_them(tmp_path: Path) -> None:
    import contextlib
    import sqlite3

    root = tmp_path / "arch"
    with Archive.open(root) as arch:
        store(arch, CANON, article_html("Bridge reopens", paragraphs(4), canonical=CANON))
    db_path = root / "catalog.sqlite"
    # a catalog of schema 3 had no index on the bands' article: opening it adds one
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        db.execute("DROP INDEX archive_simhash_bands_article")
        db.execute("UPDATE archive_info SET value = '3' WHERE key = 'schema'")
        db.commit()
    with Archive.open(root):
        pass
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        plan = db.execute(
            "EXPLAIN QUERY PLAN DELETE FROM archive_simhash_bands WHERE article_id = 'x'"
        ).fetchall()
        (schema,) = db.execute("SELECT value FROM archive_info WHERE key = 'schema'").fetchone()
    assert "archive_simhash_bands_article" in " ".join(str(row[-1]) for row in plan)
    assert schema == str(CATALOG_SCHEMA_VERSION)
