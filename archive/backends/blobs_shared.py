"""The blob store in a shared folder (an NFS or EFS mount that every worker of a cluster sees).

It is the folder store (`blobs.FolderBlobStore`) rooted at the mount instead of the data folder,
because that store's writes are already safe for many writers on many machines: a blob is named
by its sha256 and never changes, each file is written to a temp name unique to its writer (pid
plus random bytes) and renamed into place, which is atomic on NFS too, and two workers racing
to store the same page write the same bytes. What this class adds is its own name in `opener`,
so worker processes reopen the shared store and not a folder of their own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from archive.backends.blobs import FolderBlobStore

if TYPE_CHECKING:
    from archive.backends.blobs import BlobStore


class SharedFolderBlobStore(FolderBlobStore):
    """Raw pages under `<mount>/raw/`, shared by every worker (storage.blobs: file:///mount)."""

    def opener(self) -> Callable[[], BlobStore]:
        return functools.partial(
            SharedFolderBlobStore,
            self.layout.root,
            codec=self.codec,
            level=self.level,
            durable=self.durable,
        )
