"""Load and validate config.yaml into frozen dataclasses.

`load_config(path)` reads the file with `yaml.safe_load`, checks every key and value and raises
one `ConfigError` listing every problem with its path (`sources[1].feeds[0]: not an http(s)
URL`). Unknown keys are errors, so a typo never silently falls back to a default. Precedence:
built-in defaults < the file < environment (MORGUE_DATA) < command-line flags (applied by the
CLI with `dataclasses.replace`). Each stage gets its own sub-config, never the whole tree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from archive.backends.storage import Storage, storage_from
from scraper import __version__
from scraper.config.values import (
    Checker,
    as_bool,
    as_cron,
    as_http_url,
    as_network,
    as_number,
    as_positive_int,
    as_regex,
    as_source_name,
    as_text,
    join_path,
    parse_duration,
)
from scraper.errors import ConfigError

DEFAULT_USER_AGENT = f"morgue/{__version__} (+https://github.com/morgue-archive/morgue)"
RULE_FIELDS = (
    "headline",
    "subheadline",
    "authors",
    "published",
    "modified",
    "body",
    "captions",
    "credit",
    "lead_image",
    "section",
    "tags",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchConfig:
    user_agent: str = DEFAULT_USER_AGENT
    from_header: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    request_timeout: float = 30.0  # one attempt, wall clock, headers to last byte
    url_budget: float = 60.0  # one URL, all attempts and waits included
    attempts: int = 3
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    retry_after_max: float = 120.0  # a longer Retry-After parks the host instead
    max_body_bytes: int = 10_000_000
    max_decompressed_bytes: int = 50_000_000
    max_redirects: int = 10
    allow: tuple[str, ...] = ()  # CIDRs or host names exempt from the private-address rule


@dataclass(frozen=True, slots=True, kw_only=True)
class PolitenessConfig:
    delay: float = 1.0  # seconds between requests to one host, end of one to start of next
    per_host: int = 1  # requests in flight per host
    concurrency: int = 16  # requests in flight in all
    robots: bool = True
    robots_ttl: float = 86400.0
    robots_error_wait: float = 3600.0  # robots.txt 5xx/unreachable: host disallowed this long
    adaptive: bool = True  # slow down on 429/503 and rising latency


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteRules:
    """Per-site parser overrides: CSS selectors (or XPath when starting with '/' or '(')."""

    headline: str | None = None
    subheadline: str | None = None
    authors: str | None = None
    published: str | None = None
    modified: str | None = None
    body: str | None = None
    captions: str | None = None
    credit: str | None = None
    lead_image: str | None = None
    section: str | None = None
    tags: str | None = None
    drop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Revisit:
    max_age: float = 2 * 86400.0  # re-check articles published less than this long ago
    every: float = 6 * 3600.0  # ... at most this often


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    every: float | None = 3600.0
    cron: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    name: str
    home: str | None = None
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()  # regexes an article URL must match (any)
    deny: tuple[str, ...] = ()  # regexes that exclude a URL
    max_depth: int = 2
    max_pages: int = 100
    revisit: Revisit = field(default_factory=Revisit)
    schedule: Schedule = field(default_factory=Schedule)
    politeness: PolitenessConfig | None = None
    rules: SiteRules | None = None
    hosts: tuple[str, ...] = ()  # derived: hosts of home/feeds/sitemaps/sections

    @property
    def start_urls(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.feeds, *self.sitemaps, *self.sections)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    data_dir: Path = Path("./morgue-data")
    fetch: FetchConfig = field(default_factory=FetchConfig)
    politeness: PolitenessConfig = field(default_factory=PolitenessConfig)
    sources: tuple[Source, ...] = ()
    storage: Storage = field(default_factory=Storage)  # default: the data folder (embedded)
    path: Path | None = None  # the file it came from

    def source(self, name: str) -> Source | None:
        return next((s for s in self.sources if s.name == name), None)

    def source_for_url(self, url: str) -> Source | None:
        """The configured source whose hosts include the URL's host (www. ignored)."""
        host = _bare_host(url)
        return next((s for s in self.sources if host in s.hosts), None)


