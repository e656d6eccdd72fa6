"""Helpers for the parser tests: the recorded pages under tests/pages and their goldens.

Each page is `<name>.html` (exact bytes) + `<name>.meta.json` ({"url", "content_type",
"fetched_at"}) + `<name>.expected.json` (the parser's output as JSON, or {"error": ...} for a
page that is not an article). `pytest --update-golden` rewrites the expected files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archive.record import RawPage, dumps
from scraper.errors import ParseError
from scraper.parse import parse_page

PAGES = Path(__file__).parent / "pages"


@dataclass(frozen=True)
class RecordedPage:
    html: Path

    @property
    def name(self) -> str:
        return f"{self.html.parent.name}/{self.html.stem}"

    @property
    def meta(self) -> dict[str, str]:
        meta: dict[str, str] = json.loads(self.html.with_suffix(".meta.json").read_text("utf-8"))
        return meta

    @property
    def expected_path(self) -> Path:
        return self.html.with_suffix(".expected.json")

    def raw_page(self) -> RawPage:
        meta = self.meta
        url = meta.get("url") or f"https://unknown.example/{self.html.stem}"
        headers = (("Content-Type", meta["content_type"]),) if meta.get("content_type") else ()
        return RawPage(
            requested_url=url,
            final_url=url,
            status=200,
            headers=headers,
            body=self.html.read_bytes(),
            fetched_at=datetime.fromisoformat(meta["fetched_at"].replace("Z", "+00:00")),
        )

    def parsed_json(self) -> str:
        """What the golden file holds: the parse as JSON, or the parser error's class."""
        try:
            return dumps(parse_page(self.raw_page()).to_json())
        except ParseError as exc:
            return dumps({"error": exc.__class__.__name__, "reason": exc.reason})


def recorded_pages() -> list[RecordedPage]:
    return [RecordedPage(p) for p in sorted(PAGES.glob("*/*.html"))]
