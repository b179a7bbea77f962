"""Files of the output folder that the run's parts share: a damaged one set aside for a
person to look at, and the one-line notices that say so."""

from __future__ import annotations

import contextlib
import logging
import os
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