def _bare_host(url: str) -> str:
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:  # "http://[::1/": an unbalanced IPv6 bracket names no host
        return ""
    return host.removeprefix("www.")


def _fetch(c: Checker, raw: object, path: str = "fetch") -> dict[str, Any]:
    allowed = (
        "connect_timeout",
        "read_timeout",
        "request_timeout",
        "url_budget",
        "attempts",
        "backoff_base",
        "backoff_max",
        "retry_after_max",
        "max_body_bytes",
        "max_decompressed_bytes",
        "max_redirects",
    )
    section = c.mapping(path, raw, allowed)
    out: dict[str, Any] = {}
    for key in allowed:
        if key in ("attempts", "max_body_bytes", "max_decompressed_bytes"):
            convert: Callable[[Any], Any] = as_positive_int
        elif key == "max_redirects":
            convert = lambda v: int(as_number(v))  # noqa: E731
        else:
            convert = parse_duration
        value = c.get(section, path, key, convert)
        if value is not None:
            out[key] = value
    return out


def _politeness(c: Checker, raw: object, path: str) -> dict[str, Any]:
    allowed = (
        "delay",
        "per_host",
        "concurrency",
        "robots",
        "robots_ttl",
        "robots_error_wait",
        "adaptive",
    )
    section = c.mapping(path, raw, allowed)
    converters: dict[str, Callable[[Any], Any]] = {
        "delay": parse_duration,
        "per_host": as_positive_int,
        "concurrency": as_positive_int,
        "robots": as_bool,
        "robots_ttl": parse_duration,
        "robots_error_wait": parse_duration,
        "adaptive": as_bool,
    }
    out = {}
    for key, convert in converters.items():
        value = c.get(section, path, key, convert)
        if value is not None:
            out[key] = value
    return out


def _rules(c: Checker, raw: object, path: str) -> SiteRules:
    section = c.mapping(path, raw, (*RULE_FIELDS, "drop"))
    values: dict[str, Any] = {}
    for key in RULE_FIELDS:
        value = c.get(section, path, key, as_text)
        if value is not None:
            values[key] = value
    drop = c.items(section, path, "drop", as_text)
    if drop is not None:
        values["drop"] = drop
    return SiteRules(**values)


def _schedule(c: Checker, raw: object, path: str) -> Schedule:
    if isinstance(raw, str | int | float) and not isinstance(raw, bool):
        every = c.get({"schedule": raw}, "", path, parse_duration)
        return Schedule(every=every) if every else Schedule()
    section = c.mapping(path, raw, ("every", "cron"))
    every = c.get(section, path, "every", parse_duration)
    cron = c.get(section, path, "cron", as_cron)
    if every is not None and cron is not None:
        c.problem(path, "give either every or cron, not both")
    if cron is not None:
        return Schedule(every=None, cron=cron)
    return Schedule(every=every) if every else Schedule()


def _source(c: Checker, raw: object, path: str, base: PolitenessConfig) -> Source | None:
    allowed = (
        "name",
        "home",
        "feeds",
        "sitemaps",
        "sections",
        "allow",
        "deny",
        "max_depth",
        "max_pages",
        "revisit",
        "schedule",
        "politeness",
        "rules",
    )
    if not isinstance(raw, Mapping):
        c.problem(path, "expected a mapping with at least a name")
        return None
    section = c.mapping(path, raw, allowed)
    name = c.get(section, path, "name", as_source_name)
    if "name" not in section:
        c.problem(path, "missing key: name")
    values: dict[str, Any] = {}
    home = c.get(section, path, "home", as_http_url)
    for key in ("feeds", "sitemaps", "sections"):
        urls = c.items(section, path, key, as_http_url)
        if urls is not None:
            values[key] = urls
    for key in ("allow", "deny"):
        patterns = c.items(section, path, key, as_regex)
        if patterns is not None:
            values[key] = patterns
    max_depth = c.get(section, path, "max_depth", lambda v: int(as_number(v)))
    if max_depth is not None:
        values["max_depth"] = max_depth
    max_pages = c.get(section, path, "max_pages", as_positive_int)
    if max_pages is not None:
        values["max_pages"] = max_pages
    if "revisit" in section:
        rv = c.mapping(join_path(path, "revisit"), section["revisit"], ("max_age", "every"))
        rv_values = {
            k: v
            for k in ("max_age", "every")
            if (v := c.get(rv, join_path(path, "revisit"), k, parse_duration)) is not None
        }
        values["revisit"] = Revisit(**rv_values)
    if "schedule" in section:
        values["schedule"] = _schedule(c, section["schedule"], join_path(path, "schedule"))
    if "politeness" in section:
        overrides = _politeness(c, section["politeness"], join_path(path, "politeness"))
        values["politeness"] = _replace(base, overrides)
    if "rules" in section:
        values["rules"] = _rules(c, section["rules"], join_path(path, "rules"))
    if home is not None:
        values["home"] = home
    start = [
        home or "",
        *values.get("feeds", ()),
        *values.get("sitemaps", ()),
        *values.get("sections", ()),
    ]
    if not any(start):
        c.problem(path, "give at least one of home, feeds, sitemaps or sections")
    hosts = tuple(dict.fromkeys(_bare_host(u) for u in start if u))
    if name is None:
        return None
    return Source(name=name, hosts=hosts, **values)


