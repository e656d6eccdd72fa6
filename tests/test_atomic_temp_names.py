"""Temp file names come from the process id and a count (no getpid/getrandom per file), and a
forked child's names carry its own id."""

from __future__ import annotations

import os

from archive import atomic


def test_temp_names_are_unique_and_carry_the_process_id() -> None:
    names = {atomic.temp_name("v1.json") for _ in range(1000)}
    assert len(names) == 1000
    assert all(name.startswith(atomic.TEMP_PREFIX) for name in names)
    assert all(f".{os.getpid()}." in name for name in names)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child's names carry its own id, not its parent's
        os.write(write, atomic.temp_name("v1.json").encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 200).decode()
    os.close(read)
    os.close(write)
    assert f".{pid}." in child
    assert child not in names
