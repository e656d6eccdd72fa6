"""The intents file against another process's sweep (archive.intents): a sweep that finds a
writer's new file before the writer locks it, or a file its writer is removing at a clean
close, must not leave the writer with notes nobody can read nor fail `Archive.open`.

flock locks belong to an open file description, so a second `os.open` in this process
contends with the first as another process would; each race is set up by running the other
side inside the first side's call to `fcntl.flock`.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable
from pathlib import Path

import pytest

from archive.intents import SUFFIX, Intents, sweep


def _before_first_flock(monkeypatch: pytest.MonkeyPatch, action: Callable[[], None]) -> list[int]:
    """Run `action` once, just before the first `flock` call that follows."""
    real = fcntl.flock
    calls: list[int] = []

    def flock(fd: int, op: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            action()
        real(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock)
    return calls


def test_a_sweep_between_create_and_lock_does_not_lose_the_notes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "archive"
    (root / "raw").mkdir(parents=True)
    swept: list[int] = []

    def other_process_sweeps() -> None:
        # the new file is empty and unlocked: the sweep takes it as a dead process's
        files = list((root / "journal").glob(f"*{SUFFIX}"))
        assert len(files) == 1
        swept.append(sweep(root, lambda rel: False))
        assert not files[0].exists()

    _before_first_flock(monkeypatch, other_process_sweeps)
    notes = Intents(root)
    target = root / "raw" / "a.bin"
    notes.note(target, b"page")
    target.write_bytes(b"page")
    assert swept == [0]
    # the notes are in a file at their path, locked: a sweep leaves them alone
    files = list((root / "journal").glob(f"*{SUFFIX}"))
    assert len(files) == 1
    assert files[0].read_bytes().startswith(b"raw/a.bin\t")
    monkeypatch.undo()
    assert sweep(root, lambda rel: False) == 0
    assert target.exists()
    # the store's transaction ended without recording the file: it goes (no error reading
    # the notes back, which a file removed under the writer gave)
    notes.settled(lambda rel: False)
    assert not target.exists()
    notes.close()


def test_a_sweep_racing_a_clean_close_skips_the_removed_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "archive"
    (root / "raw").mkdir(parents=True)
    notes = Intents(root)
    notes.note(root / "raw" / "a.bin", b"page")
    notes.settled(lambda rel: True)  # recorded: nothing pending, the close removes the file

    # the sweep opened the file; the writer's close removes it before the sweep's lock
    _before_first_flock(monkeypatch, notes.close)
    assert sweep(root, lambda rel: False) == 0
    assert list((root / "journal").glob(f"*{SUFFIX}")) == []
