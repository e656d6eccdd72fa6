"""Made once with morgue at commit e70a44e (0.1.0, before issue 14); kept as a record of how
the fixture was written, not run by the tests (today's code would write the new layout).

One wire text on three sites, plus the same text on the first site under another headline and
canonical URL: that release filed the last three as DUPLICATE fetches of the first article.
"""

from __future__ import annotations

import tarfile
from datetime import timedelta
from pathlib import Path

from archive.maintenance.verify import verify
from archive.store import Archive
from tests.archive_support import T0, article_html, make_page, paragraphs, tiny_parse

PAGES = [
    ("https://www.alpha.example/2024/05/02/port-strike", "Port strike enters third week", "alpha"),
    ("https://beta.example/news/2024/05/02/dockers-walk-out", "Dockers walk out again", "beta"),
    ("https://gamma.example/world/port-strike-story", "Strike shuts the harbour", "gamma"),
    (
        "https://www.alpha.example/2024/05/03/harbour-closed",
        "Harbour closed for a third week",
        "alpha",
    ),
]


def main(out: Path) -> None:
    root = out / "morgue-data"
    wire = paragraphs(42)
    with Archive.open(root) as arch:
        for i, (url, headline, source) in enumerate(PAGES):
            html = article_html(headline, wire, canonical=url)
            page = make_page(url, html, at=T0 + timedelta(hours=i))
            print(arch.store(page, tiny_parse(page, source), source=source).outcome)
        print(verify(arch).lines())
    with tarfile.open(out / "archive-0.1.0-merged-wire.tar.gz", "w:gz") as tar:
        tar.add(root, arcname="morgue-data")


if __name__ == "__main__":
    main(Path.cwd())
