"""Maintenance over an Archive: rebuild, verify, export, WARC import and stats.

Each is a function the CLI calls with an open `archive.store.Archive`.
"""
