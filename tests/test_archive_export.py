"""Exports (JSONL, CSV, Markdown, WARC), WARC import (ours and wget's), render, stats."""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.maintenance.export import export_csv, export_jsonl, export_md, export_warc
from archive.maintenance.stats import stats
from archive.maintenance.verify import verify
from archive.maintenance.warc_import import import_warc
from archive.record import Article, Caption, Content, Outcome, RawPage
from archive.render import render_html, render_text
from archive.store import Archive
from tests.archive_support import T0, article_html, make_page, paragraphs, sql, tiny_parse

CANON = "https://news.example/2012/05/bridge"


def fill(arch: Archive) -> None:
    body = paragraphs(1)
    html = article_html("Bridge reopens", body, canonical=CANON, caption=("Crowds", "Jo Roe/AP"))
    first = make_page(
        CANON,
        html,
        requested="http://news.example/b",
        redirects=("http://news.example/b",),
        etag='"e1"',
    )
    arch.store(first, tiny_parse(first, "ex"), source="ex")
    again = make_page(CANON, html, at=T0 + timedelta(hours=1), etag='"e1"')
    arch.store(again, tiny_parse(again, "ex"), source="ex")
    arch.store_unchanged(make_page(CANON, b"", at=T0 + timedelta(hours=2), status=304), source="ex")
    html2 = article_html("Bridge reopens", body + paragraphs(2, 3), canonical=CANON)
    v2 = make_page(CANON, html2, at=T0 + timedelta(hours=3))
    arch.store(v2, tiny_parse(v2, "ex"), source="ex")
    # the first version's text and headline at another address of the site: the same article
    dup = make_page(
        "https://news.example/wire/1",
        article_html("Bridge reopens", body),
        at=T0 + timedelta(hours=4),
    )
    assert arch.store(dup, tiny_parse(dup, "ex"), source="ex").outcome is Outcome.DUPLICATE
    # the same text on another site: an article of its own, linked as a copy
    copy = make_page(
        "https://paper.example/wire/1",
        article_html("Wire", body),
        at=T0 + timedelta(hours=4, minutes=30),
    )
    assert arch.store(copy, tiny_parse(copy, "paper"), source="paper").outcome is Outcome.NEW
    other = make_page(
        "https://news.example/other",
        article_html("Other", paragraphs(3)),
        at=T0 + timedelta(hours=5),
    )
    arch.store(other, tiny_parse(other, "ex"), source="ex")
    arch.put_raw(
        make_page("https://news.example/bad", b"<p>x</p>", at=T0 + timedelta(hours=6)), source="ex"
    )


def wire_id(arch: Archive) -> str:
    found = arch.find("https://paper.example/wire/1")
    assert found is not None
    return found.id


def jsonl(arch: Archive) -> str:
    out = io.StringIO()
    export_jsonl(arch, arch.iter_versions(), out)
    return out.getvalue()


