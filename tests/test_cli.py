"""End to end through the command line: archive from a real local server, show, parse, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from scraper.cli import main

DATA = Path(__file__).parent / "data" / "cli"
ARTICLE = DATA / "victory-day.html"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "data_dir: ./archive\n"
        "politeness: {delay: 0s}\n"
        "network: {allow: [127.0.0.1, localhost]}\n"
        "fetch: {attempts: 1}\n",
        encoding="utf-8",
    )
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def serve_article(httpserver: HTTPServer) -> str:
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    httpserver.expect_request("/2012/05/09/victory-day").respond_with_data(
        ARTICLE.read_bytes(), content_type="text/html; charset=utf-8", headers={"ETag": '"v1"'}
    )
    return httpserver.url_for("/2012/05/09/victory-day")


def test_archive_then_show_prints_the_founding_layout(
    httpserver: HTTPServer, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = serve_article(httpserver)
    code, out, err = run(capsys, "--config", str(config_file), "archive", url)
    assert code == 0, err
    assert out.startswith("new ")
    stored = list((config_file.parent / "archive").rglob("*"))
    assert any(p.name.endswith(".json") and "articles" in p.parts for p in stored)
    assert any("raw" in p.parts for p in stored if p.is_file())

    code, out, err = run(capsys, "--config", str(config_file), "show", url)
    assert code == 0, err
    lines = out.split("\n")
    assert lines[:6] == [
        "Victory Day Parade Rolls Through Red Square",
        "",
        "May 09, 2012",
        "",
        "Soldiers marching across Red Square during the parade on Wednesday. **Denis Grishkin**",
        "",
    ]
    assert lines[6].startswith("Thousands of soldiers marched across Red Square")
    assert "Read more" not in out
    assert "All rights reserved" not in out
    # the URL shown is the article's canonical one (the page's rel=canonical, made absolute)
    canonical = url.replace(
        "/2012/05/09/victory-day", "/news/victory-day-parade-rolls-through-red-square-14741"
    )
    assert out.rstrip("\n").split("\n")[-3:] == ["Original url:", "", f"<{canonical}>"]


def test_archive_json_record_validates_and_show_finds_it_by_id(
    httpserver: HTTPServer, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import jsonschema

    from tests.record_support import article_schema

    url = serve_article(httpserver)
    code, out, err = run(capsys, "--config", str(config_file), "archive", "--json", url)
    assert code == 0, err
    record = json.loads(out)
    jsonschema.validate(record, article_schema())
    assert record["published"] == "2012-05-09T18:05:00+04:00"
    assert record["http"]["etag"] == '"v1"'
    code, out, _ = run(
        capsys, "--config", str(config_file), "show", record["id"], "--format", "json"
    )
    assert code == 0
    assert json.loads(out)["id"] == record["id"]


def test_second_archive_is_conditional_and_unchanged(
    httpserver: HTTPServer, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = serve_article(httpserver)
    assert run(capsys, "--config", str(config_file), "archive", url)[0] == 0
    code, out, err = run(capsys, "--config", str(config_file), "archive", url)
    assert code == 0, err
    assert out.startswith("unchanged")
    article_hits = [r for r, _ in httpserver.log if r.path.endswith("victory-day")]
    assert article_hits[-1].headers.get("If-None-Match") == '"v1"'


def test_archive_failure_is_one_line_and_exit_1(
    httpserver: HTTPServer, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = serve_article(httpserver)
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    code, out, err = run(
        capsys, "--config", str(config_file), "archive", good, httpserver.url_for("/gone")
    )
    assert code == 1
    assert out.startswith("new ")
    assert len(err.strip().splitlines()) == 1
    assert "404" in err
    assert "Traceback" not in err


def test_private_address_refused_by_default(
    httpserver: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = serve_article(httpserver)
    code, _, err = run(
        capsys, "--data", str(tmp_path / "a"), "--config", "/dev/null", "archive", url
    )
    assert code == 1
    assert "refused" in err.lower()
    assert not [r for r, _ in httpserver.log if r.path.endswith("victory-day")]


def test_show_unknown_is_exit_1(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--config", str(config_file), "show", "https://example.org/nothing")
    assert code == 1
    assert "not in the archive" in err


def test_parse_prints_one_record_per_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "--config", "/dev/null", "parse", str(ARTICLE), "--url", "https://example.org/a"
    )
    assert code == 0, err
    (line,) = out.splitlines()
    record = json.loads(line)
    assert record["headline"] == "Victory Day Parade Rolls Through Red Square"
    assert record["captions"][0]["credit"] == "Denis Grishkin"


def test_parse_batch_speaks_the_scorer_protocol(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    request = {"id": "page-1", "html_path": str(ARTICLE), "url": "https://example.org/a"}
    missing = {"id": "page-2", "html_path": "/nonexistent.html", "url": None}
    monkeypatch.setattr(
        "sys.stdin", io.StringIO(json.dumps(request) + "\n" + json.dumps(missing) + "\n")
    )
    code, out, _ = run(capsys, "--config", "/dev/null", "parse", "--batch")
    assert code == 0
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["id"] == "page-1"
    assert first["headline"] == "Victory Day Parade Rolls Through Red Square"
    assert first["published"].startswith("2012-05-09")
    assert "Thousands of soldiers" in first["body"][0]["text"]
    assert first["article_id"] != "page-1"
    assert second["id"] == "page-2"
    assert "error" in second


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.startswith("morgue, version ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "sources:\n  - name: a\n    feeds: [ftp://x]\n",
            "sources[0].feeds[0]: not an http(s) URL",
        ),
        ("fetch: {attempts: 0}\n", "fetch.attempts"),
        ("colour: blue\n", "colour: unknown key"),
        ("sources: [\n", "not valid YAML"),
    ],
)
def test_config_errors_exit_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    code, _, err = run(capsys, "--config", str(path), "show", "x")
    assert code == 2
    assert expected in err
    assert "Traceback" not in err


def test_usage_error_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(capsys, "--config", "/dev/null", "archive")
    assert code == 2


def test_env_vars_select_config_and_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "env.yaml"
    bad.write_text("nonsense_key: 1\n", encoding="utf-8")
    monkeypatch.setenv("MORGUE_CONFIG", str(bad))
    code, _, err = run(capsys, "show", "x")
    assert code == 2
    assert "nonsense_key" in err


def test_archive_a_recorded_real_page_and_show_it(
    httpserver: HTTPServer, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real page (Al Jazeera, from the Zyte benchmark set) served as recorded: `show` gives
    the layout built from the same extraction the parser's golden file holds."""
    pages = Path(__file__).parent / "pages" / "corpus"
    golden = json.loads((pages / "zyte-7916ecca969ffdd8.expected.json").read_text("utf-8"))
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/news/2019/11/crash.html").respond_with_data(
        (pages / "zyte-7916ecca969ffdd8.html").read_bytes(),
        content_type="text/html; charset=utf-8",
    )
    url = httpserver.url_for("/news/2019/11/crash.html")
    code, _, err = run(capsys, "--config", str(config_file), "archive", url)
    assert code == 0, err
    code, out, err = run(capsys, "--config", str(config_file), "show", url)
    assert code == 0, err
    caption = golden["captions"][0]
    expected_start = [
        golden["headline"],
        "",
        "November 20, 2019",
        "",
        f"{caption['text']} **{caption['credit']}**",
    ]
    assert out.split("\n")[:5] == expected_start
    for block in golden["body"]:
        assert f"\n{block['text']}\n" in out
