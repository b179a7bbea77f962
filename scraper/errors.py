"""The project's exception hierarchy.

Library errors (httpx, lxml, OS errors) are translated into these once, at the stage that
meets them, so the run loop only has to know `ScraperError`: each carries the stage it
happened in and a short machine-readable `code` that goes into failures.csv.
"""

from __future__ import annotations


class ScraperError(Exception):
    """A failure of one input. Recorded in failures.csv; never ends the run."""

    stage = "run"
    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class UsageError(ScraperError):
    """Bad command-line usage or settings (exit code 2)."""

    stage = "usage"
    code = "usage"


class FetchError(ScraperError):
    stage = "fetch"
    code = "fetch_error"


class InputNotFound(FetchError):
    code = "not_found"


class HTTPStatusError(FetchError):
    code = "http_status"

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message, code=f"http_{status}")
        self.status = status


class NotHTMLError(FetchError):
    code = "not_html"


class TooLargeError(FetchError):
    code = "too_large"


class NetworkError(FetchError):
    code = "network"


class CleanError(ScraperError):
    stage = "clean"
    code = "no_article"


class ExtractError(ScraperError):
    stage = "extract"
    code = "extract_error"


class ExportError(ScraperError):
    stage = "export"
    code = "export_error"
