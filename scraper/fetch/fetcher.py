"""The one fetcher: asyncio + a stock httpx.AsyncClient, polite per host, with retries.

Every run uses it, the one-off run and the crawl alike. `Fetcher.get` fetches one input:
a local path or file:// URL is read from disk; an http(s) URL goes through robots.txt
(once per host), the host's slot (pacing, one connection per host, the global limit) and
tenacity's retries of connect/read errors, 408, 429 and 5xx, with exponential backoff and
jitter, never sooner than Retry-After says. Redirects are followed by hand, so that each
hop is checked against robots.txt and, for the crawl, against the site's domains (an
off-site redirect is an `OffsiteRedirect` failure that names its target). `Fetcher.map`
drains per-host queues with one worker per allowed connection, so hosts never wait for
each other. httpx and OS errors are translated here, once, into `InputError`s whose
message starts with the cause a person checks next: "DNS: ...", "connection refused:
...", "TLS: ...", "timeout: ...", "HTTP 503 ...", "too many redirects: ...".
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import socket
import ssl
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Generic, TypeVar
from urllib.parse import urlsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_none

from extract.records import Page
from scraper.core.errors import (
    BadURL,
    DeadlineExceeded,
    FetchError,
    HostGivenUp,
    InputError,
    NetworkError,
    OffsiteRedirect,
    RobotsDisallowed,
    TooLargeError,
    TooManyRedirects,
    status_error,
)
from scraper.core.records import now_utc
from scraper.core.settings import Settings
from scraper.fetch.local import check_html, is_url, read_file, reason
from scraper.fetch.politeness import Gate, Host, backoff, parse_robots
from scraper.fetch.state import State, header_map
from scraper.fetch.urls import absolute, host_of, url_key

REDIRECTS = (301, 302, 303, 307, 308)
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.1"
Allowed = Callable[[str], bool]
T = TypeVar("T")
# Each request with its status and time, each retry and each host given up (-v).
log = logging.getLogger(__name__)
# "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)" -> "wrong version number"
SSL_NOISE = re.compile(r"^\[[^\]]*\]\s*|\s*\(_ssl\.c:\d+\)$")


class BadContent(FetchError):
    """A body that cannot be decoded (a broken gzip stream)."""

    code = "bad_encoding"
    final = True


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception behind it: the chain of causes and contexts, and the
    members of exception groups (anyio's "All connection attempts failed" holds the
    refusal of each address it tried)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [e for e in (current.__context__, current.__cause__) if e is not None]
        if isinstance(current, BaseExceptionGroup):
            todo += current.exceptions


def transport_error(exc: httpx.TransportError, url: str, settings: Settings) -> FetchError:
    """An httpx transport error as ours, its message led by the cause: DNS, connection
    refused, TLS, timeout, connection reset, unreachable network, a protocol error."""
    host, name = host_of(url), urlsplit(url).hostname or host_of(url)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return BadURL(f"cannot fetch {url}: {reason(exc)}")
    if isinstance(exc, httpx.TimeoutException):
        if isinstance(exc, httpx.ConnectTimeout):
            detail = f"no connection to {host} within {settings.connect_timeout:g} s"
        elif isinstance(exc, httpx.PoolTimeout):
            detail = f"no free connection for {url} within {settings.read_timeout:g} s"
        elif isinstance(exc, httpx.WriteTimeout):
            detail = f"{host} took no more of the request for {settings.read_timeout:g} s"
        else:
            detail = f"{host} sent nothing for {settings.read_timeout:g} s ({url})"
        return NetworkError(f"timeout: {detail}", code="timeout")
    for cause in causes(exc):
        if isinstance(cause, socket.gaierror):
            why = cause.strerror or reason(cause)
            return NetworkError(f"DNS: cannot resolve {name} ({why})", code="connect")
        if isinstance(cause, ssl.SSLCertVerificationError):
            why = cause.verify_message or SSL_NOISE.sub("", reason(cause))
            return NetworkError(f"TLS: the certificate of {host} is not accepted ({why})",
                                code="connect")
        if isinstance(cause, ssl.SSLError):
            why = SSL_NOISE.sub("", reason(cause))
            if cause.reason == "WRONG_VERSION_NUMBER":
                why += "; does it speak plain http?"
            return NetworkError(f"TLS: handshake with {host} failed ({why})", code="connect")
        if isinstance(cause, ConnectionRefusedError):
            return NetworkError(f"connection refused: nothing accepts connections on {host}",
                                code="connect")
        if isinstance(cause, ConnectionResetError):
            return NetworkError(f"connection reset by {host} ({url})")
        if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH,
                                                          errno.EHOSTUNREACH):
            return NetworkError(f"unreachable: no route to {host} ({reason(cause)})",
                                code="connect")
    if isinstance(exc, httpx.ConnectError):
        return NetworkError(f"cannot connect to {host}: {reason(exc)}", code="connect")
    if isinstance(exc, httpx.ProtocolError):
        return NetworkError(f"protocol error: {host} broke off the answer to {url} "
                            f"({reason(exc)})")
    return NetworkError(f"network error: {type(exc).__name__} fetching {url}: {reason(exc)}")


def retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Fetcher:
    """One run's fetching side. Use as `async with Fetcher(settings) as fetcher:`."""

    def __init__(self, settings: Settings, state: State | None = None) -> None:
        self.settings, self.state = settings, state
        self.last_error: dict[str, InputError] = {}  # by host: says why it was given up
        self.gate = Gate(settings.crawl_delay, settings.host_concurrency,
                         settings.concurrency, settings.host_budget)
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            limits=httpx.Limits(max_connections=settings.concurrency,
                                max_keepalive_connections=settings.concurrency),
            follow_redirects=False,
            headers={"User-Agent": settings.agent, "Accept": ACCEPT})

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.client.aclose()

    async def get(self, target: str, headers: dict[str, str] | None = None,
                  allowed: Allowed | None = None) -> Page:
        """Fetch an http(s) URL, or read a local path or file:// URL. A 304 comes back as
        a page with status 304 and no body."""
        if not is_url(target):
            started = time.monotonic()
            page = await asyncio.to_thread(read_file, target, self.settings.max_bytes)
            log.debug("read %s: %s bytes in %.0f ms", target, f"{len(page.content):,}",
                      (time.monotonic() - started) * 1000)
            return page
        url = absolute(target, target)
        if url is None:
            raise BadURL(f"not a fetchable http(s) URL: {target}")
        hops: list[str] = []
        for _ in range(self.settings.max_redirects + 1):
            page = await self.get_one(url, headers)
            if page.status not in REDIRECTS:
                return Page(input=target, url=page.url, status=page.status,
                            headers=page.headers, content=page.content,
                            fetched_at=page.fetched_at, redirects=tuple(hops))
            location = page.header("location") or ""
            following = absolute(url, location)
            if following is None:
                raise BadURL(f"{url} redirects to {location[:200]!r}, not an http(s) URL")
            if allowed is not None and not allowed(following):
                raise OffsiteRedirect(f"off-site redirect: {url} redirects to {following}; "
                                      "not followed")
            hops.append(url)
            url = following
            headers = None  # validators belong to the first URL
        raise TooManyRedirects(f"too many redirects: more than {self.settings.max_redirects} "
                               f"from {target}")

    async def get_one(self, url: str, headers: dict[str, str] | None = None) -> Page:
        """One URL, no redirects followed: robots.txt checked, retried when worth it."""
        host = self.gate.host(host_of(url))
        await self.robots(host, url)
        if host.given_up and host.cause is not None:
            raise self.given_up(host)
        if not host.allows(url):
            raise RobotsDisallowed(f"robots.txt disallows {url}")
        return await self.with_retries(host, url, headers)

    async def with_retries(self, host: Host, url: str,
                           headers: dict[str, str] | None) -> Page:
        """`request` through the host's slot, retried by tenacity while the error is
        retryable and the host not given up. The wait between tries is the host's pause
        (backoff or Retry-After, whichever is longer), taken in its slot, so the host's
        other requests wait too."""
        s = self.settings

        def worth_retrying(exc: BaseException) -> bool:
            return isinstance(exc, InputError) and exc.retryable and not host.given_up

        def pause(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = max(backoff(state.attempt_number - 1, s.backoff, s.max_backoff),
                       getattr(exc, "retry_after", None) or 0.0)
            host.pause(wait)
            log.debug("retrying %s in %.1fs (try %d of %d)", url, wait,
                      state.attempt_number + 1, s.retries + 1)

        retrying = AsyncRetrying(stop=stop_after_attempt(s.retries + 1),
                                 retry=retry_if_exception(worth_retrying), wait=wait_none(),
                                 before_sleep=pause, reraise=True)
        try:
            async for attempt in retrying:
                with attempt:
                    async with self.gate.slot(host):
                        try:
                            page = await self.request(url, headers, host)
                        except InputError as exc:
                            if exc.retryable:
                                self.strike(host, exc)
                            raise
                    host.strikes = 0
                    return page
        except HostGivenUp:  # the slot's refusal: said with the cause
            raise self.given_up(host) from None
        raise AssertionError("unreachable: tenacity reraises the last error")

    def strike(self, host: Host, exc: InputError) -> None:
        """A 429/5xx or a connection failure on `host`: slowed, or given up at its budget."""
        host.strike(self.settings.backoff)
        self.last_error[host.name] = exc
        if host.given_up and host.strikes == host.budget:
            log.debug("%s given up after %d errors/rate limits: %s", host.name,
                      host.strikes, exc.message)

    def given_up(self, host: Host) -> HostGivenUp:
        """The failure of a request to a host given up, led by the cause: what robots.txt
        met (the host never answered), else the host's last error."""
        if host.cause is not None:
            return HostGivenUp(f"{host.cause.message}; {host.name} given up, request not "
                               "sent", code=host.cause.code)
        last = self.last_error.get(host.name)
        if last is None:
            return host.given_up_error()
        return HostGivenUp(f"{last.message}; {host.name} given up after {host.strikes} "
                           "errors/rate limits, request not sent")

    async def request(self, url: str, headers: dict[str, str] | None, host: Host) -> Page:
        """One GET, logged with its status and time (-v). Statuses >= 400 raise."""
        started = time.monotonic()
        try:
            page = await self.send(url, headers, host)
        except InputError as exc:
            log.debug("GET %s: %s (%.0f ms)", url, exc.message,
                      (time.monotonic() - started) * 1000)
            raise
        log.debug("GET %s: %d, %s bytes in %.0f ms", url, page.status, f"{len(page.content):,}",
                  (time.monotonic() - started) * 1000)
        return page

    async def send(self, url: str, headers: dict[str, str] | None, host: Host) -> Page:
        """One GET. Statuses >= 400 raise; httpx's errors become ours here."""
        # The pacing needs to know when the request went out; without a delay it need not.
        extensions = {"trace": host.trace} if host.delay > 0 else None
        try:
            async with asyncio.timeout(self.settings.deadline):
                request = self.client.build_request("GET", url, headers=headers,
                                                    extensions=extensions)
                response = await self.client.send(request, stream=True)
                try:
                    content = await self.read_capped(response, url)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise DeadlineExceeded(f"timeout: {url} took over the {self.settings.deadline:g} s "
                                   "deadline for one request") from None
        except httpx.TransportError as exc:
            raise transport_error(exc, url, self.settings) from None
        except httpx.DecodingError as exc:
            raise BadContent(f"cannot decode the body of {url}: {reason(exc)}") from None
        except (httpx.InvalidURL, httpx.HTTPError, UnicodeError, ValueError) as exc:
            # A malformed link (a space or a bad label in the host, a bad port): its own
            # failure, not the run's.
            raise BadURL(f"{type(exc).__name__} for {url[:300]}: {reason(exc)}") from None
        status = response.status_code
        if status >= 400:
            raise status_error(status, f"HTTP {status} {response.reason_phrase} for {url}",
                               retry_after(response.headers.get("retry-after")))
        return Page(input=url, url=url, status=status,
                    headers=tuple(response.headers.multi_items()), content=content,
                    fetched_at=now_utc())

    async def read_capped(self, response: httpx.Response, url: str) -> bytes:
        """The decoded body, cut off at max_bytes (so a gzip bomb stops early too)."""
        cap = self.settings.max_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise TooLargeError(f"{url} declares {int(declared):,} bytes, over the {cap:,} cap")
        chunks, total = [], 0
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            if total > cap:
                raise TooLargeError(f"{url} is over the {cap:,}-byte cap")
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def robots(self, host: Host, url: str) -> None:
        """Fetch and adopt the host's robots.txt, once; other requests wait for it."""
        if host.robots_started:
            await host.robots_ready.wait()
            return
        host.robots_started = True
        robots_url = "/".join(url.split("/", 3)[:3]) + "/robots.txt"
        # Asked conditionally when the state has its last copy, like every other document.
        key = url_key(robots_url)
        known = self.state.get(key) if self.state is not None else None
        headers = known.conditional_headers() if known and known.body else None
        try:
            page = await self.with_retries(host, robots_url, headers)
            content = page.content
            if page.status == 304 and known is not None and known.body is not None:
                content = known.body
            elif self.state is not None and page.status == 200:
                self.state.answered(key, robots_url, "robots", 200, header_map(page), content)
            host.use_robots(parse_robots(content) if page.status in (200, 304) else None)
            log.debug("robots.txt of %s: %s, delay %gs", host.name,
                      "rules" if host.robots is not None else "none", host.delay)
        except InputError as exc:
            # 4xx: no rules, crawl freely. 5xx after retries, or no connection: the host
            # is down or refusing (its budget may have run out on these very tries).
            if isinstance(exc, FetchError) and exc.retryable and host.cause is None:
                host.given_up, host.cause = True, exc
            host.use_robots(None)

    async def sitemaps(self, url: str) -> list[str]:
        """The Sitemap: lines of robots.txt on `url`'s host (fetching it if need be)."""
        host = self.gate.host(host_of(url))
        await self.robots(host, url)
        return list(host.robots.sitemaps) if host.robots is not None else []

    async def map(self, items: Iterable[T], url_of: Callable[[T], str],
                  fetch: Callable[[T], Awaitable[None]]) -> None:
        """Run `fetch(item)` for every item, through per-host queues: each host gets as
        many workers as it may have connections, so a slow host holds up nobody else.
        Local files share one queue."""
        queues: dict[str, deque[T]] = defaultdict(deque)
        for item in items:
            url = url_of(item)
            queues[host_of(url) if is_url(url) else ""].append(item)
        workers = [Worker(queue, fetch) for queue in queues.values()
                   for _ in range(self.settings.host_concurrency)]
        await asyncio.gather(*(w.run() for w in workers))


class Worker(Generic[T]):
    """Takes items off one host's queue until it is empty."""

    def __init__(self, queue: deque[T], fetch: Callable[[T], Awaitable[None]]) -> None:
        self.queue, self.fetch = queue, fetch

    async def run(self) -> None:
        while self.queue:
            await self.fetch(self.queue.popleft())


def fetch_page(target: str, settings: Settings) -> Page:
    """Fetch one input through a `Fetcher` of its own (robots.txt, retries, caps), for a
    caller outside a run loop; refuses a body that is not HTML like the runs do."""
    async def one() -> Page:
        async with Fetcher(settings) as fetcher:
            page = await fetcher.get(target)
        check_html(page.content, page.header("content-type") or "", page.url)
        return page

    return asyncio.run(one())
