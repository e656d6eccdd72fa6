"""Search in the embedded catalog over many matches: the ranking is bm25 with the headline
weighted, exactly, up to `RANK_CANDIDATES` matching versions and over the newest that many
past it; the articles are counted exactly up to `COUNT_CAP` and said to be more past it."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import archive
from archive.backends import catalog_sqlite_search as sqlite_search
from archive.backends.catalog_schema import BM25
from archive.ftsquery import parse
from archive.query import ArchiveReader
from archive.store import Archive
from tests.read_support import content, store

ARTICLES = 40
QUERIES = ["ferry", "ferry harbour", '"ferry harbour"', "ferry OR tide", "ferry -tide", "fer*"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 articles naming the ferry more or less often, in longer or shorter texts, some in
    the headline; one in three with a second version that also matches."""
    path = tmp_path_factory.mktemp("topk") / "data"
    with Archive.open(path) as arch:
        for i in range(ARTICLES):
            url = f"http://x.example/{i}"
            headline = f"Ferry news {i}" if i % 7 == 0 else f"Story {i}"
            words = ["ferry"] * (1 + i % 4) + ["harbour"] * (i % 3) + ["tide"] * (i % 5 == 0)
            body = [" ".join(words + ["filler"] * (5 + 3 * i)) + ".", f"Item {i}."]
            store(arch, url, content(headline, body), at_hours=i)
            if i % 3 == 0:
                store(arch, url, content(headline, [*body, "Ferry update."]), at_hours=50 + i)
    with archive.open(path) as reader:
        reader.refresh()
    return path


@pytest.fixture(scope="module")
def tied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 articles that score alike (the same words as often, as long), on four days."""
    path = tmp_path_factory.mktemp("tied") / "data"
    with Archive.open(path) as arch:
        for i in range(12):
            body = [f"The ferry left at {i} past nine.", f"Item {i}."]
            store(arch, f"http://x.example/tied/{i}", content(f"Story {i}", body), at_hours=i * 9)
    with archive.open(path) as reader:
        reader.refresh()
    return path


@pytest.fixture
def reader(root: Path) -> Iterator[ArchiveReader]:
    with archive.open(root) as r:
        yield r


def reference(root: Path, query: str, newest: int | None = None) -> list[tuple[float, str]]:
    """(bm25 of its best version, id) of each article, best first, straight from FTS5 over
    every match (or the `newest` matching versions only)."""
    fts = parse(query)[0]
    with contextlib.closing(sqlite3.connect(root / "catalog.sqlite")) as db:
        bound = 0
        if newest is not None:
            bound = db.execute(
                "SELECT rowid FROM archive_fts WHERE archive_fts MATCH ?"
                " ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                (fts, newest - 1),
            ).fetchone()[0]
        rows = db.execute(
            "SELECT m.article_id, min(f.rank) AS r FROM archive_fts f JOIN archive_search_meta m"
            " ON m.doc = f.rowid WHERE archive_fts MATCH ? AND f.rowid >= ?"
            " GROUP BY m.article_id ORDER BY r, m.article_id",
            (fts, bound),
        ).fetchall()
    return [(round(-r[1], 9), r[0]) for r in rows]


def ranked(reader: ArchiveReader, query: str) -> list[tuple[float, str]]:
    """The reader's hits as (score, id); ties (equal scores) in id order, as `reference`."""
    hits = reader.search(query, limit=100).hits
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    return sorted(((round(h.score, 9), h.id) for h in hits), key=lambda x: (-x[0], x[1]))


def true_count(root: Path, query: str) -> int:
    return len(reference(root, query))


@pytest.mark.parametrize("query", QUERIES)
def test_below_the_bound_the_ranking_is_bm25_over_every_match(
    reader: ArchiveReader, root: Path, query: str
) -> None:
    want = reference(root, query)
    assert want, query
    assert ranked(reader, query) == want
    got = reader.search(query)
    assert (got.total, got.total_exact) == (len(want), True)


def test_the_headline_weighs_most(reader: ArchiveReader) -> None:
    best = reader.search("ferry", limit=6).hits
    assert {h.headline for h in best} == {f"Ferry news {i}" for i in range(0, ARTICLES, 7)}


