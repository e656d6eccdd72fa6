"""Reading ahead for a batch of stores on PostgreSQL: the dedup look-ups of every page at once.

A store asks the catalog a handful of questions before it writes (`archive.dedup.decide`: is
the canonical URL or a URL of the page known, which articles have this body or these raw
bytes, is the new id free, which articles are near it; `Archive._put_blob`: the site's
reference pages). One at a time, each is a round trip to the server, and in a worker whose
event loop and other threads want the interpreter too, each answer also waits for the GIL:
a batch of pages spent most of its time there. `ReadAhead.fill` asks all of them for a whole
batch in one round trip (the statements pipelined, each covering every page), after the
batch took its locks, and the catalog answers from it until the transaction ends.

An answer stays right while the batch holds it: the keys it was asked by (URL keys, canonical
keys, body digests, raw hashes) are locked by the batch (`PgCatalog.writing`), so no other
writer changes them, and each write of the batch itself drops the answers it could change
(`forget_*`), which are then asked of the database again. One write is put in rather than
dropped (a site's new reference page, `added_reference`): a savepoint rolled back clears
every answer (`PgCatalog.writing`), so it cannot leave a wrong one behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from archive.backends.catalog import ArticleRow
from archive.fingerprint import bands

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Wanted:
    """What the stores of a batch will ask (see `Archive.read_ahead`)."""

    canonical: Sequence[str] = ()  # canonical URL keys
    urls: Sequence[str] = ()  # URL keys a page was reached by
    digests: Sequence[str] = ()  # body digests
    raws: Sequence[str] = ()  # raw page sha256s
    ids: Sequence[str] = ()  # article ids a new article would take
    sites: Sequence[str] = ()  # sites whose reference pages are looked up
    references: int = 0  # how many references per site
    fingerprints: Sequence[int] = ()  # SimHashes whose near articles are looked up


class ReadAhead:
    """Answers read ahead for one transaction, by (question, key)."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, str], Any] = {}
        self._near_bands: dict[str, set[tuple[int, int]]] = {}
        self._references = 0

    def clear(self) -> None:
        self._answers.clear()
        self._near_bands.clear()
        self._references = 0

    def get(self, kind: str, key: str) -> tuple[bool, Any]:
        """(True, answer) when read ahead and not dropped since, else (False, None)."""
        answer = self._answers.get((kind, key), _MISSING)
        return (False, None) if answer is _MISSING else (True, answer)

    def references(self, site: str, limit: int) -> list[str] | None:
        if limit > self._references:
            return None
        found, answer = self.get("refs", site)
        return list(answer[:limit]) if found else None

    def fill(
        self,
        conn: psycopg.Connection[Any],
        wanted: Wanted,
        article_sql: str,
        near_sql: str,
        to_row: Callable[[Row], ArticleRow],
    ) -> None:
        """Ask every question of `wanted` in one round trip (pipelined statements)."""
        asked: list[tuple[psycopg.Cursor[Any], Callable[[list[Row]], None]]] = []

        def ask(sql: str, args: Sequence[Any], take: Callable[[list[Row]], None]) -> None:
            cursor = conn.cursor()
            cursor.execute(sql, args)
            asked.append((cursor, take))

        canonical, urls = sorted(set(wanted.canonical)), sorted(set(wanted.urls))
        ask(
            "SELECT key, article_id FROM archive_canonical WHERE key = ANY(%s)",
            (canonical,),
            self._keyed("canonical", canonical),
        )
        ask(
            "SELECT key, article_id FROM archive_urls WHERE key = ANY(%s) AND duplicate = 0",
            (urls,),
            self._keyed("url", urls),
        )
        for kind, column, values in (
            ("body", "body_digest", sorted(set(wanted.digests))),
            ("raw", "raw_sha256", sorted(set(wanted.raws))),
        ):
            # as `articles_with_body` / `_raw` each: the articles once, by first_seen, id.
            # The versions are found by the column's index first, then their articles by
            # id: a subquery correlated with each value was run for every (value, article)
            # pair, a scan of the whole archive per page
            ask(
                f"SELECT q.v, {article_sql} FROM (SELECT DISTINCT {column} AS v, article_id"
                f" FROM archive_versions WHERE {column} = ANY(%s)) AS q JOIN archive_articles a"
                " ON a.id = q.article_id ORDER BY q.v, a.first_seen, a.id",
                (values,),
                self._lists(kind, values, to_row),
            )
        # the new ids, and the articles the page's keys lead to (decide reads their heads)
        ids = sorted(set(wanted.ids))
        # one set of ids, then their rows by the primary key (ORed subqueries made the
        # database read every article)
        ask(
            f"SELECT a.id, {article_sql} FROM archive_articles a WHERE a.id IN (SELECT"
            " unnest(%s::text[]) UNION SELECT article_id FROM archive_canonical WHERE key ="
            " ANY(%s) UNION SELECT article_id FROM archive_urls WHERE key = ANY(%s) AND"
            " duplicate = 0)",
            (ids, canonical, urls),
            self._articles(ids, to_row),
        )
        if wanted.references > 0:
            sites = sorted(set(wanted.sites))
            self._references = wanted.references
            ask(
                "SELECT q.s, r.raw_sha256 FROM unnest(%s::text[]) AS q(s) CROSS JOIN LATERAL"
                " (SELECT raw_sha256, seq FROM archive_references WHERE site = q.s"
                " ORDER BY seq DESC LIMIT %s) r ORDER BY q.s, r.seq DESC",
                (sites, wanted.references),
                self._lists("refs", sites, lambda row: row[0]),
            )
        fingerprints = sorted(set(wanted.fingerprints))
        if fingerprints:
            # the near look-ups of every page in one statement, not one each: (page's index,
            # band, value) for each band of each fingerprint
            asks = [(i, b, v) for i, f in enumerate(fingerprints) for b, v in enumerate(bands(f))]
            ask(
                near_sql,
                ([a[0] for a in asks], [a[1] for a in asks], [a[2] for a in asks]),
                self._near(fingerprints),
            )
        for cursor, take in asked:
            take(cursor.fetchall())

    def _keyed(self, kind: str, keys: Iterable[str]) -> Callable[[list[Row]], None]:
        def take(rows: list[Row]) -> None:
            found = {str(r[0]): str(r[1]) for r in rows}
            for key in keys:
                self._answers[(kind, key)] = found.get(key)

        return take

    def _lists(
        self, kind: str, keys: Iterable[str], item: Callable[[Row], Any]
    ) -> Callable[[list[Row]], None]:
        def take(rows: list[Row]) -> None:
            by: dict[str, list[Any]] = {key: [] for key in keys}
            for row in rows:
                by[str(row[0])].append(item(row[1:]))
            for key, values in by.items():
                self._answers[(kind, key)] = values

        return take

    def _articles(
        self, ids: Iterable[str], to_row: Callable[[Row], ArticleRow]
    ) -> Callable[[list[Row]], None]:
        def take(rows: list[Row]) -> None:
            for article_id in ids:
                self._answers[("article", article_id)] = None
            for row in rows:
                self._answers[("article", str(row[0]))] = to_row(row[1:])

        return take

    def _near(self, fingerprints: list[int]) -> Callable[[list[Row]], None]:
        def take(rows: list[Row]) -> None:
            found: list[list[tuple[str, int]]] = [[] for _ in fingerprints]
            for row in rows:
                found[int(row[0])].append((str(row[1]), int(row[2])))
            for fingerprint, near in zip(fingerprints, found, strict=True):
                self._answers[("near", str(fingerprint))] = near
                self._near_bands[str(fingerprint)] = set(enumerate(bands(fingerprint)))

        return take

    def added_reference(self, site: str, sha: str) -> None:
        """`sha` became the site's newest reference page (`add_reference`): the site's list
        read ahead stays known, with it first (the next page of the site in the batch asked
        the database again, once per page). One already in it keeps its place (its row is
        kept, `ON CONFLICT DO NOTHING`)."""
        found, answer = self.get("refs", site)
        if found and sha not in answer:
            self._answers[("refs", site)] = [sha, *answer][: self._references]

    def forget(self, kind: str, key: str) -> None:
        self._answers.pop((kind, key), None)

    def forget_article(self, row: ArticleRow) -> None:
        """The article's head changed: its row, every list it is in, and the near look-ups
        its new SimHash bands could now answer."""
        self.forget("article", row.id)
        self.forget("body", row.body_digest)
        new_bands = set(enumerate(bands(row.simhash)))
        for (kind, key), answer in list(self._answers.items()):
            if kind in ("body", "raw"):
                stale = any(a.id == row.id for a in answer)
            else:
                stale = kind == "near" and bool(new_bands & self._near_bands.get(key, set()))
            if stale:
                del self._answers[(kind, key)]


_MISSING = object()
