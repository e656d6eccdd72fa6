"""morgue's scraper: fetching, parsing, crawling and the command line."""

__version__ = "0.1.0"