def tiered(root: Path, query: str, window: int, newest: int) -> list[tuple[float, str]]:
    """As `reference`, over the versions the ranking reads past `RANK_NEWEST` matches: the
    newest `newest`, and those of the newest `window` with a match in the headline."""
    fts = parse(query)[0]
    headline = sqlite_search._headline_query(fts)
    with contextlib.closing(sqlite3.connect(root / "catalog.sqlite")) as db:
        docs = [r[0] for r in db.execute(_NEWEST, (fts,))]
        in_headline = {r[0] for r in db.execute(_NEWEST, (headline,))}
        chosen = docs[:newest] + [d for d in docs[newest:window] if d in in_headline]
        marks = ",".join("?" * len(chosen))
        rows = db.execute(
            "SELECT m.article_id, min(f.rank) AS r FROM archive_fts f JOIN archive_search_meta m"
            f" ON m.doc = f.rowid WHERE archive_fts MATCH ? AND f.rowid IN ({marks})"
            " GROUP BY m.article_id ORDER BY r, m.article_id",
            (fts, *chosen),
        ).fetchall()
    return [(round(-r[1], 9), r[0]) for r in rows]


_NEWEST = "SELECT rowid FROM archive_fts WHERE archive_fts MATCH ? ORDER BY rowid DESC"


