"""The `morgue` command line: thin click commands over the pipeline, the parser and the archive.

Global options come before the command (`morgue --config my.yaml --data /srv/morgue archive
URL`). Exit codes: 0 ok, 1 some URL/source failed, 2 usage or config error. Data goes to
stdout, logs and one-line error reasons to stderr; no traceback reaches the user.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click

from archive.errors import ArchiveError
from archive.identity import new_id, page_keys
from archive.record import Article, RawPage, Stored
from scraper import __version__
from scraper.cli.support import AppContext
from scraper.config import load_config
from scraper.errors import ConfigError, NotAnArticle, ScraperError
from scraper.pipeline import archive_url, source_for

log = logging.getLogger("morgue")
EXIT_FAILED, EXIT_USAGE = 1, 2


def _setup_logging(verbose: int, quiet: bool) -> None:
    # default WARNING: a crawl's own report is the output; -v shows progress, -vv everything
    level = (
        logging.ERROR if quiet else [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    )
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    if verbose < 2:
        for noisy in ("httpx", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="MORGUE_CONFIG",
    help="Config file [env MORGUE_CONFIG; default ./config.yaml when present].",
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="MORGUE_DATA",
    help="Archive folder, overriding data_dir [env MORGUE_DATA].",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.version_option(__version__, prog_name="morgue")
@click.pass_context
def cli(
    ctx: click.Context, config_path: Path | None, data_dir: Path | None, verbose: int, quiet: bool
) -> None:
    """morgue: archive news articles from the web, politely and permanently.

    \b
    Examples:
      morgue archive https://www.themoscowtimes.com/2012/05/09/some-article
      morgue show https://www.themoscowtimes.com/2012/05/09/some-article
      morgue --config my.yaml --data /srv/morgue crawl
    """
    _setup_logging(verbose, quiet)
    if config_path is None and Path("config.yaml").is_file():
        config_path = Path("config.yaml")
    config = load_config(config_path)
    if data_dir is not None:
        config = replace(config, data_dir=data_dir)
    ctx.obj = AppContext(config=config, verbose=verbose)


def _summary(url: str, stored: Stored) -> str:
    article = stored.article
    if article is None:
        return f"{stored.outcome.value:9} {url}"
    extra = f" (same as {stored.duplicate_of})" if stored.duplicate_of else ""
    return (
        f"{stored.outcome.value:9} {article.id} v{article.version} "
        f"{article.content.headline[:70]!r} {url}{extra}"
    )


@cli.command("archive")
@click.argument("urls", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the stored records as JSON lines.")
@click.pass_obj
def archive_cmd(app: AppContext, urls: tuple[str, ...], as_json: bool) -> None:
    """Fetch, parse and store each URL, politely (robots.txt, pacing, conditional GET).

    \b
    Prints one summary line per URL: new, updated, unchanged or duplicate.
    Exit 0 when all were archived, 1 when some failed (reason on stderr).

    \b
    Examples:
      morgue archive https://example.org/news/2024/05/09/story
      morgue --data /srv/morgue archive --json URL1 URL2
    """
    failed = 0
    with app.make_fetcher() as fetcher, app.open_archive() as archive:
        for url in urls:
            try:
                stored = archive_url(url, fetcher=fetcher, archive=archive, config=app.config)
            except (ScraperError, ArchiveError) as exc:
                failed += 1
                click.echo(f"failed    {url}: {_reason(exc)}", err=True)
                continue
            if as_json and stored.article is not None:
                click.echo(json.dumps(stored.article.to_json(), ensure_ascii=False, sort_keys=True))
            else:
                click.echo(_summary(url, stored))
    if failed:
        raise SystemExit(EXIT_FAILED)


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _page_from_file(path: Path, url: str | None) -> RawPage:
    body = path.read_bytes()
    return RawPage(
        requested_url=url or path.resolve().as_uri(),
        final_url=url or path.resolve().as_uri(),
        status=200,
        headers=(("content-type", "text/html"),),
        body=body,
        fetched_at=datetime.fromtimestamp(path.stat().st_mtime, UTC),
    )


def _offline_record(app: AppContext, page: RawPage) -> tuple[Article, NotAnArticle | None]:
    """The page's record, and the refusal when the page is not an article but its main text
    was found (the record then holds that text; it is never stored). Raises otherwise."""
    from scraper.parse import parse_page

    source, rules = source_for(app.config, page.final_url)
    refusal: NotAnArticle | None = None
    try:
        content = parse_page(page, rules=rules)
    except NotAnArticle as exc:
        if exc.content is None:
            raise
        content, refusal = exc.content, exc
    # the same identity as the archive's (no catalog: the id an empty archive would give)
    keys = page_keys(page, content)
    article = Article.build(
        page,
        content,
        id=new_id(keys.canonical_key),
        version=1,
        source=source,
        canonical_url=keys.canonical_url,
    )
    return article, refusal


def _flagged(record: dict[str, Any], refusal: NotAnArticle | None) -> dict[str, Any]:
    """`article`: whether the parser takes the page for an article; when not, `not_article`
    says why, and the record holds the page's main text (what the crawl would not store)."""
    if refusal is None:
        return {**record, "article": True}
    return {**record, "article": False, "not_article": _reason(refusal)}


