"""Records of a run (not of an article): what failed, and the clock they are stamped by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


def now_utc() -> str:
    """Now, as the tables write times: ISO 8601 in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class Failure:
    """One failed input of one run: a row of failures.csv."""

    input: str
    url: str
    stage: str
    error: str
    message: str
    at: str
