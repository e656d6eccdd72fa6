"""Archive maintenance commands: rebuild, verify, export, import, stats.

Thin click commands over `archive.Archive`; each gets an `AppContext` in `ctx.obj` (the lead's
`scraper.cli` registers them). The parser is handed to the archive as `SourceParser`, a
picklable callable that applies each configured source's rules, so rebuild can run it in
worker processes. Exit codes: 0 ok, 1 problems found (verify) or some pages failed, 2 usage.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO

import click

from archive.errors import ArchiveError
from archive.maintenance.bag_export import export_bag
from archive.maintenance.bag_import import import_bag, is_bag
from archive.maintenance.export import FORMATS, export_csv, export_jsonl, export_md, export_warc
from archive.maintenance.rebuild import rebuild
from archive.maintenance.stats import stats
from archive.maintenance.verify import verify
from archive.maintenance.warc_import import import_warc
from archive.record import Content, RawPage, since_text
from scraper import __version__
from scraper.cli.support import AppContext
from scraper.config import Config, SiteRules

EXIT_PROBLEMS = 1


@dataclass(frozen=True)
class SourceParser:
    """`(RawPage, source) -> Content` with each source's configured rules (picklable)."""

    rules: tuple[tuple[str, SiteRules], ...] = ()

    @classmethod
    def of(cls, config: Config) -> SourceParser:
        return cls(tuple((s.name, s.rules) for s in config.sources if s.rules is not None))

    def __call__(self, page: RawPage, source: str) -> Content:
        from scraper.parse import parse_page  # imported in the worker process

        rules = dict(self.rules).get(source)
        return parse_page(page, rules=rules)


