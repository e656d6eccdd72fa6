"""Configuration: `load_config(path) -> Config` (frozen dataclasses), one readable ConfigError.

`load` reads and validates config.yaml into the model; `values` holds the checks and parsers
for single values (durations, URLs, regexes, networks, cron expressions).
"""

from scraper.config.load import (
    DEFAULT_USER_AGENT,
    RULE_FIELDS,
    TOP_KEYS,
    Config,
    FetchConfig,
    PolitenessConfig,
    Revisit,
    Schedule,
    SiteRules,
    Source,
    load_config,
    parse_config,
)
from scraper.config.values import parse_duration

__all__ = [
    "DEFAULT_USER_AGENT",
    "RULE_FIELDS",
    "TOP_KEYS",
    "Config",
    "FetchConfig",
    "PolitenessConfig",
    "Revisit",
    "Schedule",
    "SiteRules",
    "Source",
    "load_config",
    "parse_config",
    "parse_duration",
]
