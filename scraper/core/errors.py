"""Every error of the application, in one module, named for what the caller does next.

Two branches, never mixed:

- `InputError`: one input (a URL, a file, a feed) failed. It becomes a failures.csv row
  with its `stage` and `code`, one `error:` line, and the run goes on. `retryable` says
  that asking again may help (timeouts, 429, 5xx); `final` that it never will (404, a PDF,
  too large), so the crawl does not ask again in later runs. The library's `PageError`
  (no article, an extraction failure) is recorded the same way: both are `ItemError`s.
- `RunError`: the run cannot go on (bad usage or settings, an unwritable output folder,
  another crawl holding the lock). It ends the run with one line and `exit_code`.

Library errors (httpx, OS, lxml) are translated into these once, where they are met.
"""

from __future__ import annotations

from extract.errors import ItemError


class InputError(ItemError):
    """A failure of one input; recorded, never the end of the run."""

    stage = "fetch"
    retryable = False
    final = False


class FetchError(InputError):
    """A URL or file could not be fetched or read."""

    code = "fetch_error"


class InputNotFound(FetchError):
    code = "not_found"
    final = True


class BadURL(FetchError):
    """Not a fetchable URL (a scheme we do not fetch, a malformed host)."""

    code = "bad_url"
    final = True


class NetworkError(FetchError):
    """Connect, read or protocol errors and timeouts: worth another try."""

    code = "network"
    retryable = True


class DeadlineExceeded(NetworkError):
    """The whole request (connect, headers, every read) took longer than `deadline`: a
    server dripping its answer is not asked again in this run."""

    code = "timeout"
    retryable = False


class TooManyRedirects(FetchError):
    code = "too_many_redirects"
    final = True


class OffsiteRedirect(FetchError):
    """A redirect out of the site's domains (the crawl's fence); not followed."""

    code = "offsite_redirect"
    final = True


class NotHTMLError(FetchError):
    code = "not_html"
    final = True


class TooLargeError(FetchError):
    code = "too_large"
    final = True


class RobotsDisallowed(FetchError):
    """robots.txt forbids the URL: obeyed and counted, not a failure row."""

    code = "robots_disallowed"
    final = True


class HostGivenUp(FetchError):
    """The host kept failing or rate-limiting past its budget in this run."""

    code = "host_given_up"


class HTTPStatusError(FetchError):
    """An answer of 400 or more: `http_<status>`."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message, code=f"http_{status}")
        self.status = status


class ClientStatusError(HTTPStatusError):
    """4xx but 408 and 429: the same question gets the same answer."""

    final = True


class RetryableStatusError(HTTPStatusError):
    """408, 429 and 5xx: the server may answer later (Retry-After is honoured)."""

    retryable = True

    def __init__(self, message: str, *, status: int, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


def status_error(status: int, message: str,
                 retry_after: float | None = None) -> HTTPStatusError:
    """The error for an HTTP status of 400 or more."""
    if status in (408, 429) or status >= 500:
        return RetryableStatusError(message, status=status, retry_after=retry_after)
    if 400 <= status < 500:
        return ClientStatusError(message, status=status)
    return HTTPStatusError(message, status=status)  # a 3xx without a usable Location


# What a run records as one input's failure: ours and the library's.
Recorded = ItemError


class RunError(Exception):
    """The run cannot go on; the CLI prints one line and exits with `exit_code`."""

    exit_code = 1

    @property
    def message(self) -> str:
        return str(self)


class UsageError(RunError):
    """Bad command line, settings, config file or model: nothing was done."""

    exit_code = 2


class OutputError(RunError):
    """The output folder cannot be written (rows written before are kept)."""

    exit_code = 1


class LockedError(RunError):
    """Another crawl holds the lock on this state file; cron's next run tries again."""

    exit_code = 3
