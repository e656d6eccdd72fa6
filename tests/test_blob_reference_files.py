"""A crawl's worker compresses each page against its site's reference page. Crawling more
sites than the reference pages it keeps, it cycles through them: the page it needs next was
always the one evicted. It also keeps their files as stored (zstd, several times smaller), so a
reference is one decompression away instead of a read, a decompression and a sha256 check; the
pages it packs are the same bytes either way."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import pytest

from archive.backends import blobref
from archive.backends.blobs import FolderBlobStore


def _site_page(site: int, page: int) -> bytes:
    template = random.Random(site).randbytes(10_000).hex().encode()  # the site's own template
    story = random.Random(site * 1000 + page).randbytes(500).hex().encode()
    return template + story + template[:5_000]


def test_references_cycled_through_are_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sites = 12
    store = FolderBlobStore(tmp_path, durable=False)
    refs = []
    for site in range(sites):
        page = _site_page(site, 0)
        sha = hashlib.sha256(page).hexdigest()
        store.put(sha, page)
        refs.append(sha)
    # room for all the reference files, and for less than half of their pages
    budget = sum(store.stored_size(sha) for sha in refs) + 100
    assert budget < sites / 2 * len(_site_page(0, 0))
    packer = FolderBlobStore(tmp_path, durable=False, keep_references=budget)
    plain = FolderBlobStore(tmp_path, durable=False)
    reads: list[Any] = []
    real = FolderBlobStore._read

    def counted(self: FolderBlobStore, path: Path) -> bytes:
        if self is packer:
            reads.append(path)
        return real(self, path)

    monkeypatch.setattr(FolderBlobStore, "_read", counted)
    for round_ in range(1, 4):
        for site in range(sites):
            page = _site_page(site, round_)
            packed = packer.pack(page, [refs[site]])
            assert packed == plain.pack(page, [refs[site]])  # the same bytes as ever
            assert blobref.split(packed)[0] == refs[site]
        if round_ == 1:  # each reference read once
            assert sorted(p.name.split(".")[0] for p in reads) == sorted(refs)
        else:  # and never again, though less than half of the pages are kept
            assert reads == []
        reads.clear()
