"""Records that cross the fetch boundary."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FetchedPage:
    """One fetched (or read) page, exactly as it came: bytes, not text."""

    input: str  # what the user gave: a URL, a path, a file:// URL
    url: str  # the final URL after redirects (file:// for local files)
    status: int
    headers: tuple[tuple[str, str], ...]
    content: bytes
    fetched_at: str  # ISO 8601, UTC
    redirects: tuple[str, ...] = field(default=())

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None
