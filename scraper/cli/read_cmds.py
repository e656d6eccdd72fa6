"""Reading commands: search, diff and serve, thin click commands over `archive.query`.

Exit codes: `search` 0 with hits, 1 with none, 2 for a malformed query or filter (one line
that says what is wrong); `diff` 1 when the article has one version only; `serve` 2 when asked
to listen beyond this machine without a token.
"""

from __future__ import annotations

import ipaddress
import json
import sys

import click

from archive.errors import ArchiveError, FilterError, NotFound, QueryError
from archive.query import ArchiveReader, Hit
from scraper.cli.support import AppContext

EXIT_NONE, EXIT_USAGE = 1, 2


def open_reader(app: AppContext) -> ArchiveReader:
    """The archive's reader, knowing the configured sources (a filter may name one that has
    nothing archived yet; any other name is a typo)."""
    return ArchiveReader.open(app.config.data_dir, sources=[s.name for s in app.config.sources])


def _reader(app: AppContext) -> ArchiveReader:
    try:
        return open_reader(app)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from exc


class _Usage(click.ClickException):
    exit_code = EXIT_USAGE


def _usage(message: str) -> click.ClickException:
    return _Usage(message)


def _bold(text: str) -> str:
    return f"\x1b[1m{text}\x1b[0m"


def _stars(text: str) -> str:
    return f"**{text}**"


def _line(hit: Hit, bold: bool) -> str:
    day = (hit.published or hit.fetched_at)[:10]
    mark = _bold if bold else _stars
    marked = hit.snippet.render(mark)
    headline = hit.headline_marked(200).render(mark)  # a match found in the headline only
    return f"{day}  {hit.source}  {headline}  [{hit.id}]\n    {marked}"


@click.command("search")
@click.argument("query")
@click.option("--source", metavar="NAME", help="Only this source.")
@click.option("--since", metavar="DATE", help="Published (else fetched) on or after DATE.")
@click.option("--until", metavar="DATE", help="Published (else fetched) on or before DATE.")
@click.option("--author", metavar="NAME", help="An author's name or part of it.")
@click.option("--section", metavar="NAME", help="Only this section.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per hit.")
@click.option(
    "--exact-count",
    is_flag=True,
    help="Count the matching articles (up to 10,000) even when that costs more than the"
    " search; else past 2,000 matching versions the count may be of versions or a lower bound.",
)
@click.pass_obj
def search_cmd(
    app: AppContext,
    query: str,
    source: str | None,
    since: str | None,
    until: str | None,
    author: str | None,
    section: str | None,
    limit: int,
    as_json: bool,
    exact_count: bool,
) -> None:
    """Full-text search over headlines, subheadlines, bodies, captions and authors.

    \b
    Phrases ("port strike"), prefixes (strik*), AND / OR / NOT, -word, ( ); case and
    diacritics do not matter ("Muller" finds "Müller"). Best matches first (bm25, the
    headline weighs most). Exit 0 with hits, 1 with none, 2 for a malformed query.

    \b
    Examples:
      morgue search '"port strike" -rumour' --since 2024-03-01
      morgue search 'strik* AND (dock OR harbour)' --source moscow-times --json
    """
    with _reader(app) as reader:
        try:
            results = reader.search(
                query,
                source=source,
                since=since,
                until=until,
                author=author,
                section=section,
                limit=limit,
                exact_count=exact_count,
            )
        except QueryError as exc:
            what = "bad filter" if isinstance(exc, FilterError) else "bad query"
            raise _usage(f"{what}: {exc}") from exc
        except ArchiveError as exc:
            raise click.ClickException(str(exc).splitlines()[0]) from exc
    bold = sys.stdout.isatty()
    for hit in results.hits:
        click.echo(json.dumps(hit.to_json(), ensure_ascii=False) if as_json else _line(hit, bold))
    if not as_json:
        click.echo(f"{results.count_text()}, {results.seconds * 1000:.0f} ms", err=True)
        if results.ranking_text():
            click.echo(f"ranked: {results.ranking_text()}", err=True)
    if not results.hits:
        raise SystemExit(EXIT_NONE)


@click.command("diff")
@click.argument("ref")
@click.option("--from", "from_", type=int, metavar="N", help="Older version [the one before --to].")
@click.option("--to", type=int, metavar="M", help="Newer version [the latest].")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_obj
def diff_cmd(app: AppContext, ref: str, from_: int | None, to: int | None, fmt: str) -> None:
    """Word diff between two versions of an article (by id or any URL it was seen at).

    \b
    On a terminal deletions are red and insertions green; elsewhere [-old-]{+new+} like
    `git diff --word-diff=plain`. Exit 1 when the article has one version only.

    \b
    Examples:
      morgue diff 3f2a9c0d1e4b5a69
      morgue diff https://example.org/news/story --from 1 --to 3 --format json
    """
    from archive.diff import render_plain

    with _reader(app) as reader:
        try:
            diff = reader.diff(ref, from_, to)
        except NotFound as exc:
            click.echo(f"error: {exc}", err=True)
            raise SystemExit(EXIT_NONE) from exc
    if fmt == "json":
        click.echo(json.dumps(diff.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(render_plain(diff, color=sys.stdout.isatty()), nl=False)


def check_bind(host: str, token: str | None) -> bool:
    """Listening beyond loopback needs a token: the app can fetch URLs and write. True when
    the address is this machine's loopback."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not token:
        raise _usage(f"refusing to listen on {host} without --token (anyone could write)")
    return loopback


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--token",
    envvar="MORGUE_TOKEN",
    help="Needed to archive (the form, POST /api/archive); required off loopback "
    "[env MORGUE_TOKEN].",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Server processes (default: one per core, at most 4).",
)
@click.pass_obj
def serve_cmd(
    app: AppContext, host: str, port: int, token: str | None, workers: int | None
) -> None:
    """Serve the archive over HTTP: search, articles, diffs, raw pages, sources, feeds, API.

    \b
    Binds 127.0.0.1 by default; any other address needs --token. With a token, writing
    (the /archive form, POST /api/archive) asks for it.

    \b
    Examples:
      morgue serve
      morgue serve --host 0.0.0.0 --port 8000 --token "$(openssl rand -hex 16)"
    """
    loopback = check_bind(host, token)
    from scraper.web import serving
    from scraper.web.app import create_app

    with _reader(app) as reader:
        indexed = reader.refresh()  # before the port opens: the first search is quick
    if indexed:
        click.echo(f"search index: {indexed} version(s) indexed", err=True)
    web = create_app(
        lambda: open_reader(app),
        app,
        token=token,
        loopback_only=loopback,
    )
    workers = workers or serving.default_workers()
    click.echo(
        f"serving {app.config.data_dir} on http://{host}:{port}/ ({workers} process(es))", err=True
    )
    serving.run(web, host, port, workers)


COMMANDS = (search_cmd, diff_cmd, serve_cmd)
