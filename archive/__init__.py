"""morgue's archive: raw pages, versioned article records, and the catalog that indexes them.

This package never imports `scraper`: parsing is handed in as a function where needed.
"""
