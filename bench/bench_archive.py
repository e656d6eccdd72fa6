"""Archive benchmark: ingest, rebuild scaling, bytes on disk, lookup latency; zstd vs gzip.

Builds N synthetic-but-realistic article pages from the shared corpus: each is a real page
(its markup, scripts, navigation: what a fetch really returns) whose headline and paragraphs
are replaced with text drawn from the other corpus articles, at a URL of its own; one page in
ten is re-fetched later with a changed body (a new version) and one in twenty again unchanged
(same bytes). Each template is one site (`news<T>.example`), as a real site serves its pages
from one template; the blob store compresses a site's pages against an earlier one of them, so
the same-site pairs of the real corpus are measured too, without any synthetic text (the
synthetic pages share more with each other than real articles of one site do). Everything goes
through `Archive.store` (fsync on) after the real parser
(`scraper.parse.parse_page`), into one archive with zstd and one with gzip, in the same run.

    /work/venv/bin/python bench/bench_archive.py --n 10000 [--corpus DIR] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gc
import html
import json
import random
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.maintenance.rebuild import rebuild as rebuild_archive
from archive.maintenance.stats import disk_usage, stats
from archive.record import Content, RawPage
from archive.store import Archive
from scraper.cli.archive_cmds import SourceParser

CORPUS = Path("/work/shared/corpus/dev")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
_P = re.compile(r"(<p\b[^>]*>)(.*?)(</p>)", re.IGNORECASE | re.DOTALL)
_H1 = re.compile(r"(<h1\b[^>]*>)(.*?)(</h1>)", re.IGNORECASE | re.DOTALL)
_TITLE = re.compile(r"(<title\b[^>]*>)(.*?)(</title>)", re.IGNORECASE | re.DOTALL)
_CANON = re.compile(r"<link[^>]+rel=[\"']?canonical[^>]*>|<meta[^>]+og:url[^>]*>", re.I)


def load_corpus(folder: Path) -> tuple[list[str], list[str]]:
    pages, paragraphs = [], []
    for page_dir in sorted(folder.iterdir()):
        html_path, truth_path = page_dir / "page.html", page_dir / "truth.json"
        if not html_path.exists():
            continue
        text = html_path.read_text("utf-8", errors="replace")
        if len(_P.findall(text)) < 3:
            continue
        pages.append(_CANON.sub("", text))  # each synthetic page is its own article
        if truth_path.exists():
            body = json.loads(truth_path.read_text("utf-8")).get("body") or ""
            paragraphs += [p.strip() for p in body.split("\n\n") if len(p.strip()) > 80]
    return pages, paragraphs


def synthetic(template: str, pool: list[str], rng: random.Random, headline: str) -> bytes:
    def para(match: re.Match[str]) -> str:
        # new words, the same amount of text: the page keeps its text/markup proportions
        want = len(re.sub(r"<[^>]+>", "", match.group(2)).strip())
        if want == 0:
            return match.group(0)
        text = rng.choice(pool)
        while len(text) < want:
            text += " " + rng.choice(pool)
        cut = text.rfind(" ", 0, want + 1)
        return match.group(1) + html.escape(text[: cut if cut > 0 else want]) + match.group(3)

    text = _P.sub(para, template)
    text = _H1.sub(lambda m: m.group(1) + html.escape(headline) + m.group(3), text, count=1)
    text = _TITLE.sub(lambda m: m.group(1) + html.escape(headline) + m.group(3), text, count=1)
    return text.encode("utf-8")


def make_pages(n: int, folder: Path, seed: int = 7) -> list[RawPage]:
    """n article fetches, plus 10% changed re-fetches and 5% identical re-fetches."""
    templates, pool = load_corpus(folder)
    rng = random.Random(seed)
    pages = []
    for i in range(n):
        site = i % len(templates)
        url = f"https://news{site}.example/2026/01/story-{i}"
        body = synthetic(templates[site], pool, rng, f"Story {i}: {rng.choice(pool)[:60]}")
        pages.append(_page(url, body, T0 + timedelta(seconds=i)))
        if i % 10 == 5:
            changed = synthetic(templates[i % len(templates)], pool, rng, f"Story {i} (updated)")
            pages.append(_page(url, changed, T0 + timedelta(days=1, seconds=i)))
        if i % 20 == 7:
            pages.append(_page(url, body, T0 + timedelta(days=2, seconds=i)))
    return pages


def _page(url: str, body: bytes, at: datetime) -> RawPage:
    return RawPage(
        requested_url=url,
        final_url=url,
        status=200,
        headers=(("Content-Type", "text/html; charset=utf-8"), ("ETag", f'"{len(body)}"')),
        body=body,
        fetched_at=at,
    )


def ingest(
    root: Path, codec: str, pages: list[RawPage], contents: list[Content | None]
) -> dict[str, float]:
    start = time.perf_counter()
    with Archive.open(root, codec=codec) as arch:
        for page, content in zip(pages, contents, strict=True):
            source = page.final_url.split("/")[2].split(".")[0]
            if content is None:
                arch.put_raw(page, source=source)
            else:
                arch.store(page, content, source=source)
        elapsed = time.perf_counter() - start
        s = stats(arch)
    apparent, allocated = disk_usage(root)
    parts = {
        "blobs": sum(p.stat().st_size for p in root.glob("raw/*/*.html.*")),
        "sidecars": sum(p.stat().st_size for p in root.glob("raw/*/*.json")),
        "records": sum(p.stat().st_size for p in root.glob("articles/*/*/v*.json")),
        "catalog": sum(p.stat().st_size for p in root.glob("catalog.sqlite*")),
    }
    print(codec, "bytes / raw:", {k: round(v / s.total.raw_bytes, 4) for k, v in parts.items()})
    return {
        "store_per_s": len(pages) / elapsed,
        "articles": s.total.articles,
        "versions": s.total.versions,
        "raw_bytes": s.total.raw_bytes,
        "blob_ratio": s.total.stored_bytes / s.total.raw_bytes,
        "disk_ratio": apparent / s.total.raw_bytes,
        "alloc_ratio": allocated / s.total.raw_bytes,
    }


def lookups(
    root: Path, pages: list[RawPage], parsed: set[str], count: int = 2000
) -> tuple[float, float, float]:
    rng = random.Random(1)
    urls = [rng.choice(pages).final_url + "?utm_source=x" for _ in range(count)]
    urls = [u for u in urls if u.split("?")[0] in parsed]
    with Archive.open(root) as arch:
        times = []
        for url in urls:
            t = time.perf_counter()
            from archive.urls import url_key

            arch.catalog.article_by_url(url_key(url))
            times.append(time.perf_counter() - t)
        full = []
        for url in urls[:500]:
            t = time.perf_counter()
            assert arch.find(url) is not None
            full.append(time.perf_counter() - t)
    times.sort()
    return (
        statistics.median(times) * 1e6,
        times[int(len(times) * 0.99)] * 1e6,
        statistics.median(full) * 1e6,
    )


def rebuild(root: Path, workers: int) -> tuple[float, int]:
    with Archive.open(root) as arch:
        me, kids = (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
        start = time.perf_counter()
        report = rebuild_archive(arch, SourceParser(), workers=workers)
        wall = time.perf_counter() - start
        me2, kids2 = (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
        parent = me2.ru_utime + me2.ru_stime - me.ru_utime - me.ru_stime
        children = kids2.ru_utime + kids2.ru_stime - kids.ru_utime - kids.ru_stime
        print(
            f"rebuild workers={workers}: {wall:.1f}s wall, parent CPU {parent:.1f}s, worker CPU "
            f"{children:.1f}s: {(parent + children) / wall:.2f} cores busy;",
            "; ".join(report.lines()[:1]),
            dict(report.fields),
        )
        return report.scanned / (time.perf_counter() - start), report.changed


def codec_table(folder: Path) -> None:
    """zstd levels vs gzip on the real corpus pages, one core: ratio and speed."""
    import gzip

    import zstandard

    pages = [p.read_bytes() for p in sorted(folder.glob("*/page.html"))]
    raw = sum(map(len, pages))
    print(f"\n| codec on {len(pages)} corpus pages | bytes / raw | compress MB/s |\n|---|---|---|")
    codecs: list[tuple[str, Callable[[bytes], bytes]]] = [
        (f"zstd -{lvl}", zstandard.ZstdCompressor(level=lvl).compress) for lvl in (3, 6, 9)
    ]
    codecs.append(("gzip -6", lambda b: gzip.compress(b, compresslevel=6, mtime=0)))
    for name, compress in codecs:
        t = time.perf_counter()
        size = sum(len(compress(p)) for p in pages)
        print(f"| {name} | {size / raw:.3f} | {raw / (time.perf_counter() - t) / 1e6:.0f} |")
    same_site_pairs(folder)


def same_site_pairs(folder: Path) -> None:
    """Real pages only: each corpus page whose site has an earlier page in the corpus, stored
    through the blob store after that page (as the archive does), against zstd alone."""
    import hashlib
    from collections import defaultdict

    import zstandard

    from archive.backends.blobs import FolderBlobStore
    from archive.urls import site_of

    by_site: dict[str, list[bytes]] = defaultdict(list)
    for truth in sorted(folder.glob("*/truth.json")):
        url = json.loads(truth.read_text("utf-8")).get("url") or ""
        if site_of(url):
            by_site[site_of(url)].append(truth.with_name("page.html").read_bytes())
    raw = alone = referenced = pairs = 0
    with tempfile.TemporaryDirectory() as tmp:
        blobs = FolderBlobStore(Path(tmp), durable=False)
        for pages in by_site.values():
            first = hashlib.sha256(pages[0]).hexdigest()
            blobs.put(first, pages[0])
            for page in pages[1:]:
                sha = hashlib.sha256(page).hexdigest()
                blobs.put(sha, page, [first])
                raw += len(page)
                alone += len(zstandard.ZstdCompressor(level=6).compress(page))
                referenced += blobs.stored_size(sha)
                pairs += 1
    print(
        f"\nreal same-site pages ({pairs} pages on {sum(len(p) > 1 for p in by_site.values())} "
        f"sites), bytes / raw: zstd -6 alone {alone / raw:.3f}, against the site's earlier page "
        f"{referenced / raw:.3f} ({referenced / alone:.2f}x)"
    )


def _parsed(parse: SourceParser, page: RawPage) -> Content | None:
    try:
        return parse(page, "bench")
    except Exception:  # the parser refusing a page is part of the workload
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--keep", type=Path, help="Build the archives here and keep them.")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-archive-"))
    parse = SourceParser()
    t = time.perf_counter()
    pages = make_pages(args.n, args.corpus)
    made = time.perf_counter() - t
    t = time.perf_counter()
    contents = [_parsed(parse, page) for page in pages]
    parse_rate = len(pages) / (time.perf_counter() - t)
    unparsed = sum(c is None for c in contents)
    print(
        f"{len(pages)} fetches of {args.n} articles built in {made:.1f}s; parse alone "
        f"{parse_rate:.0f} pages/s; {unparsed} not parsed",
        flush=True,
    )
    results = {}
    for codec in ("zstd", "gzip"):
        results[codec] = ingest(base / codec, codec, pages, contents)
        print(codec, json.dumps({k: round(v, 3) for k, v in results[codec].items()}), flush=True)
    p50, p99, find50 = lookups(
        base / "zstd", pages, {p.final_url for p, c in zip(pages, contents, strict=True) if c}
    )
    fetches = len(pages)
    # rebuild in a lean process, as the CLI does: drop the 2 GB of pages this script holds
    # (a 1-worker rebuild runs in this process, and its GC would walk them all)
    del pages, contents
    gc.collect()
    r1, changed1 = rebuild(base / "zstd", 1)
    r2, changed2 = rebuild(base / "zstd", 2)
    z, g = results["zstd"], results["gzip"]
    rows = [
        (
            "fetches stored (articles / versions)",
            f"{fetches} ({z['articles']:.0f} / {z['versions']:.0f})",
            "",
        ),
        (
            "ingest, parse + store (pages/s)",
            f"{1 / (1 / parse_rate + 1 / z['store_per_s']):.1f}",
            "",
        ),
        (
            "store alone, zstd (pages/s)",
            f"{z['store_per_s']:.1f}",
            f"gzip {g['store_per_s']:.1f} ({z['store_per_s'] / g['store_per_s']:.2f}x)",
        ),
        ("blobs / raw bytes", f"{z['blob_ratio']:.3f}", f"gzip {g['blob_ratio']:.3f}"),
        (
            "everything on disk / raw bytes",
            f"{z['disk_ratio']:.3f}",
            f"gzip {g['disk_ratio']:.3f} (target <= 0.25)",
        ),
        ("allocated blocks / raw bytes", f"{z['alloc_ratio']:.3f}", f"gzip {g['alloc_ratio']:.3f}"),
        ("rebuild, 1 worker (pages/s)", f"{r1:.1f}", f"changed {changed1}"),
        (
            "rebuild, 2 workers (pages/s)",
            f"{r2:.1f}",
            f"{r2 / r1:.2f}x (target >= 1.8x); changed {changed2}",
        ),
        ("catalog lookup by URL p50 / p99 (us)", f"{p50:.0f} / {p99:.0f}", ""),
        ("find(url) incl. record read, p50 (us)", f"{find50:.0f}", ""),
    ]
    print(f"\n| measure (N={args.n}) | value | compared |\n|---|---|---|")
    for name, value, note in rows:
        print(f"| {name} | {value} | {note} |")
    codec_table(args.corpus)
    if args.keep is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
