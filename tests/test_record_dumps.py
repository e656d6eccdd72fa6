"""`archive.record.dumps` writes exactly the text `json.dumps(sort_keys, ensure_ascii=False,
indent=2)` writes: fetch ids hash that text, and records and goldens diff against it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from archive.record import dumps

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
