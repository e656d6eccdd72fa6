"""The `morgue` command line: `main` (parse args, load config, call the pipeline, exit code).

`main` holds the group and the one-URL commands (archive, show, parse); `crawl_cmds` the
crawler's, `archive_cmds` the archive's maintenance commands; `support` the shared context.
"""

from scraper.cli.main import main, run

__all__ = ["main", "run"]
