"""Errors of the archive layer.

ArchiveError            anything the archive cannot do; carries a one-line reason
  SchemaError           a record or sidecar of a schema this morgue cannot read
  ArchiveBusy           another process holds the archive too long
  StorageError          the disk said no (full, read-only, permissions)
  QueryError            a search query or filter the reading side cannot understand
    FilterError         a filter (source, dates, limit) that makes no sense
  NotFound              no article, version or raw page by that reference
"""

from __future__ import annotations


class ArchiveError(Exception):
    """Base of the archive's errors; str() is a one-line reason."""


class SchemaError(ArchiveError):
    pass


class ArchiveBusy(ArchiveError):
    pass


class StorageError(ArchiveError):
    pass


class QueryError(ArchiveError):
    """str() says what is wrong in the user's terms (never an SQLite message)."""


class FilterError(QueryError):
    """A filter that makes no sense (an unknown source, a date that is none, since > until)."""


class NotFound(ArchiveError):
    pass
