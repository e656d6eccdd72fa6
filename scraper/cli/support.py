"""What every CLI command gets in `ctx.obj`: the loaded config and factories for resources.

Commands never build a Fetcher or an Archive themselves; they ask the AppContext, so the
global `--config`/`--data` options (and MORGUE_CONFIG / MORGUE_DATA) apply everywhere and
tests can hand in a context of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from scraper.config import Config, PolitenessConfig

if TYPE_CHECKING:
    from archive.store import Archive
    from scraper.fetch import AsyncFetcher, Fetcher


@dataclass
class AppContext:
    config: Config
    verbose: int = 0
    # per-host politeness: a configured source's own overrides, else the global settings
    politeness_for: Callable[[str], PolitenessConfig] = field(init=False)

    def __post_init__(self) -> None:
        self.politeness_for = self._politeness_for

    def _politeness_for(self, host: str) -> PolitenessConfig:
        source = self.config.source_for_url(f"http://{host}/")
        if source is not None and source.politeness is not None:
            return source.politeness
        return self.config.politeness

    def open_archive(self) -> Archive:
        from archive.store import Archive

        return Archive.open(self.config.data_dir, storage=self.config.storage)

    def make_fetcher(self) -> Fetcher:
        from scraper.fetch import Fetcher

        return Fetcher(
            self.config.fetch, self.config.politeness, politeness_for=self.politeness_for
        )

    def make_async_fetcher(self) -> AsyncFetcher:
        from scraper.fetch import AsyncFetcher

        return AsyncFetcher(
            self.config.fetch, self.config.politeness, politeness_for=self.politeness_for
        )