@pytest.mark.parametrize("query", ["ferry", "ferry harbour", "fer*", "ferry -tide", "ferry OR x"])
def test_past_the_bound_the_newest_and_the_headline_matches_are_ranked(
    reader: ArchiveReader, root: Path, query: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past `RANK_NEWEST` matching versions, bm25 ranks the newest that many and, of the
    newest `RANK_CANDIDATES`, every one with a match in its headline; the results say that
    only the newest were looked at."""
    monkeypatch.setattr(sqlite_search, "RANK_CANDIDATES", 20)
    monkeypatch.setattr(sqlite_search, "RANK_NEWEST", 5)
    want = tiered(root, query, 20, 5)
    assert ranked(reader, query) == want
    assert len(want) < len(reference(root, query, newest=20))  # the tiers left matches out
    # the headline's matches in the window but not among the newest 5 are ranked first
    assert want[0] != reference(root, query, newest=5)[0]
    got = reader.search(query)
    assert got.ranked_newest == 20
    assert "newest 20 matches" in got.ranking_text()


def test_below_the_newest_bound_every_match_is_ranked(
    reader: ArchiveReader, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_search, "ONE_PASS", 3)  # from FTS5's ranked order
    got = reader.search("ferry", limit=100)
    assert got.ranked_newest is None
    assert got.ranking_text() == ""
    assert ranked(reader, "ferry") == reference(root, "ferry")


@pytest.mark.parametrize("one_pass", [1_000, 3])
def test_past_the_count_cap_the_total_is_a_lower_bound(
    reader: ArchiveReader, root: Path, monkeypatch: pytest.MonkeyPatch, one_pass: int
) -> None:
    """Counted exactly up to the cap (10,000; 30 here), "at least 30" past it, unfiltered or
    filtered, whether the matches were ranked in one pass or from FTS5's order."""
    monkeypatch.setattr(sqlite_search, "ONE_PASS", one_pass)
    exact = reader.search("ferry")
    assert (exact.total, exact.total_exact) == (ARTICLES, True)
    assert exact.count_text() == f"{ARTICLES} matches"
    monkeypatch.setattr(sqlite_search, "COUNT_CAP", 30)
    capped = reader.search("ferry")
    assert (capped.total, capped.total_exact, capped.total_relation) == (30, False, "gte")
    assert capped.count_text() == "at least 30 matches"
    assert [h.id for h in capped.hits] == [h.id for h in exact.hits]  # the same page
    rare = reader.search('"ferry update"')  # fewer matches than the cap: exact
    assert (rare.total, rare.total_exact) == (true_count(root, '"ferry update"'), True)
    filtered = reader.search("ferry", source="harbour-news")
    assert (filtered.total, filtered.total_exact) == (30, False)
    early = reader.search("ferry", until="2026-05-09", limit=100)
    assert early.total_exact
    assert early.total == len(early.hits) < 30


def test_a_capped_count_reads_no_match_past_the_cap(
    reader: ArchiveReader, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filtered count stops at the cap's next article: its cost does not grow with the
    matches. Unfiltered, matches past the cap outside the docs of multi-version articles are
    "more than" at once: no match is joined to anything (54 docs, 28 of multi-version ones)."""
    monkeypatch.setattr(sqlite_search, "ONE_PASS", 3)
    monkeypatch.setattr(sqlite_search, "COUNT_CAP", 4)
    # a filtered ranking reads a window of the newest matches, `_count` the rest
    monkeypatch.setattr(sqlite_search, "RANK_CANDIDATES", 12)
    monkeypatch.setattr(sqlite_search, "FILTERED_FLOOR", 5)
    for filters in ({}, {"since": "2026-01-01"}):  # every article is that new
        statements: list[str] = []
        reader.catalog.db.set_trace_callback(statements.append)  # type: ignore[attr-defined]
        got = reader.search("ferry", limit=4, exact_count=True, **filters)  # type: ignore[arg-type]
        reader.catalog.db.set_trace_callback(None)  # type: ignore[attr-defined]
        assert (got.total, got.total_exact) == (4, False)
        counts = [q for q in statements if "DISTINCT" in q]
        assert len(counts) == (1 if filters else 0)
        assert all("LIMIT 5" in q for q in counts), counts
        assert not [q for q in statements if "JOIN archive_search_multi" in q]


def test_filtered_past_the_bound_ranks_the_newest_that_pass(
    reader: ArchiveReader, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_search, "RANK_CANDIDATES", 12)
    monkeypatch.setattr(sqlite_search, "FILTERED_FLOOR", 5)
    got = reader.search("ferry", since="2026-01-01", limit=5)  # every article passes
    mine = sorted(((round(h.score, 9), h.id) for h in got.hits), key=lambda x: (-x[0], x[1]))
    assert mine == reference(root, "ferry", newest=12)[:5]
    assert (got.total, got.total_exact) == (12, False)  # those passing in the window, at least
    assert got.count_text() == "at least 12 matches"
    counted = reader.search("ferry", since="2026-01-01", limit=5, exact_count=True)
    assert [h.id for h in counted.hits] == [h.id for h in got.hits]
    assert (counted.total, counted.total_exact) == (ARTICLES, True)  # counted past the window


def test_a_filter_passing_only_old_matches_widens_the_window_to_all(
    reader: ArchiveReader, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exact = reader.search("ferry", until="2026-05-09", limit=100)
    assert exact.total_exact
    assert 0 < exact.total < ARTICLES
    monkeypatch.setattr(sqlite_search, "RANK_CANDIDATES", 12)  # the newest 12: none that old
    bounded = reader.search("ferry", until="2026-05-09", limit=100)
    assert [h.id for h in bounded.hits] == [h.id for h in exact.hits]
    assert (bounded.total, bounded.total_exact) == (exact.total, True)


def two_pass(
    root: Path, query: str, where: str, args: tuple[str, ...], limit: int, offset: int
) -> tuple[list[tuple[float, str, int]], int, bool]:
    """A filtered search as it ran before the one-pass reading (session 20's SQL): rank the
    newest `RANK_CANDIDATES` matches, then again over four times as many, and so on, until
    `FILTERED_FLOOR` articles (or the page) pass or the window holds every match;
    ([(score, id, version)], articles counted, exact)."""
    fts = parse(query)[0]
    need = max(sqlite_search.FILTERED_FLOOR, offset + limit)
    with contextlib.closing(sqlite3.connect(root / "catalog.sqlite")) as db:
        docs = db.execute("SELECT count(*) FROM archive_fts WHERE archive_fts MATCH ?", (fts,))
        n_docs = int(docs.fetchone()[0])
        window = sqlite_search.RANK_CANDIDATES
        while True:
            bound = 0
            if n_docs > window:
                bound = db.execute(
                    "SELECT rowid FROM archive_fts WHERE archive_fts MATCH ?"
                    " ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                    (fts, window - 1),
                ).fetchone()[0]
            rows = db.execute(
                "SELECT m.article_id, m.version, r, count(*) OVER () FROM"
                " (SELECT m.article_id, m.doc, min(f.rank) AS r FROM archive_fts f"
                " JOIN archive_search_meta m ON m.doc = f.rowid"
                " WHERE archive_fts MATCH ? AND f.rowid >= ?" + where + " GROUP BY m.article_id)"
                " g JOIN archive_search_meta m ON m.doc = g.doc ORDER BY r, g.article_id",
                (fts, bound, *args),
            ).fetchall()
            passed = int(rows[0][3]) if rows else 0
            if bound == 0 or passed >= need:
                break
            window *= 4
        # the articles passing among every match (the count no longer estimates)
        (every,) = db.execute(
            "SELECT count(DISTINCT m.article_id) FROM archive_fts f JOIN archive_search_meta m"
            " ON m.doc = f.rowid WHERE archive_fts MATCH ?" + where,
            (fts, *args),
        ).fetchone()
    page = [(-float(r[2]), r[0], int(r[1])) for r in rows[offset : offset + limit]]
    return page, int(every), True


FILTERS: list[tuple[dict[str, str], str, tuple[str, ...]]] = [
    # a source or section alone runs as an unfiltered search (see
    # `test_a_source_or_section_alone_ranks_and_counts_as_unfiltered`); with dates, here
    (
        {"source": "harbour-news", "since": "2026-01-01"},
        " AND m.source = ? AND m.day >= ?",
        ("harbour-news", "2026-01-01"),
    ),
    (
        {"section": "nowhere", "until": "2027-01-01"},
        " AND m.section_key = ? AND m.day <= ?",
        ("nowhere", "2027-01-01"),
    ),  # passes none
    ({"until": "2026-05-09"}, " AND m.day <= ?", ("2026-05-09",)),
    ({"until": "2026-05-10"}, " AND m.day <= ?", ("2026-05-10",)),
    ({"since": "2026-05-12"}, " AND m.day >= ?", ("2026-05-12",)),
    (
        {"since": "2026-05-10", "until": "2026-05-11"},
        " AND m.day >= ? AND m.day <= ?",
        ("2026-05-10", "2026-05-11"),
    ),
]


@pytest.mark.parametrize("archive_name", ["root", "tied"])
@pytest.mark.parametrize("window", [3, 12, 10_000])
@pytest.mark.parametrize("floor", [2, 7, 200])
@pytest.mark.parametrize("query", ["ferry", "ferry harbour", "fer*", "ferry -tide"])
def test_filtered_in_one_pass_gives_what_two_passes_gave(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    archive_name: str,
    window: int,
    floor: int,
    query: str,
) -> None:
    """Reading the matches once, newest first, and widening the window where the narrower
    one ended gives the hits, order, scores, versions and counts of ranking each window
    from its start: every filter, small and large windows and floors, pages past the end,
    and articles that score alike (in id order)."""
    root: Path = request.getfixturevalue(archive_name)
    monkeypatch.setattr(sqlite_search, "RANK_CANDIDATES", window)
    monkeypatch.setattr(sqlite_search, "FILTERED_FLOOR", floor)
    with archive.open(root) as reader:
        for given, where, args in FILTERS:
            for limit, offset in ((5, 0), (5, 5), (3, 9), (20, 0), (5, 60)):
                want, total, exact = two_pass(root, query, where, args, limit, offset)
                got = reader.search(query, **given, limit=limit, offset=offset, exact_count=True)  # type: ignore[arg-type]
                mine = [(h.score, h.id, h.version) for h in got.hits]
                assert (mine, got.total, got.total_exact) == (want, total, exact), (given, offset)
                # unasked, the same page; the count exact, or a lower bound of it
                cheap = reader.search(query, **given, limit=limit, offset=offset)  # type: ignore[arg-type]
                assert [(h.score, h.id, h.version) for h in cheap.hits] == mine
                counted = (cheap.total, cheap.total_exact)
                assert counted == (total, exact) or (not cheap.total_exact and cheap.total <= total)


def ranked_statement(
    root: Path, query: str, where: str = "", args: tuple[str, ...] = ()
) -> tuple[list[tuple[float, str, int]], int]:
    """An unfiltered search as it ran before (session 20's SQL): the matches in bm25 order
    (of equal ranks the newest first), each article at its first; the articles counted
    with count(DISTINCT). Of the matches passing `where` (on `m`), if any."""
    fts = parse(query)[0]
    with contextlib.closing(sqlite3.connect(root / "catalog.sqlite")) as db:
        rows = db.execute(
            f"SELECT m.article_id, m.version, {BM25} AS r FROM archive_fts"
            " JOIN archive_search_meta m ON m.doc = archive_fts.rowid"
            " WHERE archive_fts MATCH ?" + where + " ORDER BY r, archive_fts.rowid DESC",
            (fts, *args),
        ).fetchall()
        total = db.execute(
            "SELECT count(DISTINCT m.article_id) FROM archive_fts f JOIN archive_search_meta m"
            " ON m.doc = f.rowid WHERE archive_fts MATCH ?" + where,
            (fts, *args),
        ).fetchone()[0]
    first: dict[str, tuple[float, str, int]] = {}
    for article_id, version, rank in rows:
        first.setdefault(article_id, (-float(rank), article_id, int(version)))
    return list(first.values()), int(total)


@pytest.mark.parametrize("archive_name", ["root", "tied"])
@pytest.mark.parametrize("query", QUERIES)
def test_few_matches_in_one_pass_rank_and_count_as_before(
    request: pytest.FixtureRequest, archive_name: str, query: str
) -> None:
    """Up to `ONE_PASS` matches are ranked and counted in one pass: the same hits,
    versions, scores and order (ties: the newest first) and the same exact count."""
    root: Path = request.getfixturevalue(archive_name)
    want, total = ranked_statement(root, query)
    with archive.open(root) as reader:
        for limit, offset in ((5, 0), (5, 5), (3, 9), (100, 0), (5, 60)):
            got = reader.search(query, limit=limit, offset=offset)
            mine = [(h.score, h.id, h.version) for h in got.hits]
            assert (mine, got.total, got.total_exact) == (
                want[offset : offset + limit],
                total,
                True,
            )


@pytest.mark.parametrize("archive_name", ["root", "tied"])
@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize(
    ("given", "where", "args"),
    [
        ({"source": "harbour-news"}, " AND m.source = ?", ("harbour-news",)),
        ({"section": "nowhere"}, " AND m.section_key = ?", ("nowhere",)),
    ],
)
def test_a_source_or_section_alone_ranks_and_counts_as_unfiltered(
    request: pytest.FixtureRequest,
    archive_name: str,
    query: str,
    given: dict[str, str],
    where: str,
    args: tuple[str, ...],
) -> None:
    """A source or section alone is the index's facets (schema 11): the search runs as an
    unfiltered one over the facet-restricted matches, so equal ranks come newest first
    (the filtered reading put them in id order)."""
    root: Path = request.getfixturevalue(archive_name)
    want, total = ranked_statement(root, query, where, args)
    with archive.open(root) as reader:
        for limit, offset in ((5, 0), (5, 5), (3, 9), (100, 0), (5, 60)):
            got = reader.search(query, **given, limit=limit, offset=offset)  # type: ignore[arg-type]
            mine = [(h.score, h.id, h.version) for h in got.hits]
            assert (mine, got.total, got.total_exact) == (
                want[offset : offset + limit],
                total,
                True,
            )


def search_page(root: Path, path: str, query_string: str) -> tuple[int, str]:
    """The status and body the web app answers for a search page or the search API (the
    app's own dispatch, without a server); an error's body is its one-line message."""
    from scraper.web.app import Web

    web = Web(None, None, lambda: archive.open(root))  # type: ignore[arg-type]
    web.routes()
    name = "html search.html search" if path == "/search" else "api search"
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query_string.encode(),
        "headers": [(b"host", b"127.0.0.1")],
        "path_params": {},
    }
    reply = web.work((name, scope))
    web.close()
    if reply[0] == "web_error":
        return reply[1], str(reply[2])
    return reply[1], reply[3].decode()


def test_the_page_the_api_and_the_cli_say_only_the_newest_were_ranked(
    root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from scraper.cli import main
    from tests.read_support import write_config

    def page(path: str, query: str) -> tuple[int, str]:
        return search_page(root, path, f"q={query}")

    config = write_config(tmp_path, root)
    status, body = page("/search", "ferry")
    assert status == 200
    assert 'id="ranking"' not in body  # every match ranked
    assert main(["--config", str(config), "search", "ferry"]) == 0
    assert "ranked:" not in capsys.readouterr().err
    monkeypatch.setattr(sqlite_search, "RANK_CANDIDATES", 20)
    monkeypatch.setattr(sqlite_search, "RANK_NEWEST", 5)
    status, body = page("/search", "ferry")
    assert "Ranked: best of the newest 20 matches" in body
    status, body = page("/api/search", "ferry")
    assert '"ranked_newest":20' in body.replace(" ", "")
    assert main(["--config", str(config), "search", "ferry"]) == 0
    assert "ranked: best of the newest 20 matches" in capsys.readouterr().err


def stored_versions(root: Path) -> int:
    """The versions stored (each one matches "ferry")."""
    with contextlib.closing(sqlite3.connect(root / "catalog.sqlite")) as db:
        return int(db.execute("SELECT count(*) FROM archive_versions").fetchone()[0])


def test_past_cheap_count_the_versions_are_counted_and_the_articles_on_request(
    reader: ArchiveReader, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past `CHEAP_COUNT` matching versions (2,000; 0 here) an unfiltered search counts the
    matching versions (from FTS5 alone: no match joined to anything) and says so; asked,
    it counts the articles as before. The page is the same either way."""
    monkeypatch.setattr(sqlite_search, "ONE_PASS", 3)  # ranked from FTS5's order
    monkeypatch.setattr(sqlite_search, "CHEAP_COUNT", 0)
    statements: list[str] = []
    reader.catalog.db.set_trace_callback(statements.append)  # type: ignore[attr-defined]
    cheap = reader.search("ferry")
    reader.catalog.db.set_trace_callback(None)  # type: ignore[attr-defined]
    assert not [q for q in statements if "JOIN archive_search_multi" in q]
    versions = stored_versions(root)
    assert versions > ARTICLES
    assert (cheap.total, cheap.total_exact, cheap.total_of) == (versions, True, "versions")
    assert cheap.count_text() == f"{versions} matching versions"
    assert cheap.to_json()["total_of"] == "versions"
    exact = reader.search("ferry", exact_count=True)
    assert (exact.total, exact.total_exact, exact.total_of) == (ARTICLES, True, "articles")
    assert [h.id for h in exact.hits] == [h.id for h in cheap.hits]


def test_the_page_the_api_and_the_cli_count_the_articles_on_request(
    root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from scraper.cli import main
    from tests.read_support import write_config

    def page(path: str, query: str) -> tuple[int, str]:
        return search_page(root, path, query)

    monkeypatch.setattr(sqlite_search, "ONE_PASS", 3)
    monkeypatch.setattr(sqlite_search, "CHEAP_COUNT", 0)
    versions = stored_versions(root)
    status, body = page("/search", "q=ferry")
    assert status == 200
    assert f"{versions} matching versions" in body
    assert 'id="count-exact" href="/search?q=ferry&amp;count=exact"' in body
    status, body = page("/search", "q=ferry&count=exact")
    assert f"{ARTICLES} matches" in body
    assert 'id="count-exact"' not in body
    status, body = page("/api/search", "q=ferry")
    assert '"total_of":"versions"' in body.replace(" ", "")
    status, body = page("/api/search", "q=ferry&count=exact")
    assert f'"total":{ARTICLES},' in body.replace(" ", "")
    assert page("/api/search", "q=ferry&count=roughly") == (
        400,
        "count may only be 'exact', not 'roughly'",
    )
    config = write_config(tmp_path, root)
    assert main(["--config", str(config), "search", "ferry"]) == 0
    assert f"{versions} matching versions" in capsys.readouterr().err
    assert main(["--config", str(config), "search", "ferry", "--exact-count"]) == 0
    assert f"{ARTICLES} matches" in capsys.readouterr().err


def test_the_headline_tier_leaves_out_the_excluded_phrases() -> None:
    """A version with an excluded phrase anywhere is no match: its headline's matches are
    not looked for (a common excluded word's headlines were a third of the ranking's cost)."""
    headline = sqlite_search._headline_query
    assert headline(parse("ever -back")[0]) == '{headline} : ("ever")'
    assert headline(parse("(x -y) OR (zed -www*)")[0]) == '{headline} : ("x" OR "zed")'
    assert headline(parse('"port strike" fer* -rumour -dock')[0]) == (
        '{headline} : ("port strike" OR "fer"*)'
    )
