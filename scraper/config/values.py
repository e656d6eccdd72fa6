"""Checking config values: one converter per kind of value, and a collector of problems.

Each `as_*` converter takes a raw YAML value and returns the typed one, or raises ValueError with
a short reason; `Checker` runs them and records every problem with its path
(`sources[1].feeds[0]: not an http(s) URL: 'ftp://x'`) instead of stopping at the first.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from archive.errors import ArchiveError
from archive.layout import check_source


class Checker:
    """Collects problems with their paths instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}" if path else message)

    def mapping(self, path: str, value: object, allowed: tuple[str, ...]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.problem(path, "expected a mapping")
            return {}
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key not in allowed:
                self.problem(
                    join_path(path, str(key)), f"unknown key (allowed: {', '.join(allowed)})"
                )
            else:
                out[key] = item
        return out

    def get(
        self, section: dict[str, Any], path: str, key: str, convert: Callable[[Any], Any]
    ) -> Any:
        """convert(value), or None when absent/invalid (the problem recorded)."""
        if key not in section:
            return None
        try:
            return convert(section[key])
        except (TypeError, ValueError) as exc:
            self.problem(join_path(path, key), str(exc))
            return None

    def items(
        self, section: dict[str, Any], path: str, key: str, convert: Callable[[Any], Any]
    ) -> tuple[Any, ...] | None:
        if key not in section:
            return None
        value = section[key]
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.problem(join_path(path, key), "expected a list")
            return None
        out = []
        for i, item in enumerate(value):
            try:
                out.append(convert(item))
            except (TypeError, ValueError) as exc:
                self.problem(f"{join_path(path, key)}[{i}]", str(exc))
        return tuple(out)


def join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def as_number(value: Any, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    if value < minimum:
        raise ValueError(f"must be >= {minimum:g}")
    return float(value)


def as_positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected a whole number >= 1, got {value!r}")
    return value


def as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def as_source_name(value: Any) -> str:
    name = as_text(value)
    try:
        check_source(name)
    except ArchiveError:
        raise ValueError(
            f"{name!r}: use 1-64 letters, digits, '_', '-' or '.' (it names a folder)"
        ) from None
    return name


def as_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value.strip()


def as_http_url(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not an http(s) URL: {value!r}")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {value!r}")
    return value.strip()


def as_regex(value: Any) -> str:
    text = as_text(value)
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc})") from None
    return text


def as_network(value: Any) -> str:
    text = as_text(value)
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        if not re.fullmatch(r"[A-Za-z0-9.-]+", text):
            raise ValueError(f"not a CIDR, address or host name: {text!r}") from None
    return text


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value: Any) -> float:
    """Seconds from `90`, `1.5`, `"500ms"`, `"30m"`, `"6h"`, `"2d"`."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise ValueError("a duration must be >= 0")
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration like 30s, 10m, 6h or 2d: {value!r}")
    return float(match.group(1)) * _UNIT[match.group(2) or "s"]


def as_cron(value: Any) -> str:
    text = as_text(value)
    from croniter import croniter

    if not croniter.is_valid(text):
        raise ValueError(f"not a valid cron expression: {text!r}")
    return text
