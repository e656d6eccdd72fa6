"""Group commits of a cluster worker (`scraper.pipeline.ingest_many`): a batch of pages files
each page as storing them one by one would, on PostgreSQL with its look-ups read ahead, even
when pages of one batch are the same article, copies or near duplicates of each other."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from archive.backends.storage import Storage
from archive.maintenance.verify import verify
from archive.record import RawPage, Stored
from archive.store import Archive
from scraper.errors import ParseError
from scraper.pipeline import PageJob, ingest, ingest_many
from tests.archive_support import T0, article_html, make_page, paragraphs
from tests.backend_support import Databases

SITE = "https://news.example"


def _pages(round_: int) -> list[RawPage]:
    at = T0 + timedelta(hours=round_)
    body = paragraphs(1)
    edited = [*paragraphs(5)[:5], "A late paragraph with a correction of the whole story."]
    near = [*paragraphs(3)[:5], paragraphs(3)[5].replace("e", "a", 1)]
    if round_ == 0:
        return [
            make_page(f"{SITE}/2024/one", article_html("One", body), at=at),
            make_page(f"{SITE}/2024/five", article_html("Five", paragraphs(5)), at=at),
        ]
    return [
        # a new article, then the same one reached by another URL naming it canonical
        make_page(f"{SITE}/2024/two", article_html("Two", paragraphs(2)), at=at),
        make_page(
            f"{SITE}/2024/two?ref=feed",
            article_html("Two", paragraphs(2), canonical=f"{SITE}/2024/two"),
            at=at,
        ),
        # the same text and headline as a stored article at another address: a duplicate
        make_page(f"{SITE}/print/one", article_html("One", body), at=at),
        # the same bytes as an earlier page of this batch
        make_page(f"{SITE}/2024/three", article_html("Three", paragraphs(3)), at=at),
        make_page(f"{SITE}/amp/three-copy", article_html("Three", paragraphs(3)), at=at),
        # a near duplicate of "Three" under another headline
        make_page(f"{SITE}/2024/three-b", article_html("Three again", near), at=at),
        # a stored article, changed: a new version
        make_page(f"{SITE}/2024/five", article_html("Five", edited), at=at),
        # no article in it: kept raw
        make_page(f"{SITE}/2024/empty", b"<html><body><p>nothing</p></body></html>", at=at),
        # the same text on another site: a new article, a copy
        make_page("https://other.example/2024/one", article_html("One", body), at=at),
    ]


def _outcome(result: Stored | Exception) -> str:
    if isinstance(result, ParseError):
        return "parse error"
    assert isinstance(result, Stored), result
    return f"{result.outcome.value} {result.article.id if result.article else None}"


def _one_by_one(archive: Archive, pages: list[RawPage]) -> list[str]:
    out = []
    for page in pages:
        try:
            out.append(_outcome(ingest(page, archive=archive, source="news")))
        except ParseError as exc:
            out.append(_outcome(exc))
    return out


def test_a_batch_files_each_page_as_one_by_one_would(
    tmp_path: Path, pg_databases: Databases
) -> None:
    results = {}
    for how in ("single", "batch"):
        root = tmp_path / how
        with Archive.open(root, storage=Storage(catalog=pg_databases.create())) as archive:
            _one_by_one(archive, _pages(0))
            pages = _pages(1)
            if how == "single":
                outcomes = _one_by_one(archive, pages)
            else:
                jobs = [PageJob(page, "news") for page in pages]
                outcomes = [_outcome(r) for r in ingest_many(jobs, archive=archive)]
            results[how] = (
                outcomes,
                archive.catalog.count_articles(),
                sorted(archive.near_duplicates()),
                archive.catalog.count_copies(),
            )
            report = verify(archive)
            assert report.ok, report.problems
    assert results["batch"] == results["single"]
    outcomes = results["batch"][0]
    assert [o.split()[0] for o in outcomes] == [
        "new",
        "unchanged",
        "duplicate",
        "new",
        "duplicate",
        "new",
        "updated",
        "parse",
        "new",
    ]
    assert results["batch"][2], "the near duplicate in the batch is found"


def test_a_page_failing_inside_a_batch_leaves_the_others_stored(
    tmp_path: Path, pg_url: str
) -> None:
    pages = _pages(1)
    with Archive.open(tmp_path, storage=Storage(catalog=pg_url)) as archive:
        index = archive._index

        def failing(page: RawPage, *args: object) -> None:
            index(page, *args)  # type: ignore[arg-type]
            if page.final_url.endswith("/2024/two"):
                raise OSError("disk said no after the rows were written")

        archive._index = failing  # type: ignore[method-assign]
        results = ingest_many([PageJob(page, "news") for page in pages], archive=archive)
        assert isinstance(results[0], OSError)
        # the second page is the same article: with the first one's rows rolled back, it is new
        assert _outcome(results[1]).startswith("new")
        assert all(not isinstance(r, OSError) for r in results[1:])
        archive._index = index  # type: ignore[method-assign]
        report = verify(archive)
        assert report.ok, report.problems
