"""`archive.record.dumps` writes exactly the text `json.dumps(sort_keys, ensure_ascii=False,
indent=2)` writes: fetch ids hash that text, and records and goldens diff against it. And
`archive.record.loads` reads any JSON text as `json.loads` reads it."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.record import dumps, loads

PAGES = Path(__file__).parent / "pages"


def _reference(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=2) + "\n"


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
_docs: st.SearchStrategy[Any] = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


@given(_docs)
def test_dumps_is_the_stdlib_text(doc: Any) -> None:
    assert dumps(doc) == _reference(doc)


def test_dumps_of_recorded_records_and_goldens() -> None:
    docs = [json.loads(p.read_text("utf-8")) for p in sorted(PAGES.rglob("*.json"))]
    assert docs
    for doc in docs:
        assert dumps(doc) == _reference(doc)


def test_dumps_of_odd_values_falls_back_to_the_stdlib() -> None:
    for doc in ({1: "int key"}, {"big": 2**70}, {"tiny": 1e-7, "nan": float("nan")}):
        assert dumps(doc) == _reference(doc)


@given(_docs)
def test_loads_reads_what_the_stdlib_reads(doc: Any) -> None:
    for text in (dumps(doc), json.dumps(doc)):
        # compared as text: NaN is not equal to itself
        assert _reference(loads(text.encode("utf-8"))) == _reference(json.loads(text))


def test_loads_of_what_orjson_refuses_falls_back_to_the_stdlib() -> None:
    assert loads(b'{"a": "\\ud800"}') == {"a": "\ud800"}  # an escaped lone surrogate
    assert math.isnan(loads(b'{"a": NaN}')["a"])
    assert loads(b'{"big": 1180591620717411303424}') == {"big": 2**70}
    for broken in (b'{"a": ', b"\xff\xfe", b""):
        with pytest.raises(ValueError, match=r"Expecting value|can't decode"):
            loads(broken)
