"""Files of the output folder that the run's parts share: a damaged one set aside for a
person to look at, and the one-line notices that say so."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

# Where a repair is said: one line, without a prefix (the caller prints "warning: ...").
Notice = Callable[[str], object]

log = logging.getLogger(__name__)


def move_aside(path: Path, companions: Sequence[str] = ()) -> Path:
    """Rename `path` to `<name>.damaged-<UTC time>` beside it, for a person to look at, with
    the files named `<name><suffix>` for each of `companions` ("-wal"); returns the new path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside, n = path.with_name(f"{path.name}.damaged-{stamp}"), 1
    while aside.exists():
        aside, n = path.with_name(f"{path.name}.damaged-{stamp}-{n}"), n + 1
    os.replace(path, aside)
    for suffix in companions:
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{path}{suffix}", f"{aside}{suffix}")
    return aside


def say(notice: Notice | None, line: str) -> None:
    """Say a repair: to the caller's `notice` when it gave one (a test collecting them),
    else as a warning in the log (the command line prints it as "warning: ...", with
    --quiet too: a table set aside is something to look at)."""
    if notice is not None:
        notice(line)
    else:
        log.warning("%s", line)


# A full check of a SQLite file (PRAGMA quick_check) reads all of it: seconds for a store of
# millions of articles, on every run. Past this size a file gets the checks that cost
# nothing: its header and schema are read when it opens (a file that is not a database fails
# there), and it must hold every page its header counts (a file cut short fails here).
# SQLite's journal keeps the file whole through kills and power cuts; deeper damage shows
# when a page is read, as the run's one error line.
FULL_CHECK_BYTES = 64 * 2**20


def sqlite_problem(db: sqlite3.Connection, path: Path) -> str | None:
    """What is wrong with the SQLite file `path` open as `db`, or None."""
    try:
        size = path.stat().st_size
    except (FileNotFoundError, OSError):
        size = 0
    if size <= FULL_CHECK_BYTES:
        problem = db.execute("PRAGMA quick_check").fetchone()[0]
        return None if problem == "ok" else str(problem)
    with path.open("rb") as handle:
        header = handle.read(32)
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    if size < pages * page_size:
        return f"cut short: {size:,} bytes of the {pages * page_size:,} its header counts"
    return None
