"""`morgue search`, `morgue diff` and `morgue serve`'s refusal, through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scraper.cli import main
from tests.read_support import Stored, build, write_config


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Stored]:
    tmp = tmp_path_factory.mktemp("cli")
    stored = build(tmp / "data", hostile=False)
    return write_config(tmp, tmp / "data"), stored


def run(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_search_prints_one_hit_per_result(
    setup: tuple[Path, Stored], capsys: pytest.CaptureFixture[str]
) -> None:
    config, s = setup
    code, out, err = run(capsys, config, "search", "Muller")
    assert code == 0, err
    first, snippet = out.splitlines()[:2]
    assert first.startswith("2024-05-02  harbour-news  Council meets over budget")
    assert f"[{s.mueller}]" in first
    assert "**Müller**" in snippet  # not a terminal: marks as **...**
    assert "1 match" in err


def test_search_json_lines(setup: tuple[Path, Stored], capsys: pytest.CaptureFixture[str]) -> None:
    config, s = setup
    code, out, _ = run(
        capsys, config, "search", "strike OR council", "--json", "--since", "2024-01-01"
    )
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert {r["id"] for r in rows} == {s.strike, s.mueller}
    for row in rows:
        assert {
            "id",
            "version",
            "headline",
            "published",
            "source",
            "url",
            "snippet",
            "score",
        } <= set(row)


def test_search_filters_and_no_hits_exit_1(
    setup: tuple[Path, Stored], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = setup
    code, out, _ = run(capsys, config, "search", "strike", "--source", "weather")
    assert (code, out) == (1, "")
    code, out, _ = run(
        capsys, config, "search", "strike", "--author", "roe", "--section", "business"
    )
    assert code == 0
    assert "Port **strike** ends" in out


def test_a_phrase_in_the_headline_only_is_marked_there(
    setup: tuple[Path, Stored], capsys: pytest.CaptureFixture[str]
) -> None:
    """The snippet is cut from the text below the headline: the headline shows the match."""
    config, _s = setup
    code, out, _ = run(capsys, config, "search", '"strike ends"')
    assert code == 0
    first, snippet = out.splitlines()[:2]
    assert "Port **strike ends** after talks" in first
    assert "**" not in snippet  # (the phrase is nowhere else)
    code, out, _ = run(capsys, config, "search", '"strike ends"', "--json")
    row = json.loads(out)
    assert [row["headline"][a:b] for a, b in row["headline_marks"]] == ["strike ends"]


def test_a_source_of_the_config_with_nothing_archived_is_no_typo(
    tmp_path: Path, setup: tuple[Path, Stored], capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        setup[0].read_text(encoding="utf-8")
        + "sources:\n  - name: later-news\n    home: https://later.example/\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, config, "search", "strike", "--source", "later-news")
    assert (code, out) == (1, "")
    code, _, err = run(capsys, config, "search", "strike", "--source", "latter-news")
    assert code == 2
    assert "did you mean 'later-news'?" in err
    assert "harbour-news, later-news, weather" in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["search", '"port strike'], "quotation mark is not closed"),
        (["search", "port AND"], "ends with AND"),
        (["search", "port", "--since", "March"], "not a date"),
        (["search", "th*"], "a prefix needs at least 3 letters before '*'"),
        (["search", "port st*"], "a prefix needs at least 3 letters before '*'"),
        (
            ["search", "strike", "--source", "harbor-news"],
            "bad filter: no source named 'harbor-news': did you mean 'harbour-news'?"
            " the known sources are harbour-news, weather",
        ),
        (["search", "strike", "--source", "zzz"], "the known sources are harbour-news, weather"),
    ],
)
def test_malformed_query_is_one_line_exit_2(
    setup: tuple[Path, Stored], capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    code, out, err = run(capsys, setup[0], *argv)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert says in err
    assert "sqlite" not in err.lower()
    assert "Traceback" not in err


def test_diff_plain_markup(setup: tuple[Path, Stored], capsys: pytest.CaptureFixture[str]) -> None:
    config, s = setup
    code, out, err = run(capsys, config, "diff", s.strike)
    assert code == 0, err
    assert "headline: Port strike [-closes the harbour-]{+ends after talks+}" in out
    assert "[-A rumour of a deal went round by noon.-]" in out
    assert "called [-it-]{+the strike+} unlawful" in out


def test_diff_json_by_url_and_versions(
    setup: tuple[Path, Stored], capsys: pytest.CaptureFixture[str]
) -> None:
    config, s = setup
    url = "http://news.example/2024/03/04/port-strike"
    code, out, _ = run(capsys, config, "diff", url, "--from", "1", "--to", "2", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert (data["id"], data["from"], data["to"]) == (s.strike, 1, 2)
    headline = next(f for f in data["fields"] if f["field"] == "headline")
    assert {"op": "insert", "text": "ends after talks"} in headline["ops"]


def test_diff_of_a_single_version_exits_1(
    setup: tuple[Path, Stored], capsys: pytest.CaptureFixture[str]
) -> None:
    config, s = setup
    code, out, err = run(capsys, config, "diff", s.weather)
    assert code == 1
    assert out == ""
    assert "one version" in err
    code, _, err = run(capsys, config, "diff", s.strike, "--to", "7")
    assert code == 1
    assert "no version 7" in err


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::"])
def test_serve_refuses_other_addresses_without_a_token(
    setup: tuple[Path, Stored], capsys: pytest.CaptureFixture[str], host: str
) -> None:
    code, _, err = run(capsys, setup[0], "serve", "--host", host)
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "--token" in err


def test_search_without_an_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, tmp_path / "none")
    code, _, err = run(capsys, config, "search", "x")
    assert code == 1
    assert "no archive" in err


def _on_a_terminal(config: Path, *argv: str) -> str:
    """What `morgue ARGV` prints when its output is a terminal (a pseudo-terminal here)."""
    import os
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "scraper", "--config", str(config), *argv],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(60)
    os.close(leader)
    return b"".join(chunks).decode()


def test_on_a_terminal_diff_is_red_and_green_and_matches_bold(setup: tuple[Path, Stored]) -> None:
    config, s = setup
    diff = _on_a_terminal(config, "diff", s.strike)
    # the deletion and the insertion a space apart: "closes the harbour ends after talks"
    assert "Port strike \x1b[31mcloses the harbour\x1b[0m \x1b[32mends after talks\x1b[0m" in diff
    assert "[-" not in diff
    search = _on_a_terminal(config, "search", "Muller")
    assert "\x1b[1mMüller\x1b[0m" in search
    assert "**" not in search
