"""Rebuild with the real parser, in worker processes: recorded pages stored once, rebuilt
twice, and not one record changes (the parser's output may not depend on what else the
process parsed before)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from archive.maintenance.rebuild import rebuild
from archive.maintenance.verify import verify
from archive.record import RawPage
from archive.store import Archive
from scraper.cli.archive_cmds import SourceParser
from scraper.errors import ParseError

PAGES = Path(__file__).parent / "pages"


def recorded_pages() -> list[RawPage]:
    out = []
    for html in sorted(PAGES.rglob("*.html")):
        meta = json.loads(html.with_suffix(".meta.json").read_text("utf-8"))
        url = meta["url"] or f"https://pages.example/{html.stem}"
        out.append(
            RawPage(
                requested_url=url,
                final_url=url,
                status=200,
                headers=(("content-type", meta["content_type"]),),
                body=html.read_bytes(),
                fetched_at=datetime.fromisoformat(meta["fetched_at"].replace("Z", "+00:00")),
            )
        )
    return out


def records(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("v*.json"))}


def test_rebuild_with_the_real_parser_changes_nothing(tmp_path: Path) -> None:
    parse = SourceParser()
    with Archive.open(tmp_path / "a") as arch:
        # stored in reverse order, so the workers parse in another order than the first pass
        for page in reversed(recorded_pages()):
            try:
                arch.store(page, parse(page, "recorded"), source="recorded")
            except ParseError:
                arch.put_raw(page, source="recorded")
        before = records(arch.root)
        assert len(before) >= 10
        for workers in (2, 1):
            report = rebuild(arch, parse, workers=workers)
            assert report.changed == 0, dict(report.fields)
            assert records(arch.root) == before
        assert verify(arch).ok
