"""morgue's archive: raw pages, versioned article records, and the catalog that indexes them.

This package never imports `scraper`: parsing is handed in as a function where needed.
Reading is one call away::

    import archive
    a = archive.open("morgue-data")
    for hit in a.search('"port strike"', source="moscow-times", since="2024-03-01").hits: ...

`open` imports the reading side only when called, so `import archive.record` stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archive.query import ArchiveReader

__all__ = ["open"]


def open(root: Path | str = "morgue-data") -> ArchiveReader:
    """Open an existing archive folder for reading: search, articles, get, versions, diff, raw."""
    from archive.query import ArchiveReader

    return ArchiveReader.open(root)
