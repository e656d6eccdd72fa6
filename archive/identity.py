"""Article identity: which URL names a fetched page, and which id the archive gives it.

One module decides it for every path that files or shows a page (`Archive.store`, `rebuild`,
`import`, and the offline `morgue parse`), so they cannot drift apart:

- `canonical_of`: the page's rel=canonical / og:url when it is on the page's own site (a
  canonical pointing at another site is a syndication hint, not this publication's address),
  else its final URL; normalized.
- `page_keys`: that canonical plus every URL the page was reached by, with their `url_key`s.
- `new_id`: the first 16 hex digits of sha256(canonical key), longer only when a catalog
  already holds that prefix for another key.

Pure functions; `new_id` asks the catalog only whether a prefix is taken.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from archive.record import Content, RawPage
from archive.urls import normalize_url, same_site, url_key

ID_LENGTH = 16


@dataclass(frozen=True, slots=True)
class PageKeys:
    canonical_url: str
    canonical_key: str
    urls: tuple[str, ...]  # every URL the page was reached by, plus its canonical
    keys: tuple[str, ...]  # their url_keys, parallel to urls


def canonical_of(page: RawPage, content: Content) -> str:
    """The page's canonical URL when it is on the page's own site, else its final URL."""
    declared = content.canonical_url
    web = bool(declared) and str(declared).startswith(("http://", "https://"))
    if declared and web and same_site(declared, page.final_url):
        return normalize_url(declared)
    return normalize_url(page.final_url)


def page_keys(page: RawPage, content: Content) -> PageKeys:
    canonical = canonical_of(page, content)
    by_key: dict[str, str] = {}
    for url in (canonical, page.final_url, page.requested_url, *page.redirects):
        if url.startswith(("http://", "https://")):
            by_key.setdefault(url_key(url), url)
    return PageKeys(
        canonical_url=canonical,
        canonical_key=url_key(canonical),
        urls=tuple(by_key.values()),
        keys=tuple(by_key),
    )


# given a candidate id, the canonical key the catalog files under it (None: free)
KeyOfId = Callable[[str], str | None]


def new_id(canonical_key: str, key_of: KeyOfId | None = None) -> str:
    """First 16 hex of sha256(canonical key), longer only if that prefix is taken.

    Without `key_of` (no catalog: `morgue parse`) the id is the 16-digit prefix, which is what
    an archive gives the page too unless another key already took that prefix.
    """
    digest = hashlib.sha256(canonical_key.encode("utf-8")).hexdigest()
    if key_of is None:
        return digest[:ID_LENGTH]
    for length in range(ID_LENGTH, 65, 8):
        candidate = digest[:length]
        taken_by = key_of(candidate)
        if taken_by is None or taken_by == canonical_key:
            return candidate
    raise AssertionError("sha256 prefix collision on every length")  # pragma: no cover
