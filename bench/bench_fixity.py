"""Fixity benchmark: what recording every file's sha256 costs the store's hot path.

The same pages (bench_archive's synthetic articles, parsed by the real parser beforehand) are
stored into two archives in turn, one recording checksums as usual and one with the hook
switched off, alternating which goes first; the time of each store is summed per archive. On
a shared machine this pairs every measurement with its peer, so the ratio is what counts.

    .venv/bin/python bench/bench_fixity.py --n 600 [--corpus DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_archive import CORPUS, _parsed, make_pages

from archive.store import Archive
from scraper.cli.archive_cmds import SourceParser


def _no_checksum(path: str, data: bytes) -> None:
    return None


class _NoIntents:
    """The baseline archive records no file, so its notes must not sweep them: a store's
    files that the catalog does not know are what `archive.intents` removes after each
    transaction (they are a killed store's leftovers in a real archive)."""

    def note(self, path: Path, data: bytes) -> None:
        return None

    def settled(self, *args: object) -> None:
        return None

    def close(self) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    parse = SourceParser()
    pages = make_pages(args.n, args.corpus)
    contents = [_parsed(parse, page) for page in pages]
    base = Path(tempfile.mkdtemp(prefix="bench-fixity-"))
    with Archive.open(base / "on") as on, Archive.open(base / "off") as off:
        off.note_written = _no_checksum  # type: ignore[method-assign]
        off.blobs.on_write = None
        off.intents = off.blobs.intents = _NoIntents()  # type: ignore[assignment,attr-defined]
        spent = {"on": 0.0, "off": 0.0}
        for i, (page, content) in enumerate(zip(pages, contents, strict=True)):
            source = page.final_url.split("/")[2].split(".")[0]
            pair = [("on", on), ("off", off)]
            for name, arch in pair if i % 2 else reversed(pair):
                start = time.perf_counter()
                if content is None:
                    arch.put_raw(page, source=source)
                else:
                    arch.store(page, content, source=source)
                spent[name] += time.perf_counter() - start
        files = on.catalog.count_files()
    shutil.rmtree(base, ignore_errors=True)
    n = len(pages)
    print(f"| measure ({n} fetches, fsync on) | pages/s |\n|---|---|")
    print(f"| store, recording {files} file checksums | {n / spent['on']:.1f} |")
    print(f"| store, checksums off | {n / spent['off']:.1f} |")
    print(f"| ratio with / without | {spent['off'] / spent['on']:.3f} |")


if __name__ == "__main__":
    main()
