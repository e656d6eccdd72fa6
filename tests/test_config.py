"""config.yaml loading: defaults, every problem reported with its path, unknown keys rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from scraper.config import Config, load_config, parse_config, parse_duration
from scraper.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_config_loads_with_real_sources() -> None:
    config = load_config(ROOT / "config.yaml")
    assert len(config.sources) >= 2
    assert config.data_dir == ROOT / "morgue-data"
    assert "morgue/" in config.fetch.user_agent
    assert "http" in config.fetch.user_agent
    for source in config.sources:
        assert source.feeds or source.sitemaps or source.sections or source.home


def test_shipped_config_shows_every_default() -> None:
    """config.yaml documents each setting at its built-in default."""
    shipped = load_config(ROOT / "config.yaml")
    defaults = Config()
    assert shipped.fetch == defaults.fetch
    assert shipped.politeness == defaults.politeness


def test_no_file_means_defaults() -> None:
    assert load_config(None) == Config()


def test_every_problem_is_reported_with_its_path() -> None:
    raw = {
        "fetch": {"attempts": 0, "read_timeout": "soon"},
        "politeness": {"robots": "yes"},
        "sources": [
            {"name": "ok", "feeds": ["https://example.org/rss"]},
            {"name": "bad", "feeds": ["ftp://example.org/rss"], "allow": ["("], "shape": 1},
            {"feeds": ["https://example.org/rss"]},
            "just a string",
        ],
    }
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    problems = info.value.problems
    assert "sources[1].feeds[0]: not an http(s) URL: 'ftp://example.org/rss'" in problems
    expected = [
        "fetch.attempts:",
        "fetch.read_timeout:",
        "politeness.robots:",
        "sources[1].allow[0]: not a valid regular expression",
        "sources[1].shape: unknown key",
        "sources[2]: missing key: name",
        "sources[3]: expected a mapping",
    ]
    for start in expected:
        assert any(p.startswith(start) for p in problems), (start, problems)


def test_duplicate_source_names_rejected() -> None:
    source = {"name": "a", "home": "https://example.org/"}
    with pytest.raises(ConfigError, match="duplicate source name 'a'"):
        parse_config({"sources": [source, source]})


def test_user_agent_needs_contact() -> None:
    with pytest.raises(ConfigError, match="contact"):
        parse_config({"user_agent": "morgue/1.0"})


def test_source_overrides_and_hosts() -> None:
    config = parse_config(
        {
            "politeness": {"delay": "2s"},
            "sources": [
                {
                    "name": "mt",
                    "home": "https://www.themoscowtimes.com/",
                    "feeds": ["https://feeds.example.net/mt.xml"],
                    "politeness": {"delay": "5s"},
                    "schedule": {"cron": "*/15 * * * *"},
                    "rules": {"headline": "h1.title", "drop": [".ad", ".promo"]},
                }
            ],
        }
    )
    (source,) = config.sources
    assert source.politeness is not None
    assert source.politeness.delay == 5.0
    assert source.politeness.per_host == config.politeness.per_host
    assert source.hosts == ("themoscowtimes.com", "feeds.example.net")
    assert source.schedule.cron == "*/15 * * * *"
    assert source.rules is not None
    assert source.rules.drop == (".ad", ".promo")
    assert config.source_for_url("https://themoscowtimes.com/2012/05/09/a") is source
    assert config.source_for_url("https://other.example/") is None


def test_bad_cron_and_both_schedules() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            {
                "sources": [
                    {"name": "a", "home": "https://a.example/", "schedule": {"cron": "nope"}},
                    {
                        "name": "b",
                        "home": "https://b.example/",
                        "schedule": {"every": "1h", "cron": "0 * * * *"},
                    },
                ]
            }
        )
    assert any(p.startswith("sources[0].schedule.cron") for p in info.value.problems)
    assert any("either every or cron" in p for p in info.value.problems)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        (1.5, 1.5),
        ("500ms", 0.5),
        ("30s", 30.0),
        ("10m", 600.0),
        ("6h", 21600.0),
        ("2d", 172800.0),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "-1s", "1y", -3])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError, match=r"duration"):
        parse_duration(bad)


def test_missing_file_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")


def test_source_names_must_be_usable_as_folder_names() -> None:
    with pytest.raises(ConfigError, match=r"sources\[0\]\.name: 'Moscow Times'"):
        parse_config({"sources": [{"name": "Moscow Times", "home": "https://e.org/"}]})
    with pytest.raises(ConfigError, match=r"sources\[0\]\.name"):
        parse_config({"sources": [{"name": "../etc", "home": "https://e.org/"}]})
