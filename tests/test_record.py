"""The Article record: JSON round trip, the shipped JSON Schema, schema versioning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.errors import SchemaError
from archive.record import (
    Article,
    Block,
    BlockKind,
    Caption,
    Content,
    RawPage,
    Validators,
    dumps,
    upgrade_record,
)
from archive.validate import RecordValidator
from tests.record_support import article_schema

text = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != "")
maybe = st.none() | text
day = st.dates().map(lambda d: d.isoformat())
moment = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
offset_moment = st.builds(
    lambda d, minutes: d.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)),
    st.integers(-12 * 60, 14 * 60).map(lambda m: m - m % 15),
)
page_date = st.none() | day | offset_moment

contents = st.builds(
    Content,
    headline=text,
    title=maybe,
    body=st.lists(st.builds(Block, text, st.sampled_from(BlockKind)), max_size=4).map(tuple),
    subheadline=maybe,
    authors=st.lists(text, max_size=3).map(tuple),
    published=page_date,
    modified=page_date,
    captions=st.lists(st.builds(Caption, st.text(max_size=20), maybe, maybe), max_size=3).map(
        tuple
    ),
    lead_image=maybe,
    language=maybe,
    site_name=maybe,
    section=maybe,
    tags=st.lists(text, max_size=3).map(tuple),
    parser=text,
    parser_version=text,
    provenance=st.dictionaries(st.sampled_from(["headline", "published", "body"]), text).map(
        lambda d: tuple(sorted(d.items()))
    ),
)


def page(url: str = "https://example.org/a", fetched_at: datetime | None = None) -> RawPage:
    return RawPage(
        requested_url=url,
        final_url=url,
        status=200,
        headers=(("Content-Type", "text/html"), ("ETag", '"x"')),
        body=b"<html></html>",
        fetched_at=fetched_at or datetime(2012, 5, 9, 14, 5, tzinfo=UTC),
    )


@settings(max_examples=60, deadline=None)
@given(content=contents, fetched=moment)
def test_round_trip_and_schema(content: Content, fetched: datetime) -> None:
    article = Article.build(
        page(fetched_at=fetched),
        content,
        id="0123456789abcdef",
        version=1,
        source="example",
        canonical_url="https://example.org/a",
    )
    data = article.to_json()
    jsonschema.validate(data, article_schema())
    again = Article.from_json(data)
    assert again == article
    assert dumps(again.to_json()) == dumps(data)


def test_schema_1_record_without_title_stays_valid_and_is_upgraded() -> None:
    """Records written before the metadata title existed (schema 1) validate against their
    own schema and read back as the current one, with an unknown (None) title."""
    content = Content(headline="H", title="H | Site", body=(Block("Text."),))
    data = Article.build(
        page(), content, id="0123456789abcdef", version=1, source="s", canonical_url="https://e/a"
    ).to_json()
    assert (data["schema"], data["title"]) == ("morgue.article/2", "H | Site")
    del data["title"]
    old = {**data, "schema": "morgue.article/1"}
    assert RecordValidator().problems(old) == []
    assert RecordValidator().problems(data) != []  # schema 2 requires the key
    upgraded = Article.from_json(old)
    assert upgraded.content.title is None
    assert upgraded.to_json()["schema"] == "morgue.article/2"
    assert upgrade_record(old) == {**data, "title": None}


def test_newer_schema_is_refused() -> None:
    with pytest.raises(SchemaError, match=r"morgue.article/3"):
        Article.from_json({"schema": "morgue.article/3"})
    assert RecordValidator().problems({"schema": "morgue.article/3"}) != []


def test_raw_page_meta_round_trip() -> None:
    raw = page()
    again = RawPage.from_meta_json(raw.meta_json(), raw.body)
    assert again == raw
    assert raw.header("etag") == '"x"'


def test_validators_headers() -> None:
    assert Validators(etag='"a"', last_modified="Wed, 09 May 2012 10:00:00 GMT").headers() == {
        "If-None-Match": '"a"',
        "If-Modified-Since": "Wed, 09 May 2012 10:00:00 GMT",
    }
    assert Validators().headers() == {}


def test_dumps_is_stable() -> None:
    assert dumps({"b": 1, "a": "é"}) == '{\n  "a": "é",\n  "b": 1\n}\n'
