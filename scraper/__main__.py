"""`python -m scraper` is the `morgue` command."""

from scraper.cli import run

# guarded: a worker started from the forkserver imports the main module again (as __mp_main__)
if __name__ == "__main__":
    run()
