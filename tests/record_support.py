"""Helpers for tests about the record: the shipped JSON Schema and sample records."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def article_schema() -> dict[str, Any]:
    text = resources.files("archive").joinpath("schema/article.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