def test_warc_round_trip_gives_the_same_records(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    warc = tmp_path / "out.warc.gz"
    with open_archive(tmp_path / "a") as first:
        fill(first)
        with warc.open("wb") as out:
            assert export_warc(first, out) == 8
        expected = jsonl(first)
        expected_fetches = sql(first, "SELECT fetch_id, outcome FROM archive_fetches ORDER BY 1")
    with open_archive(tmp_path / "b") as second:
        counts = import_warc(second, [warc], tiny_parse)
        assert counts == {
            "records": 8,
            "new": 3,
            "unchanged": 2,
            "updated": 1,
            "duplicate": 1,
            "unparsed": 1,
        }
        assert jsonl(second) == expected
        got = sql(second, "SELECT fetch_id, outcome FROM archive_fetches ORDER BY 1")
        assert [tuple(r) for r in got] == [tuple(r) for r in expected_fetches]
        assert verify(second).ok
        # importing the same file again adds nothing
        import_warc(second, [warc], tiny_parse)
        assert jsonl(second) == expected


def test_warc_is_standard_and_uses_revisits(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    warc = tmp_path / "out.warc.gz"
    with open_archive(tmp_path / "a") as arch:
        fill(arch)
        with warc.open("wb") as out:
            export_warc(arch, out)
    with warc.open("rb") as stream:
        records = [
            (r.rec_headers.protocol, r.rec_type, r.rec_headers.get_header("WARC-Profile") or "")
            for r in ArchiveIterator(stream, check_digests=True)
        ]
    assert {r[0] for r in records} == {"WARC/1.1"}
    types = [r[1] for r in records]
    assert types.count("response") == 6
    assert types.count("revisit") == 2
    profiles = {r[2].rsplit("/", 1)[-1] for r in records if r[1] == "revisit"}
    assert profiles == {"identical-payload-digest", "server-not-modified"}
    # a second export is byte for byte the same (ids and dates come from the fetches)
    again = tmp_path / "again.warc.gz"
    with open_archive(tmp_path / "a") as arch, again.open("wb") as out:
        export_warc(arch, out)
    assert gzip.decompress(again.read_bytes()) == gzip.decompress(warc.read_bytes())


class _Site(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/old":
            self.send_response(301)
            self.send_header("Location", "/story")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = article_html("Wget story", paragraphs(5), canonical="http://127.0.0.1/story")
        packed = gzip.compress(body)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(packed)))
        self.end_headers()
        self.wfile.write(packed)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.skipif(shutil.which("wget") is None, reason="needs wget")
def test_import_a_wget_warc(
    open_archive: Callable[..., Archive], tmp_path: Path, site: str
) -> None:
    subprocess.run(
        [
            "wget",
            "-q",
            "--no-config",
            "-O",
            "/dev/null",
            f"--warc-file={tmp_path / 'w'}",
            f"{site}/old",
        ],
        check=True,
        timeout=30,
    )
    with open_archive(tmp_path / "a") as arch:
        counts = import_warc(arch, [tmp_path / "w.warc.gz"], tiny_parse, source="wget")
        assert counts["new"] == 1
        assert counts["redirects"] == 1
        article = arch.find(f"{site}/old")
        assert article is not None
        assert article.content.headline == "Wget story"
        assert article.url == f"{site}/old"
        assert article.final_url == f"{site}/story"
        assert verify(arch).ok


def test_jsonl_and_csv_carry_every_version(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    with open_archive(tmp_path / "a") as arch:
        fill(arch)
        lines = [json.loads(line) for line in jsonl(arch).splitlines()]
        assert sorted((d["headline"], d["version"]) for d in lines) == [
            ("Bridge reopens", 1),
            ("Bridge reopens", 2),
            ("Other", 1),
            ("Wire", 1),
        ]
        out = io.StringIO()
        assert export_csv(arch, arch.iter_versions(source="ex"), out) == 3
        rows = list(csv.DictReader(io.StringIO(out.getvalue())))
        assert rows[0]["version"] == "1"
        assert rows[0]["captions"] == "Crowds"
        assert "\n\n" in rows[0]["body"]


def test_markdown_export_is_one_file_per_article(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    with open_archive(tmp_path / "a") as arch:
        fill(arch)
        assert export_md(arch, arch.iter_articles(), tmp_path / "md") == 3
        bridge = arch.find(CANON)
        assert bridge is not None
        text = (tmp_path / "md" / "ex" / f"{bridge.id}.md").read_text("utf-8")
        assert text == render_text(bridge, arch.describe(bridge)["copies"])
        assert text.endswith(f"Copy: <https://paper.example/wire/1> (paper, {wire_id(arch)})\n")


def article(content: Content, url: str = "https://n.example/a") -> Article:
    page = RawPage(
        requested_url=url, final_url=url, status=200, headers=(), body=b"x", fetched_at=T0
    )
    return Article.build(page, content, id="0" * 16, version=1, source="ex", canonical_url=url)


def test_render_text_layout() -> None:
    from archive.record import Block

    content = Content(
        headline="Bridge reopens",
        published="2012-05-09T08:00:00-04:00",
        captions=(Caption("Crowds at dawn", "Jo Roe/AP"), Caption("The old bridge")),
        body=(Block("First paragraph."), Block("Second paragraph.")),
    )
    assert render_text(article(content)) == (
        "Bridge reopens\n\nMay 09, 2012\n\nCrowds at dawn **Jo Roe/AP**\nThe old bridge\n\n"
        "First paragraph.\n\nSecond paragraph.\n\nOriginal url:\n\n<https://n.example/a>\n"
    )
    bare = Content(headline="Only", body=(Block("Text."),))
    assert render_text(article(bare)) == "Only\n\nText.\n\nOriginal url:\n\n<https://n.example/a>\n"


def test_render_html_escapes() -> None:
    from archive.record import Block

    content = Content(headline="<script>x</script>", body=(Block("a & b"),))
    page = render_html(article(content, 'https://n.example/a?x="1"'))
    assert "<script>x" not in page
    assert "&lt;script&gt;" in page
    assert "a &amp; b" in page


def test_stats_counts(open_archive: Callable[..., Archive], tmp_path: Path) -> None:
    with open_archive(tmp_path / "a") as arch:
        fill(arch)
        s = stats(arch)
        assert (s.total.articles, s.total.versions, s.total.raw_pages) == (3, 4, 6)
        assert s.total.duplicates == 1
        assert s.total.identical_refetches == 1
        assert s.per_source["ex"].duplicates == 1
        assert (s.copies, s.shared_texts) == (2, 1)
        assert any("syndicated copies: 2 articles share 1 text" in line for line in s.lines())
        assert 0 < s.total.stored_bytes < s.total.raw_bytes
        assert s.disk_bytes > 0
        assert any("duplicates avoided" in line for line in s.lines())


def test_a_file_that_is_not_a_warc_is_one_clear_error(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    from archive.maintenance.warc_import import WarcError

    bad = tmp_path / "x.warc.gz"
    bad.write_bytes(gzip.compress(b"hello world\n"))
    with (
        open_archive(tmp_path / "a") as arch,
        pytest.raises(WarcError, match="not a readable WARC"),
    ):
        import_warc(arch, [bad], tiny_parse)


def test_csv_cells_never_start_a_spreadsheet_formula(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    with open_archive(tmp_path / "a") as arch:
        page = make_page(
            "https://news.example/f", article_html('=HYPERLINK("http://x.example")', paragraphs(4))
        )
        arch.store(page, tiny_parse(page, "ex"), source="ex")
        out = io.StringIO()
        export_csv(arch, arch.iter_versions(), out)
        (row,) = csv.DictReader(io.StringIO(out.getvalue()))
        assert row["headline"] == '\'=HYPERLINK("http://x.example")'
        assert row["version"] == "1"