def _since(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        if len(value) == 10:
            return since_text(date.fromisoformat(value))
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"not a date: {value!r} (use YYYY-MM-DD)") from exc
    return since_text(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _fail(exc: ArchiveError) -> click.ClickException:
    return click.ClickException(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")


source_option = click.option("--source", metavar="NAME", help="Only this source.")
since_option = click.option(
    "--since", metavar="DATE", help="Only pages fetched on or after DATE (YYYY-MM-DD)."
)


def _progress(label: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A rich progress bar on a terminal, nothing otherwise; (update, stop)."""
    if not sys.stderr.isatty():
        return (lambda done, total: None), (lambda: None)
    from rich.progress import Progress

    bar = Progress(transient=True)
    task = bar.add_task(label, total=None)
    bar.start()

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return update, bar.stop


@click.command("rebuild")
@source_option
@since_option
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes [all cores].")
@click.option("--article", metavar="ID", help="Only this article (e.g. one verify flagged).")
@click.option("--wait", is_flag=True, help="Cluster: follow the queued rebuild to its end.")
@click.pass_obj
def rebuild_cmd(
    app: AppContext,
    source: str | None,
    since: str | None,
    workers: int | None,
    article: str | None,
    wait: bool,
) -> None:
    """Re-parse every stored raw page with the current parser and rewrite changed records.

    \b
    Records are rewritten in place (atomically); running it twice changes nothing the second
    time. Prints how many records changed, field by field, and how many an older parser
    version had made. --article re-makes one article's records from its raw pages, also a
    record verify found changed since it was written.
    Example: morgue rebuild --source moscowtimes --since 2024-01-01 --workers 2

    With a cluster configuration it queues --workers shares (default 2) for `morgue worker`.
    """
    if app.config.storage.catalog is not None:
        from scraper.cli.cluster_cmds import enqueue

        shares = workers or 2
        jobs = [
            {"share": i, "shares": shares, "source": source, "since": _since(since)}
            for i in range(shares)
        ]
        raise SystemExit(enqueue(app, "rebuild_share", jobs, wait=wait))
    update, stop = _progress("rebuild")
    try:
        with app.open_archive() as archive:
            report = rebuild(
                archive,
                SourceParser.of(app.config),
                source=source,
                since=_since(since),
                workers=workers,
                progress=update,
                article=article,
            )
    except ArchiveError as exc:
        raise _fail(exc) from exc
    finally:
        stop()
    for line in report.lines():
        click.echo(line)
    if report.failed:
        raise SystemExit(EXIT_PROBLEMS)


@click.command("verify")
@click.option("--repair", is_flag=True, help="Re-index the catalog from the files first.")
@click.option(
    "--sample", type=click.IntRange(min=1), metavar="N", help="Check N files drawn at random."
)
@click.option("--since", metavar="DATE", help="Check the files written on or after DATE.")
@click.pass_obj
def verify_cmd(app: AppContext, repair: bool, sample: int | None, since: str | None) -> None:
    """Check every file against the sha256 recorded when it was written, every raw page's
    bytes against its name, every record against the schema, and the catalog.

    \b
    Names each file that changed, went missing or is unknown; exit 1 on any problem.
    --repair records the checksums of intact unknown files, rebuilds the catalog from the
    files (the files are the truth) and removes temp files left by interrupted writes, then
    checks again; a file that changed is never trusted (for a record, it says which
    `morgue rebuild --article ID` re-makes it). --sample and --since check a slice, for
    nightly audits of a large archive; `morgue stats` shows the last full run.
    Example: morgue verify --sample 10000
    """
    if repair and (sample or since):
        raise click.UsageError("--repair works on the whole archive: no --sample or --since")
    if sample and since:
        raise click.UsageError("give --sample or --since, not both")
    try:
        with app.open_archive() as archive:
            report = verify(archive, repair=repair, sample=sample, since=_since(since))
    except ArchiveError as exc:
        raise _fail(exc) from exc
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        raise SystemExit(EXIT_PROBLEMS)


@click.command("export")
@click.option("--format", "fmt", type=click.Choice((*FORMATS, "bagit")), required=True)
@source_option
@since_option
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Output file (a new folder for md and bagit); stdout for jsonl/csv when left out.",
)
@click.pass_obj
def export_cmd(
    app: AppContext, fmt: str, source: str | None, since: str | None, out: Path | None
) -> None:
    """Export records (jsonl, csv: every version), articles (md: one file each), raw
    fetches (warc: WARC 1.1 with revisit records for duplicates), or the archive's files
    (bagit: a BagIt bag, RFC 8493, with SHA-256 manifests; `morgue import DIR` restores it).

    Example: morgue export --format warc --source moscowtimes --out mt.warc.gz
    """
    bound = _since(since)
    try:
        with app.open_archive() as archive:
            if fmt == "bagit":
                if out is None:
                    raise click.UsageError("--format bagit needs --out FOLDER")
                bag = export_bag(
                    archive, out, tool=f"morgue {__version__}", source=source, since=bound
                )
                click.echo(f"exported {bag.files} files ({bag.bytes} bytes) to {out}", err=True)
                return
            if fmt == "md":
                if out is None:
                    raise click.UsageError("--format md needs --out FOLDER")
                count = export_md(archive, archive.iter_articles(source, bound), out)
            elif fmt == "warc":
                with _binary(out) as stream:
                    count = export_warc(archive, stream, source=source, since=bound)
            else:
                writer = export_jsonl if fmt == "jsonl" else export_csv
                with _text(out) as text:
                    count = writer(archive, archive.iter_versions(source, bound), text)
    except ArchiveError as exc:
        raise _fail(exc) from exc
    click.echo(f"exported {count} {'fetches' if fmt == 'warc' else 'records'}", err=True)


@contextlib.contextmanager
def _written(path: Path) -> Iterator[Path]:
    """A temp name beside `path`, renamed to it only when the export completed."""
    tmp = path.with_name(f".tmp-{path.name}")
    try:
        yield tmp
        tmp.replace(path)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from exc
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _text(path: Path | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        return
    with _written(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as stream:
        yield stream


@contextlib.contextmanager
def _binary(path: Path | None) -> Iterator[IO[bytes]]:
    if path is None:
        if sys.stdout.isatty():
            raise click.UsageError("--format warc writes binary: give --out FILE or redirect")
        yield sys.stdout.buffer
        return
    with _written(path) as tmp, tmp.open("wb") as stream:
        yield stream


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--source", default="import", show_default=True, help="Source name for pages.")
@click.option("--wait", is_flag=True, help="Cluster: follow the queued imports to their end.")
@click.pass_obj
def import_cmd(app: AppContext, files: tuple[Path, ...], source: str, wait: bool) -> None:
    """Ingest WARC files (wget --warc-file, browsertrix, CC-NEWS, morgue's own) as raw pages,
    parse them and store them with the usual deduplication; or restore a BagIt bag written
    by `morgue export --format bagit` (a folder: validated, then copied in as it is).

    Example: morgue import crawl-00001.warc.gz --source ccnews

    With a cluster configuration each WARC file becomes a job for `morgue worker` (give paths
    every worker can read, on a shared mount); bags are restored here.
    """
    bags = [path for path in files if is_bag(path)]
    warcs = [path for path in files if not is_bag(path)]
    queue_exit = 0
    if warcs and app.config.storage.catalog is not None:
        from scraper.cli.cluster_cmds import enqueue_import

        queue_exit = enqueue_import(app, warcs, source, wait=wait)
        warcs = []
    conflicts = 0
    try:
        with app.open_archive() as archive:
            for bag in bags:
                restored = import_bag(archive, bag)
                conflicts += len(restored.conflicts)
                for line in restored.lines():
                    click.echo(line)
            if warcs:
                counts = import_warc(archive, warcs, SourceParser.of(app.config), source=source)
                click.echo(
                    ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing imported"
                )
    except ArchiveError as exc:
        raise _fail(exc) from exc
    if conflicts or queue_exit:
        raise SystemExit(EXIT_PROBLEMS)


@click.command("stats")
@click.pass_obj
def stats_cmd(app: AppContext) -> None:
    """Articles, versions, raw pages, bytes on disk vs bytes fetched, duplicates avoided."""
    try:
        with app.open_archive() as archive:
            lines = stats(archive).lines()
            near = archive.near_duplicates()
    except ArchiveError as exc:
        raise _fail(exc) from exc
    for line in lines:
        click.echo(line)
    for a, b, dist in near[:20]:
        click.echo(f"possible duplicate: {a} ~ {b} ({dist} bits apart)")


COMMANDS = (rebuild_cmd, verify_cmd, export_cmd, import_cmd, stats_cmd)
