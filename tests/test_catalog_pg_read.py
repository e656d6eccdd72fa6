"""The reading side on PostgreSQL (archive.backends.catalog_pg_read): the same answers as SQLite.

The FTS5-to-tsquery rewriting is tested on its own; the rest runs `ArchiveReader` over an
archive stored through `Archive.store` on each catalog backend (PostgreSQL cases skip where
the server is unreachable, see tests/backend_support.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.backends.catalog_pg_read import fts_to_tsquery, index_words
from archive.errors import QueryError
from archive.ftsquery import to_fts
from archive.query import ArchiveReader
from archive.record import Caption
from archive.store import Archive
from tests.read_support import content, store


@pytest.mark.parametrize(
    ("query", "tsquery"),
    [
        ("port", "'port'"),
        ('"port strike"', "('port' <-> 'strike')"),
        ("strik*", "'strik':*"),
        ("port strike", "('port' & 'strike')"),
        ("port AND strike", "('port' & 'strike')"),
        ("gales OR council", "('gales' | 'council')"),
        ("a b OR c", "(('a' & 'b') | 'c')"),
        ("a OR b c", "('a' | ('b' & 'c'))"),
        ("council -ferry", "('council' & !'ferry')"),
        ("council NOT ferry", "('council' & !'ferry')"),
        ("a -b -c", "('a' & !('b' | 'c'))"),
        ("(dock OR harbour) strike", "(('dock' | 'harbour') & 'strike')"),
        ("MÜLLER", "'muller'"),
        ("Jörg", "'jorg'"),
        ("U.S.", "('u' <-> 's')"),
        ("headline:port", "('headline' <-> 'port')"),
        ("NEAR(port strike)", "('near' & ('port' & 'strike'))"),
        ("^port", "'port'"),
        ("port:*", "'port':*"),
        ("it's", "('it' <-> 's')"),
        ("snake_case", "('snake' <-> 'case')"),
    ],
)
def test_fts5_queries_become_tsqueries(query: str, tsquery: str) -> None:
    assert fts_to_tsquery(to_fts(query)) == tsquery


def test_raw_fts5_forms() -> None:
    # what FTS5 itself allows: implicit AND, "" inside a phrase, NOT binding tighter than AND
    assert fts_to_tsquery('"a" "b"') == "('a' & 'b')"
    assert fts_to_tsquery('"port stri"*') == "('port' <-> 'stri':*)"
    assert fts_to_tsquery('"say ""hi"""') == "('say' <-> 'hi')"
    assert fts_to_tsquery('"a" AND "b" NOT "c"') == "('a' & ('b' & !'c'))"
    assert fts_to_tsquery('"!!"') == "'_'"  # no word: matches nothing, never a syntax error
    for bad in ('"a" AND', "(", '("a"', '"a")', "a", '"a" OR OR "b"'):
        with pytest.raises(QueryError):
            fts_to_tsquery(bad)


def test_index_words_fold_and_split() -> None:
    assert index_words("Anna Müller, Jörg Straße — U.S. port-strike") == (
        "anna muller jorg strasse u s port strike"
    )
    assert index_words("Big " + "A" * 5000) == "big"  # a word PostgreSQL would refuse


# the archive, on each backend


class Built:
    def __init__(self) -> None:
        self.strike = self.mueller = self.weather = self.body_only = self.in_headline = ""


def _build(arch: Archive) -> Built:
    s = Built()
    base = "http://news.example"
    v1 = content(
        "Port strike closes the harbour",
        [
            "Dockers walked out at dawn on Monday.",
            "The port authority called it unlawful.",
            "A rumour of a deal went round by noon.",
        ],
        subheadline="Union demands higher pay",
        authors=("Jane Roe",),
        published="2024-03-04T08:00:00+01:00",
        section="Business",
    )
    s.strike = store(arch, f"{base}/2024/03/04/port-strike", v1, at_hours=0)
    v2 = content(
        "Port strike ends after talks",
        ["Dockers walked out at dawn on Monday.", "The port authority called it unlawful."],
        subheadline="Union demands higher pay",
        authors=("Jane Roe",),
        published="2024-03-04T08:00:00+01:00",
        section="Business",
    )
    store(arch, f"{base}/2024/03/04/port-strike", v2, at_hours=30)
    council = content(
        "Council meets over budget",
        ["The council met on Thursday.", "Nothing was decided about the ferry timetable."],
        authors=("Anna Müller",),
        captions=(Caption("The town hall at night", "Jörg Straße", "https://img.example/a.jpg"),),
        published="2024-05-02",
        section="Local",
    )
    s.mueller = store(
        arch, f"{base}/2024/05/02/council", council, at_hours=2, requested=f"{base}/c/123"
    )
    store(arch, f"{base}/print/council", council, at_hours=3)  # a duplicate page
    weather = content("Storm warning for the coast", ["Gales are expected tonight."])
    s.weather = store(arch, "http://weather.example/storm", weather, at_hours=4, source="weather")
    body_only = content("Other news", ["The lighthouse keeper retired.", "More text here."])
    s.body_only = store(arch, "http://x.example/1", body_only, at_hours=5, source="x")
    in_headline = content("Lighthouse keeper retires", ["Other words entirely.", "And more."])
    s.in_headline = store(arch, "http://x.example/2", in_headline, at_hours=6, source="x")
    return s


