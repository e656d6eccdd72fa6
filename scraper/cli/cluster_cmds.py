"""Commands for scaling out: `morgue migrate --to OTHER_CONFIG` copies the archive to the
storage another config names (embedded to PostgreSQL + S3, and back).

Thin click commands over `archive.maintenance`; exit 0 when the target verifies clean with the
same counts, 1 when something could not be copied, 2 for a bad config.
"""

from __future__ import annotations

from pathlib import Path

import click

from archive.errors import ArchiveError
from archive.maintenance.migrate import migrate
from archive.store import Archive
from scraper.cli.support import AppContext
from scraper.config import load_config

EXIT_PROBLEMS = 1


@click.command("migrate")
@click.option(
    "--to",
    "to_config",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The config whose data_dir and storage: receive the copy.",
)
@click.pass_obj
def migrate_cmd(app: AppContext, to_config: Path) -> None:
    """Copy this archive (raw pages, fetch records, article records) into the storage another
    config names, then index it there and check it. Resumable: run it again after an
    interruption and it copies only what is missing.

    Example: morgue --config config.yaml migrate --to cluster.yaml
    """
    target_config = load_config(to_config)
    if (
        target_config.data_dir.resolve() == app.config.data_dir.resolve()
        and target_config.storage == app.config.storage
    ):
        raise click.UsageError("--to names the same archive as --config: nothing to copy")
    try:
        with (
            app.open_archive() as source,
            Archive.open(target_config.data_dir, storage=target_config.storage) as target,
        ):
            report = migrate(source, target, progress=lambda line: click.echo(line, err=True))
    except ArchiveError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        raise SystemExit(EXIT_PROBLEMS)


COMMANDS = (migrate_cmd,)
