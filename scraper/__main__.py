"""`python -m scraper` is the `morgue` command."""

from scraper.cli import run

run()