def _batch_requests(stream: TextIO) -> Iterator[dict[str, Any] | str]:
    """Each request line as a JSON object, or the reason it is not one."""
    for line in stream:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError as exc:
            yield f"not JSON: {exc}"
            continue
        yield request if isinstance(request, dict) else "not a JSON object"


@cli.command("parse")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--url", help="The page's original URL (for relative links and the record).")
@click.option(
    "--batch",
    is_flag=True,
    help='Read JSON lines {"id", "html_path", "url"} on stdin, answer one line per page '
    '(the protocol of the corpus scorer): the record with "article", or {"id", "error"}.',
)
@click.pass_obj
def parse_cmd(app: AppContext, files: tuple[Path, ...], url: str | None, batch: bool) -> None:
    """Parse local HTML files without network or storage; print one record JSON per line.

    Each record says "article": true or false. A page that is not an article (a forum
    thread, a shop, recipe or front page: the crawl keeps these raw-only) still gives the
    main text found on it, with "article": false, "not_article" (the reason) and only the
    dates the page states (structured data, a dated byline); stderr says so in one line and
    it is not a failure. A page with nothing readable fails: a line on stderr (in --batch an
    {"id", "error"} answer), exit status 1.

    \b
    Examples:
      morgue parse saved.html --url https://example.org/news/story
      morgue parse --batch < requests.jsonl
    """
    if batch:
        _parse_batch(app, sys.stdin)
        return
    if not files:
        raise click.UsageError("give at least one FILE, or --batch")
    failed = 0
    for path in files:
        try:
            article, refusal = _offline_record(app, _page_from_file(path, url))
        except (ScraperError, OSError) as exc:
            failed += 1
            click.echo(f"failed    {path}: {_reason(exc)}", err=True)
            continue
        if refusal is not None:
            click.echo(f"not an article  {path}: {refusal.reason}; its main text printed", err=True)
        record = _flagged(article.to_json(), refusal)
        click.echo(json.dumps(record, ensure_ascii=False, sort_keys=True))
    if failed:
        raise SystemExit(EXIT_FAILED)


def _parse_batch(app: AppContext, stream: TextIO) -> None:
    for request in _batch_requests(stream):
        if isinstance(request, str):  # a bad line gets its answer; the batch goes on
            click.echo(json.dumps({"id": None, "error": f"bad request line: {request}"}))
            continue
        answer: dict[str, Any] = {"id": request.get("id")}
        try:
            page = _page_from_file(Path(str(request["html_path"])), request.get("url"))
            article, refusal = _offline_record(app, page)
            # the record itself, its own id kept as article_id: the scorer reads its body
            # blocks and caption objects as they are. A page that is not an article answers
            # with its main text and "article": false, not "error": an error is a page with
            # no answer, and a scorer reads the body it is given.
            record = _flagged(article.to_json(), refusal)
            answer = {**record, "article_id": article.id, "id": request.get("id")}
        except (ScraperError, OSError, KeyError) as exc:
            answer["error"] = _reason(exc)
        click.echo(json.dumps(answer, ensure_ascii=False))
        sys.stdout.flush()


@cli.command("show")
@click.argument("ref")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html"]),
    default="text",
    show_default=True,
)
@click.option("--version", "version", type=int, help="A particular version (default: latest).")
@click.pass_obj
def show_cmd(app: AppContext, ref: str, fmt: str, version: int | None) -> None:
    """Print a stored article, found by any URL it was seen at or by its id.

    \b
    Examples:
      morgue show https://www.themoscowtimes.com/2012/05/09/story
      morgue show 3f2a9c0d1e4b5a69 --format json
    """
    from archive.render import render_html, render_text

    with app.open_archive() as archive:
        article = archive.find(ref)
        if article is not None and version is not None:
            article = next((a for a in archive.versions(article.id) if a.version == version), None)
        doc = archive.describe(article) if article is not None else None
    if article is None or doc is None:
        raise click.ClickException(f"not in the archive: {ref}")
    if fmt == "json":
        click.echo(json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=2))
    elif fmt == "html":
        click.echo(render_html(article), nl=False)
    else:
        click.echo(render_text(article, copies=doc["copies"]), nl=False)


def _register() -> None:
    from scraper.cli.archive_cmds import export_cmd, import_cmd, rebuild_cmd, stats_cmd, verify_cmd
    from scraper.cli.cluster_cmds import COMMANDS as CLUSTER_COMMANDS
    from scraper.cli.crawl_cmds import crawl_cmd, schedule_cmd
    from scraper.cli.read_cmds import COMMANDS as READ_COMMANDS

    for command in (
        crawl_cmd,
        schedule_cmd,
        rebuild_cmd,
        verify_cmd,
        export_cmd,
        import_cmd,
        stats_cmd,
        *READ_COMMANDS,
        *CLUSTER_COMMANDS,
    ):
        cli.add_command(command)


_register()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code instead of exiting (tests call this)."""
    try:
        code = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="morgue",
            standalone_mode=False,
        )
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(f"config error: {problem}", err=True)
        return EXIT_USAGE
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_FAILED
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (ScraperError, ArchiveError) as exc:
        click.echo(f"error: {_reason(exc)}", err=True)
        return EXIT_FAILED
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    return code if isinstance(code, int) else 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