def _replace(obj: Any, changes: dict[str, Any]) -> Any:
    from dataclasses import replace

    return replace(obj, **changes)


TOP_KEYS = (
    "data_dir",
    "user_agent",
    "from",
    "fetch",
    "politeness",
    "network",
    "sources",
    "storage",
)


def _storage(c: Checker, raw: object) -> Storage:
    """`storage:` names a cluster's catalog and blob store (archive.backends.storage)."""
    section = c.mapping("storage", raw, ("catalog", "blobs", "s3"))
    c.mapping("storage.s3", section.get("s3"), ("endpoint_url", "region"))
    try:
        return storage_from(section)
    except ValueError as exc:
        c.problem("storage", str(exc))
        return Storage()


def parse_config(raw: object, *, path: Path | None = None) -> Config:
    """Validate an already-loaded YAML document. Raises ConfigError listing every problem."""
    c = Checker()
    top = c.mapping("", raw, TOP_KEYS)
    fetch_values = _fetch(c, top.get("fetch"))
    user_agent = c.get(top, "", "user_agent", as_text)
    if user_agent is not None:
        if not re.search(r"https?://|@", user_agent):
            c.problem("user_agent", "must include a contact URL or e-mail address")
        fetch_values["user_agent"] = user_agent
    from_header = c.get(top, "", "from", as_text)
    if from_header is not None:
        fetch_values["from_header"] = from_header
    network = c.mapping("network", top.get("network"), ("allow",))
    allow = c.items(network, "network", "allow", as_network)
    if allow is not None:
        fetch_values["allow"] = allow
    politeness = PolitenessConfig(**_politeness(c, top.get("politeness"), "politeness"))
    sources: list[Source] = []
    raw_sources = top.get("sources") or []
    if not isinstance(raw_sources, list):
        c.problem("sources", "expected a list of sources")
        raw_sources = []
    for i, item in enumerate(raw_sources):
        source = _source(c, item, f"sources[{i}]", politeness)
        if source is not None:
            sources.append(source)
    names = [s.name for s in sources]
    for name in sorted({n for n in names if names.count(n) > 1}):
        c.problem("sources", f"duplicate source name {name!r}")
    data_dir = c.get(top, "", "data_dir", as_text)
    storage = _storage(c, top.get("storage"))
    if c.problems:
        raise ConfigError(c.problems)
    base = path.parent if path is not None else Path()
    return Config(
        data_dir=(base / data_dir) if data_dir else Path("./morgue-data"),
        fetch=FetchConfig(**fetch_values),
        politeness=politeness,
        sources=tuple(sources),
        storage=storage,
        path=path,
    )


def load_config(path: Path | str | None) -> Config:
    """Read and validate a config file; `None` gives the built-in defaults.

    A relative data_dir is taken relative to the config file's folder.
    """
    if path is None:
        return Config()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} not valid YAML") from None
    try:
        return parse_config(raw, path=path)
    except ConfigError as exc:
        raise ConfigError([f"{path}: {p}" for p in exc.problems]) from None
