"""Checking records against the shipped JSON Schemas: the current one
(archive/schema/article.schema.json) and each older one a record may still carry
(article.v1.schema.json), chosen by the record's own `"schema"`.

Two validators of the current schema: `jsonschema` lists every problem with its path (verify,
the tests, error messages); `fastjsonschema` compiles the schema to Python code and answers yes
or no ~15x faster, for the store's hot path (`ok`). A record it refuses is then described by
`problems`, so both say the same thing; tests/test_validate.py checks that they agree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema

from archive.errors import SchemaError

SCHEMA_DIR = Path(__file__).parent / "schema"
SCHEMA_PATH = SCHEMA_DIR / "article.schema.json"
OLD_SCHEMA_PATHS = {"morgue.article/1": SCHEMA_DIR / "article.v1.schema.json"}


def _compile(path: Path) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(path.read_text("utf-8")))


class RecordValidator:
    """Compiled validators; build one per archive (compiling a schema costs milliseconds)."""

    def __init__(self, schema_path: Path = SCHEMA_PATH) -> None:
        schema = json.loads(schema_path.read_text("utf-8"))
        self._validator = jsonschema.Draft202012Validator(schema)
        self._fast = fastjsonschema.compile(schema)
        self._older = {name: _compile(path) for name, path in OLD_SCHEMA_PATHS.items()}

    def ok(self, doc: Any) -> bool:
        """Whether `doc` passes the current schema (fast; `problems` says why not)."""
        try:
            self._fast(doc)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    def problems(self, doc: Any) -> list[str]:
        """Every schema violation, one line each ("path: message"). A record in an older
        schema is checked against that schema."""
        validator = self._validator
        if isinstance(doc, dict) and str(doc.get("schema")) in self._older:
            validator = self._older[doc["schema"]]
        out = []
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
            where = "/".join(str(p) for p in error.path) or "(record)"
            out.append(f"{where}: {error.message.splitlines()[0][:200]}")
        return out

    def check(self, doc: Any) -> None:
        problems = self.problems(doc)
        if problems:
            extra = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            raise SchemaError(f"record fails the schema: {problems[0]}{extra}")