@pytest.fixture
def built(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> Iterator[tuple[ArchiveReader, Built]]:
    root = tmp_path / "data"
    with open_archive(root) as arch:
        s = _build(arch)
    arch = open_archive(root)
    try:
        yield ArchiveReader(arch), s
    finally:
        arch.close()


def ids(reader: ArchiveReader, query: str, **kw: Any) -> list[str]:
    return [h.id for h in reader.search(query, **kw).hits]


def test_search(built: tuple[ArchiveReader, Built]) -> None:
    reader, s = built
    assert reader.refresh() == 6  # every version stored waits for the index until a read
    assert reader.refresh() == 0
    assert ids(reader, "union") == [s.strike]  # subheadline
    assert ids(reader, "town hall") == [s.mueller]  # caption
    assert ids(reader, "straße") == [s.mueller]  # photo credit
    assert ids(reader, "roe") == [s.strike]  # author
    assert ids(reader, "gales") == [s.weather]  # body
    assert ids(reader, "Muller") == ids(reader, "MÜLLER") == ids(reader, "jorg") == [s.mueller]
    assert ids(reader, '"port strike"') == [s.strike]
    assert ids(reader, '"strike port"') == []
    assert ids(reader, "stor*") == [s.weather]
    assert ids(reader, "council -ferry") == []
    assert ids(reader, "council NOT ferry") == []
    assert set(ids(reader, "gales OR council")) == {s.weather, s.mueller}
    assert ids(reader, "gales AND council") == []
    assert ids(reader, "lighthouse") == [s.in_headline, s.body_only]  # headline first
    for query in ("headline:port", "NEAR(port strike)", "^port", "U.S.", "port:*"):
        reader.search(query)  # the index's syntax cannot be injected


def test_search_versions_filters_and_pages(built: tuple[ArchiveReader, Built]) -> None:
    reader, s = built
    assert [(h.id, h.version) for h in reader.search("rumour").hits] == [(s.strike, 1)]
    assert [(h.id, h.version) for h in reader.search("talks").hits] == [(s.strike, 2)]
    assert [(h.id, h.version) for h in reader.search("dockers").hits] == [(s.strike, 2)]
    query = "council OR strike OR gales"
    assert ids(reader, query, source="weather") == [s.weather]
    assert set(ids(reader, query, source="harbour-news")) == {s.mueller, s.strike}
    assert ids(reader, "council OR strike", since="2024-04-01") == [s.mueller]
    assert ids(reader, "council OR strike", until="2024-03-04") == [s.strike]
    assert ids(reader, "council OR strike", author="muller") == [s.mueller]
    assert ids(reader, "council OR strike", section="business") == [s.strike]
    results = reader.search(query, limit=1, offset=1)
    assert results.total == 3
    assert len(results.hits) == 1
    far = reader.search(query, limit=5, offset=10)
    assert (far.hits, far.total) == ((), 3)
    hit = reader.search("jorg town").hits[0]
    assert "[Jörg]" in hit.snippet.render(lambda t: f"[{t}]")
    assert hit.score > 0


def test_listing_urls_fetches_sources(built: tuple[ArchiveReader, Built]) -> None:
    reader, s = built
    page = reader.listing(source="harbour-news", limit=10)
    assert page.total == 2
    assert [(h.id, h.version) for h in page.hits] == [(s.mueller, 1), (s.strike, 2)]
    assert [a.id for a in reader.articles(source="weather")] == [s.weather]
    assert [a.id for a in reader.articles(since="2024-03-01", until="2024-03-31")] == [s.strike]
    assert reader.listing(limit=2, offset=4).total == 5
    urls = reader.urls(s.mueller)
    assert [u.url for u in urls] == [
        "http://news.example/2024/05/02/council",  # first seen together: by URL
        "http://news.example/c/123",
        "http://news.example/print/council",
    ]
    assert [u.duplicate for u in urls] == [False, False, True]
    assert [f["status"] for f in reader.fetches(s.strike)] == [200, 200]
    latest = reader.get(s.strike)
    assert latest.version == 2
    assert reader.get("http://news.example/print/council").id == s.mueller
    raw = reader.raw(s.strike)
    assert raw.sha256 == latest.raw_sha256
    fetches = reader.fetches(s.strike)
    assert raw.fetches
    assert all(f in fetches for f in raw.fetches)
    assert [a.version for a in reader.changes()] == [2]
    assert [a.id for a in reader.newest(source="x")] == [s.in_headline, s.body_only]
    sources = {x["name"]: x for x in reader.sources()}
    assert list(sources) == ["harbour-news", "weather", "x"]
    assert (sources["harbour-news"]["articles"], sources["harbour-news"]["versions"]) == (2, 3)
    assert sources["weather"]["last_crawl"] is None
    assert sources["weather"]["failures"] == {}
    assert reader.source_names() == ["harbour-news", "weather", "x"]
    assert reader.catalog.raw_sizes()[latest.raw_sha256] > 0


def test_a_second_handle_sees_new_versions(
    built: tuple[ArchiveReader, Built], open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    reader, _ = built
    assert ids(reader, "zebracorn") == []
    with open_archive(tmp_path / "data") as writer:
        new = store(
            writer, "http://x.example/3", content("Zebracorn sighted", ["Yes."]), at_hours=7
        )
    assert ids(reader, "zebracorn") == [new]
    assert reader.catalog.pending_docs(10) == []


def test_listings_by_author_and_section(built: tuple[ArchiveReader, Built]) -> None:
    """Through the author and section indexes on either backend: any part of a name."""
    reader, s = built
    for fragment in ("muller", "MÜLLER", "ülle", "Anna M"):
        assert [h.id for h in reader.listing(author=fragment).hits] == [s.mueller], fragment
    assert [h.id for h in reader.listing(author="roe", source="harbour-news").hits] == [s.strike]
    assert [(h.id, h.version) for h in reader.listing(section="business").hits] == [(s.strike, 2)]
    assert reader.listing(author="nobody").total == 0
    assert [a.id for a in reader.articles(author="roe", since="2024-01-01")] == [s.strike]


def test_counts_past_the_cap_are_lower_bounds(
    built: tuple[ArchiveReader, Built], monkeypatch: pytest.MonkeyPatch
) -> None:
    from archive.backends import catalog_pg_read, catalog_sqlite, catalog_sqlite_search

    reader, _ = built
    for module in (catalog_pg_read, catalog_sqlite, catalog_sqlite_search):
        monkeypatch.setattr(module, "COUNT_CAP", 2)
    found = reader.search("council OR strike OR gales")
    assert (found.total, found.total_exact, found.total_relation) == (2, False, "gte")
    assert found.count_text() == "at least 2 matches"
    assert len(found.hits) == 3  # the page is whole: only the count stops
    two = reader.search("council OR strike")
    assert (two.total, two.total_exact) == (2, True)
    listed = reader.listing(since="2024-01-01")
    assert (listed.total, listed.total_exact) == (2, False)


def test_unknown_sources_and_short_prefixes_are_query_errors(
    built: tuple[ArchiveReader, Built],
) -> None:
    reader, _ = built
    with pytest.raises(QueryError, match="did you mean 'weather'"):
        reader.search("gales", source="wether")
    with pytest.raises(QueryError, match="known sources are harbour-news, weather, x"):
        reader.listing(source="nosuch")
    with pytest.raises(QueryError, match="at least 3 letters"):
        reader.search("st*")


def test_a_headline_match_is_marked(built: tuple[ArchiveReader, Built]) -> None:
    reader, s = built
    (hit,) = reader.search('"strike ends"').hits
    assert hit.id == s.strike
    assert hit.headline_marked(200).render(lambda t: f"[{t}]") == "Port [strike ends] after talks"
