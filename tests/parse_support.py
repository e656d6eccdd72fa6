"""Helpers for the parser tests: the recorded pages under tests/pages and their goldens.

Each page is `<name>.html` (exact bytes) + `<name>.meta.json` ({"url", "content_type",
"fetched_at"}) + `<name>.expected.json` (the parser's output as JSON, or {"error": ...} for a
page that is not an article). `pytest --update-golden` rewrites the expected files.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archive.record import RawPage, dumps
from scraper.errors import ParseError
from scraper.parse import parse_page

PAGES = Path(__file__).parent / "pages"
GOLDEN_REVISION = PAGES / "GOLDEN_REVISION"
_RELEASE = re.compile(rb'"version": "[^"+]*\+p')  # the package version in parser.version


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


def golden_digest(folder: Path = PAGES) -> str:
    """One sha256 over every golden file (its path and bytes). The package version in
    `parser.version` is left out: a release alone changes no parser output."""
    total = hashlib.sha256()
    for path in sorted(folder.glob("*/*.expected.json")):
        data = _RELEASE.sub(rb'"version": "+p', path.read_bytes())
        total.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        total.update(hashlib.sha256(data).digest())
    return total.hexdigest()


def read_golden_revision(path: Path = GOLDEN_REVISION) -> tuple[int, str]:
    """(parser revision, golden digest) as last recorded; the file is `revision N` and
    `goldens <sha256>` lines (comments start with #)."""
    fields = dict(
        line.split(None, 1)
        for line in path.read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )
    return int(fields["revision"]), fields["goldens"].strip()


def write_golden_revision(revision: int, digest: str, path: Path = GOLDEN_REVISION) -> None:
    path.write_text(
        "# The parser revision the golden files were made with, and their digest\n"
        "# (tests/test_parser_revision.py; change the goldens only with a PARSER_REVISION bump)\n"
        f"revision {revision}\ngoldens {digest}\n",
        encoding="utf-8",
    )


def revision_problem(recorded: tuple[int, str], revision: int, digest: str) -> str | None:
    """Why the golden files and the parser revision disagree, or None."""
    recorded_revision, recorded_digest = recorded
    if digest != recorded_digest and recorded_revision == revision:
        return (
            f"the golden files changed but PARSER_REVISION is still {revision}: bump it in "
            "scraper/parse/extract.py, then run pytest --update-golden"
        )
    if recorded_revision != revision:
        return (
            f"PARSER_REVISION is {revision} but the goldens were recorded with revision "
            f"{recorded_revision}: run pytest --update-golden"
        )
    return None
