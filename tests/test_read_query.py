"""The query layer (archive.query) and the Python API over an archive stored the usual way."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import archive
from archive.backends.catalog_schema import CATALOG_SCHEMA_VERSION
from archive.errors import NotFound, QueryError
from archive.ftsquery import parse
from archive.maintenance.verify import verify
from archive.query import ArchiveReader
from tests.read_support import Stored, build


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Stored]:
    root = tmp_path_factory.mktemp("read") / "data"
    return root, build(root)


@pytest.fixture
def reader(built: tuple[Path, Stored]) -> ArchiveReader:
    a = archive.open(built[0])
    yield a  # type: ignore[misc]
    a.close()


def ids(reader: ArchiveReader, query: str, **kw: object) -> list[str]:
    return [h.id for h in reader.search(query, **kw).hits]  # type: ignore[arg-type]


def test_every_field_is_searched(reader: ArchiveReader, built: tuple[Path, Stored]) -> None:
    s = built[1]
    assert ids(reader, "union") == [s.strike]  # subheadline
    assert ids(reader, "town hall") == [s.mueller]  # caption
    assert ids(reader, "straße") == [s.mueller]  # photo credit
    assert ids(reader, "roe") == [s.strike]  # author
    assert ids(reader, "gales") == [s.weather]  # body


def test_case_and_diacritics_do_not_matter(
    reader: ArchiveReader, built: tuple[Path, Stored]
) -> None:
    mueller = built[1].mueller
    assert ids(reader, "Muller") == ids(reader, "MÜLLER") == ids(reader, "müller") == [mueller]
    assert ids(reader, "jorg") == [mueller]


def test_phrase_prefix_and_exclusion(reader: ArchiveReader, built: tuple[Path, Stored]) -> None:
    s = built[1]
    assert ids(reader, '"port strike"') == [s.strike]
    assert ids(reader, '"strike port"') == []
    assert set(ids(reader, "stor*")) == {s.weather}
    assert ids(reader, "council -ferry") == []
    assert ids(reader, "council NOT ferry") == []
    assert set(ids(reader, "gales OR council")) == {s.weather, s.mueller}
    assert ids(reader, "gales AND council") == []


def test_headline_weighs_more_than_body(tmp_path: Path) -> None:
    from archive.store import Archive
    from tests.read_support import content, store

    with Archive.open(tmp_path / "a") as arch:
        body_only = store(
            arch,
            "http://x.example/1",
            content("Other news", ["The ferry sails.", "More text here."]),
            at_hours=0,
        )
        in_headline = store(
            arch,
            "http://x.example/2",
            content("Ferry sails again", ["Other words entirely.", "And more."]),
            at_hours=1,
        )
    with archive.open(tmp_path / "a") as reader:
        assert ids(reader, "ferry") == [in_headline, body_only]


def test_old_versions_are_searched_and_hits_say_which(
    reader: ArchiveReader, built: tuple[Path, Stored]
) -> None:
    hits = reader.search("rumour").hits  # only version 1 had this paragraph
    assert [(h.id, h.version) for h in hits] == [(built[1].strike, 1)]
    assert [(h.id, h.version) for h in reader.search("talks").hits] == [(built[1].strike, 2)]


def test_snippet_marks_the_matches(reader: ArchiveReader) -> None:
    hit = reader.search("jorg town").hits[0]
    marked = hit.snippet.render(lambda t: f"[{t}]")
    assert "[Jörg]" in marked  # marked as written, found without its diacritics
    assert "[town]" in marked
    hit = reader.search("council").hits[0]
    data = hit.to_json()
    assert set(data) >= {
        "id",
        "version",
        "headline",
        "published",
        "source",
        "url",
        "snippet",
        "score",
    }
    assert [data["snippet"][a:b] for a, b in data["marks"]][:1] == ["council"]


def test_filters(reader: ArchiveReader, built: tuple[Path, Stored]) -> None:
    s = built[1]
    assert ids(reader, "council OR strike OR gales", source="weather") == [s.weather]
    assert set(ids(reader, "council OR strike OR gales", source="harbour-news")) == {
        s.mueller,
        s.strike,
    }
    # published day when the page gave one (strike 2024-03-04, council 2024-05-02), else fetched
    assert ids(reader, "council OR strike", since="2024-04-01") == [s.mueller]
    assert ids(reader, "council OR strike", until="2024-03-04") == [s.strike]
    assert ids(reader, "gales", since="2026-05-09", until="2026-05-09") == [s.weather]
    assert ids(reader, "council OR strike", author="muller") == [s.mueller]
    assert ids(reader, "council OR strike", section="business") == [s.strike]


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ('"port strike', "quotation mark is not closed"),
        ("(port OR dock", "'(' is not closed"),
        ("port)", "')' has no '('"),
        ("port AND", "ends with AND"),
        ("OR port", "begins with OR"),
        ("port AND OR dock", "two operators"),
        ("-port", "at least one word"),
        ("*", "needs a few letters"),
        ("po*rt", "goes at the end"),
        ("th*", "at least 3 letters before '*'"),
        ("port -a*", "at least 3 letters before '*'"),
        ("U.S*", "at least 3 letters before '*'"),
        ("!!!", "no words"),
        ("x" * 600, "too long"),
    ],
)
def test_malformed_queries_say_what_is_wrong(reader: ArchiveReader, query: str, says: str) -> None:
    with pytest.raises(QueryError) as caught:
        reader.search(query)
    message = str(caught.value)
    assert says in message
    assert "\n" not in message
    assert "fts5" not in message.lower()
    assert "sqlite" not in message.lower()


def test_syntax_of_the_index_cannot_be_injected(reader: ArchiveReader) -> None:
    # column filters, NEAR() and carets are plain words to the user's query
    for query in ("headline:port", "NEAR(port strike)", "^port", "U.S.", "port:*"):
        reader.search(query)


@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({"since": "yesterday"}, "not a date"),
        ({"since": "2024-05-01", "until": "2024-01-01"}, "after"),
    ],
)
def test_bad_filters_are_query_errors(reader: ArchiveReader, kw: dict[str, str], says: str) -> None:
    with pytest.raises(QueryError, match=says):
        reader.search("port", **kw)  # type: ignore[arg-type]


def test_listing_is_newest_first_with_filters(
    reader: ArchiveReader, built: tuple[Path, Stored]
) -> None:
    s = built[1]
    page = reader.listing(source="harbour-news", limit=10)
    assert page.total == 4
    listed = [h.id for h in page.hits]
    assert listed.index(s.mueller) < listed.index(s.strike)  # May before March, newest first
    assert [h.version for h in page.hits if h.id == s.strike] == [2]
    assert [a.id for a in reader.articles(source="weather")] == [s.weather]
    assert [a.id for a in reader.articles(since="2024-03-01", until="2024-03-31")] == [s.strike]


def test_get_versions_diff_urls_fetches_raw(
    reader: ArchiveReader, built: tuple[Path, Stored]
) -> None:
    s = built[1]
    latest = reader.get(s.strike)
    assert latest.version == 2
    assert reader.get(s.strike, version=1).content.headline == "Port strike closes the harbour"
    assert [a.version for a in reader.versions(s.strike)] == [1, 2]
    diff = reader.diff(s.strike)
    fields = {f.field: f for f in diff.fields}
    assert "headline" in fields
    deleted = [op.text for f in diff.fields for op in f.ops if op.kind == "delete"]
    assert any("rumour" in text for text in deleted)
    assert reader.get("http://news.example/print/council").id == s.mueller  # any URL it was seen at
    assert [u.url for u in reader.urls(s.mueller)] == s.urls[s.mueller]
    assert len(s.urls[s.mueller]) == 3
    assert [f["status"] for f in reader.fetches(s.strike)] == [200, 200]
    raw = reader.raw(s.strike)
    assert raw.sha256 == latest.raw_sha256
    assert raw.body.startswith(b"<!doctype html>")
    assert reader.raw(raw.sha256).body == raw.body


def test_unknown_references_are_not_found(
    reader: ArchiveReader, built: tuple[Path, Stored]
) -> None:
    for call in (
        lambda: reader.get("0" * 16),
        lambda: reader.get(built[1].strike, version=9),
        lambda: reader.diff(built[1].weather),  # one version only
        lambda: reader.raw("f" * 64),
    ):
        with pytest.raises(NotFound):
            call()


def test_open_refuses_a_folder_without_an_archive(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no archive"):
        archive.open(tmp_path)
    assert not (tmp_path / "catalog.sqlite").exists()


def test_a_version_2_catalog_is_upgraded_and_reindexed_from_the_files(tmp_path: Path) -> None:
    root = tmp_path / "data"
    s = build(root, hostile=False)
    db = sqlite3.connect(root / "catalog.sqlite")
    # what a catalog of schema 2 looked like: a two-column index, no metadata table
    db.executescript(
        "DROP TABLE archive_fts; DROP TABLE archive_fts_docs; DROP TABLE archive_search_meta;"
        "CREATE TABLE archive_fts_docs (doc INTEGER PRIMARY KEY, article_id TEXT NOT NULL,"
        " version INTEGER NOT NULL, UNIQUE (article_id, version));"
        "CREATE VIRTUAL TABLE archive_fts USING fts5(headline, body, content='',"
        " tokenize='unicode61 remove_diacritics 2');"
        "UPDATE archive_info SET value = '2' WHERE key = 'schema';"
    )
    db.close()
    with archive.open(root) as reader:
        assert ids(reader, "Muller") == [s.mueller]  # an author: not in the old index
        assert ids(reader, "rumour") == [s.strike]
        assert reader.catalog.pending_docs(10) == []
    db = sqlite3.connect(root / "catalog.sqlite")
    assert db.execute("SELECT value FROM archive_info WHERE key = 'schema'").fetchone() == (
        str(CATALOG_SCHEMA_VERSION),
    )
    db.close()


def test_a_version_4_catalog_gets_the_filter_index_and_keeps_its_search_index(
    tmp_path: Path,
) -> None:
    root = tmp_path / "data"
    s = build(root, hostile=False)
    with archive.open(root) as reader:
        before = ids(reader, "council OR strike", source="harbour-news", author="muller")
        assert before == [s.mueller]
    db = sqlite3.connect(root / "catalog.sqlite")
    db.executescript(
        "DROP INDEX archive_search_meta_filter;"
        "UPDATE archive_info SET value = '4' WHERE key = 'schema';"
    )
    db.close()
    with archive.open(root) as reader:
        # schema 11 builds the full-text index again (its facets): on the first read
        assert ids(reader, "council OR strike", source="harbour-news", author="muller") == before
        assert reader.catalog.pending_docs(10) == []
        assert ids(reader, "council OR strike", until="2024-03-04") == [s.strike]
    db = sqlite3.connect(root / "catalog.sqlite")
    assert db.execute("SELECT value FROM archive_info WHERE key = 'schema'").fetchone() == (
        str(CATALOG_SCHEMA_VERSION),
    )
    plan = " ".join(
        str(r[-1])
        for r in db.execute(
            "EXPLAIN QUERY PLAN SELECT 1 FROM archive_search_meta"
            " INDEXED BY archive_search_meta_filter WHERE doc = 1"
        )
    )
    assert "COVERING INDEX archive_search_meta_filter" in plan
    db.close()


def test_a_crawl_in_another_handle_is_searchable_on_the_next_read(tmp_path: Path) -> None:
    from archive.store import Archive
    from tests.read_support import content, store

    root = tmp_path / "data"
    build(root, hostile=False)
    with archive.open(root) as reader:
        assert ids(reader, "zebracorn") == []
        with Archive.open(root) as writer:  # e.g. `morgue crawl` in another process
            new = store(
                writer, "http://news.example/z", content("Zebracorn seen", ["Really."]), at_hours=9
            )
        assert ids(reader, "zebracorn") == [new]


def test_repair_reindexes_search(tmp_path: Path) -> None:
    root = tmp_path / "data"
    s = build(root, hostile=False)
    from archive.store import Archive

    with Archive.open(root) as arch:
        assert verify(arch, repair=True).ok
    with archive.open(root) as reader:
        assert ids(reader, "Muller") == [s.mueller]
        assert ids(reader, "talks") == [s.strike]


def test_parse_quotes_every_term() -> None:
    # a word with punctuation is searched as the words the index keeps of it, in order
    expected = '(("headline x" AND "a b" AND "cat"*) NOT ("d"))'
    assert parse('headline:x "a b" cat* -d')[0] == expected


def test_a_minus_before_a_phrase_excludes_it(
    reader: ArchiveReader, built: tuple[Path, Stored]
) -> None:
    # `-"port strike"` leaves the phrase out (it was read as '-' and the phrase searched for)
    assert parse('council -"port strike"')[0] == '(("council") NOT ("port strike"))'
    assert ids(reader, '"port strike"') == [built[1].strike]
    assert built[1].strike not in ids(reader, 'strike -"port strike"')


def test_import_archive_stays_light() -> None:
    code = (
        "import sys, archive, archive.record; "
        "print(' '.join(m for m in sys.modules"
        " if m.startswith(('archive.', 'starlette', 'jinja2'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    assert "archive.record" in loaded
    assert not loaded & {"archive.query", "archive.store", "starlette", "jinja2"}


def test_the_readme_python_example_runs(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    section = readme.split("From Python", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    build(tmp_path / "morgue-data", hostile=False)
    out = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "Port strike ends after talks" in out.stdout
    assert "headline" in out.stdout  # the diff summary of its two versions
    # articles per source per week (those published since 2024), all fetched in one week
    assert "harbour-news 2026-W19 2" in out.stdout
    assert "weather 2026-W19 1" in out.stdout
    code = [line for line in example.splitlines() if line.strip()]
    assert len(code) <= 11, code  # "in ten lines" (and its import)


def test_pages_of_hits_cover_every_article_once(tmp_path: Path) -> None:
    from archive.store import Archive
    from tests.read_support import content, store

    with Archive.open(tmp_path / "a") as arch:
        for i in range(30):
            url = f"http://x.example/{i}"
            store(arch, url, content(f"Ferry story {i}", [f"Ferry text {i}.", "More."]), at_hours=i)
            if i % 3 == 0:  # old versions of some articles also match
                words = [f"Ferry text {i} changed.", "More."]
                store(arch, url, content(f"Ferry story {i}", words), at_hours=40 + i)
    with archive.open(tmp_path / "a") as reader:
        seen: list[str] = []
        for offset in range(0, 35, 7):
            page = reader.search("ferry", limit=7, offset=offset)
            assert page.total == 30
            seen += [h.id for h in page.hits]
        assert len(seen) == len(set(seen)) == 30
        filtered = reader.search("ferry", source="harbour-news", limit=7, offset=28)
        assert filtered.total == 30
        assert len(filtered.hits) == 2


def test_folding_by_table_equals_decomposing_the_whole_text() -> None:
    import unicodedata

    from archive.snippet import fold, make_snippet

    def decomposed(text: str) -> str:
        d = unicodedata.normalize("NFKD", text)
        return "".join(c for c in d if not unicodedata.combining(c)).casefold()

    for text in ("Müller Straße", "ŒUVRE ﬁne", "Jediné ČŘ", "ΣΊΣΥΦΟΣ", "e\u0301cole", "ﾊﾝｶｸ ½"):
        assert fold(text) == decomposed(text)
    (term,) = parse("muller")[1]
    snippet = make_snippet("Der Bürgermeister Jörg Müller sprach.", [term])
    assert [t for t, marked in snippet.parts if marked] == ["Müller"]


def test_the_listing_total_is_what_the_pages_list(tmp_path: Path) -> None:
    """The total of all articles or of one source's is read from the articles when every
    version is indexed (no join per version), and joined as before while some wait: either
    way it is exactly the number of articles the pages list."""
    from archive.store import Archive
    from tests.read_support import content, store

    def listed(reader: ArchiveReader, source: str | None = None) -> tuple[int, int]:
        every = reader.listing(source=source, limit=1000)
        return every.total, len(every.hits)

    root = tmp_path / "data"
    build(root)
    with archive.open(root) as reader:
        total, shown = listed(reader)
        assert total == shown == 5  # a duplicate page is not an article
        assert reader.listing(limit=2, offset=4).total == 5
        assert listed(reader, "harbour-news") == (4, 4)
        assert listed(reader, "weather") == (1, 1)
        with pytest.raises(QueryError, match="no source named 'nowhere'"):
            listed(reader, "nowhere")
    with ArchiveReader.open(root, sources=["nowhere"]) as configured:  # nothing archived yet
        assert listed(configured, "nowhere") == (0, 0)
    with Archive.open(root) as writer:
        store(writer, "http://news.example/z", content("Zebracorn seen", ["Really."]), at_hours=9)
        with ArchiveReader(writer, refresh=False) as waiting:  # the new version is not indexed
            assert waiting.catalog.pending_docs(1)
            assert listed(waiting) == (5, 5)
            assert listed(waiting, "harbour-news") == (4, 4)
    with archive.open(root) as reader:
        assert listed(reader) == (6, 6)
        assert listed(reader, "harbour-news") == (5, 5)


def test_a_version_5_catalog_gets_the_day_spans_and_dates_still_filter(tmp_path: Path) -> None:
    """Schema 6 keeps each day's first and last indexed doc; a schema 5 catalog gets them from
        its metadata on opening, and a date-filtered search looks up the filters of the matches in
    that span of docs only."""
    root = tmp_path / "data"
    s = build(root, hostile=False)
    with archive.open(root) as reader:
        reader.refresh()
    db = sqlite3.connect(root / "catalog.sqlite")
    spans = db.execute("SELECT * FROM archive_search_days ORDER BY day").fetchall()
    assert len(spans) == 3
    assert (
        spans
        == db.execute(
            "SELECT day, min(doc), max(doc) FROM archive_search_meta GROUP BY day ORDER BY day"
        ).fetchall()
    )
    db.executescript(
        "DROP TABLE archive_search_days; UPDATE archive_info SET value = '5' WHERE key = 'schema';"
    )
    db.close()
    with archive.open(root) as reader:
        assert ids(reader, "strike OR council", until="2024-03-04") == [s.strike]
        assert ids(reader, "strike OR council", since="2024-03-05") == [s.mueller]
        assert ids(reader, "strike OR council", since="2024-03-05", until="2024-04-30") == []
        assert ids(reader, "strike OR storm", since="2026-01-01") == [s.weather]  # fetch day
        statements: list[str] = []
        reader.catalog.db.set_trace_callback(statements.append)  # type: ignore[attr-defined]
        ids(reader, "strike OR council", until="2024-03-04")
        reader.catalog.db.set_trace_callback(None)  # type: ignore[attr-defined]
    (strike_doc,) = [doc for day, doc, _ in spans if day == "2024-03-04"]
    joined = [q for q in statements if "MATCH" in q and "JOIN archive_search_meta" in q]
    assert joined
    assert all(f"BETWEEN {strike_doc} AND " in q for q in joined), joined
    db = sqlite3.connect(root / "catalog.sqlite")
    assert db.execute("SELECT * FROM archive_search_days ORDER BY day").fetchall() == spans
    db.close()


def listing_plans(reader: ArchiveReader, **filters: str) -> tuple[list[str], str]:
    """The ids a listing gives and the query plans of its statements on the metadata."""
    statements: list[str] = []
    db = reader.catalog.db  # type: ignore[attr-defined]
    db.set_trace_callback(statements.append)
    listed = [h.id for h in reader.listing(**filters).hits]  # type: ignore[arg-type]
    db.set_trace_callback(None)
    plans = [
        str(row[-1])
        for q in statements
        if "FROM archive_search_meta m" in q
        for row in db.execute("EXPLAIN QUERY PLAN " + q)
    ]
    return listed, " | ".join(plans)


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({"author": "muller"}, "archive_search_authors"),
        ({"author": "Jane Roe", "source": "harbour-news"}, "archive_search_authors"),
        ({"author": "roe", "since": "2024-01-01"}, "archive_search_authors"),
        ({"section": "business"}, "archive_search_meta_current_section"),
    ],
)
def test_listings_by_author_and_section_read_an_index(
    reader: ArchiveReader, built: tuple[Path, Stored], filters: dict[str, str], index: str
) -> None:
    """A listing by author or section reads that author's or section's versions, not every
    version's metadata (a scan of the table: 17 ms at 100,000 articles)."""
    s = built[1]
    listed, plan = listing_plans(reader, **filters)
    assert listed == ([s.mueller] if filters.get("author") == "muller" else [s.strike])
    assert index in plan
    assert "SCAN m" not in plan, plan


def test_an_author_filter_is_any_part_of_a_name(
    reader: ArchiveReader, built: tuple[Path, Stored]
) -> None:
    s = built[1]
    for fragment in ("MÜLLER", "anna m", "ülle", "Anna Müller"):
        assert [h.id for h in reader.listing(author=fragment).hits] == [s.mueller], fragment
    assert reader.listing(author="nobody").total == 0
    assert [a.id for a in reader.articles(author="roe", section="business")] == [s.strike]


def test_a_version_6_catalog_gets_the_listing_indexes(tmp_path: Path) -> None:
    root = tmp_path / "data"
    s = build(root, hostile=False)
    with archive.open(root) as reader:
        reader.refresh()
    db = sqlite3.connect(root / "catalog.sqlite")
    db.executescript(
        "DROP TABLE archive_search_authors; DROP TABLE archive_author_names;"
        " DROP INDEX archive_search_meta_current_section;"
        " UPDATE archive_info SET value = '6' WHERE key = 'schema';"
    )
    db.close()
    with archive.open(root) as reader:
        assert reader.refresh() > 0  # schema 11: the full-text index built again (facets)
        assert reader.catalog.pending_docs(10) == []
        listed, plan = listing_plans(reader, author="roe")
        assert listed == [s.strike]
        assert "archive_search_authors" in plan
        assert [h.id for h in reader.listing(section="local").hits] == [s.mueller]
    db = sqlite3.connect(root / "catalog.sqlite")
    assert db.execute("SELECT value FROM archive_info WHERE key = 'schema'").fetchone() == (
        str(CATALOG_SCHEMA_VERSION),
    )
    # both versions of the strike and the council article, one name each; every name once
    assert db.execute("SELECT count(*) FROM archive_search_authors").fetchone() == (3,)
    assert db.execute("SELECT author_key FROM archive_author_names ORDER BY 1").fetchall() == [
        ("anna muller",),  # folded as the index folds words
        ("jane roe",),
    ]
    db.close()


def test_a_listing_count_past_the_cap_is_a_lower_bound(
    reader: ArchiveReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archive.backends import catalog_sqlite

    monkeypatch.setattr(catalog_sqlite, "COUNT_CAP", 1)
    page = reader.listing(since="2024-01-01")
    assert (page.total, page.total_exact, page.count_text()) == (1, False, "at least 1 match")
    assert len(page.hits) > 1
    assert len(list(reader.articles(since="2024-01-01"))) == len(page.hits)  # read to the end
    assert reader.listing().total_exact  # every article: counted from the articles, exactly
