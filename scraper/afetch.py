"""The crawl's fetcher: asyncio + httpx.AsyncClient, polite per host, with retries.

`Fetcher.get` fetches one URL: robots.txt first (once per host), then through the host's
`slot` (pacing, one connection per host, global limit), retrying connect/read errors, 429
and 5xx with exponential backoff and jitter, honouring Retry-After. Redirects are followed
by hand, and only to URLs the caller allows (the profile's domains); an off-site redirect
is an `OffsiteRedirect` failure that names its target. `Fetcher.map` drains per-host
queues with one worker per allowed connection, so hosts never wait for each other.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Generic, TypeVar

import httpx

from scraper.errors import FetchError, HTTPStatusError, NetworkError, TooLargeError
from scraper.fetch import now_utc
from scraper.politeness import Gate, Host, RobotsDisallowed, backoff, parse_robots
from scraper.records import FetchedPage
from scraper.settings import Settings
from scraper.state import State, header_map
from scraper.transport import crawl_transport
from scraper.urls import absolute, host_of, url_key

REDIRECTS = (301, 302, 303, 307, 308)
Allowed = Callable[[str], bool]
T = TypeVar("T")


class OffsiteRedirect(FetchError):
    code = "offsite_redirect"


class Retryable(Exception):
    """A 429/5xx answer or a transport error, to be retried (internal)."""

    def __init__(self, error: FetchError, retry_after: float | None = None) -> None:
        super().__init__(error.message)
        self.error, self.retry_after = error, retry_after


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
    """One crawl's HTTP side. Use as `async with Fetcher(settings) as fetcher:`."""

    def __init__(self, settings: Settings, state: State | None = None) -> None:
        self.settings, self.state = settings, state
        self.gate = Gate(settings.crawl_delay, settings.host_concurrency,
                         settings.concurrency, settings.host_budget)
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            follow_redirects=False, transport=crawl_transport(),
            headers={"User-Agent": settings.agent,
                     "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,"
                               "*/*;q=0.1"})
        self.requests = 0

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.client.aclose()

    async def get(self, url: str, headers: dict[str, str] | None = None,
                  allowed: Allowed | None = None) -> FetchedPage:
        """Fetch `url` (a 304 comes back as a page with status 304 and no body)."""
        if absolute(url, url) is None:
            raise FetchError(f"not a fetchable http(s) URL: {url}", code="bad_url")
        first, hops = url, []
        for _ in range(self.settings.max_redirects + 1):
            page = await self.get_one(url, headers)
            if page.status not in REDIRECTS:
                if hops:
                    page = FetchedPage(input=first, url=page.url, status=page.status,
                                       headers=page.headers, content=page.content,
                                       fetched_at=page.fetched_at, redirects=tuple(hops))
                return page
            target = absolute(url, page.header("location") or "")
            if target is None:
                raise HTTPStatusError(f"HTTP {page.status} without a Location from {url}",
                                      status=page.status)
            if allowed is not None and not allowed(target):
                raise OffsiteRedirect(f"{url} redirects off-site to {target}; not followed")
            hops.append(url)
            url = target
            headers = None  # validators belong to the first URL
        raise NetworkError(f"more than {self.settings.max_redirects} redirects from {first}",
                           code="too_many_redirects")

    async def get_one(self, url: str, headers: dict[str, str] | None = None) -> FetchedPage:
        """One URL, no redirects followed: robots.txt checked, retried when worth it."""
        host = self.gate.host(host_of(url))
        await self.robots(host, url)
        if not host.allows(url):
            raise RobotsDisallowed(f"robots.txt disallows {url}")
        return await self.with_retries(host, url, headers)

    async def with_retries(self, host: Host, url: str,
                           headers: dict[str, str] | None) -> FetchedPage:
        s = self.settings
        for attempt in range(s.retries + 1):
            try:
                async with self.gate.slot(host):
                    page = await self.request(url, headers, host)
                host.strikes = 0
                return page
            except Retryable as exc:
                host.strike(s.backoff)
                if attempt == s.retries or host.given_up:
                    raise exc.error from None
                wait = backoff(attempt, s.backoff, s.max_backoff)
                host.pause(max(wait, exc.retry_after or 0.0))
        raise AssertionError("unreachable")

    async def request(self, url: str, headers: dict[str, str] | None,
                      host: Host) -> FetchedPage:
        """One GET. Statuses >= 400 raise; 429/5xx and transport errors as Retryable."""
        self.requests += 1
        # The trace hook costs a little CPU per request; only pacing needs it.
        extensions = {"trace": host.trace} if host.delay > 0 else None
        try:
            request = self.client.build_request("GET", url, headers=headers,
                                                extensions=extensions)
            response = await self.client.send(request, stream=True)
            try:
                content = await self.read_capped(response, url)
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            raise Retryable(NetworkError(f"timed out fetching {url} ({type(exc).__name__})",
                                         code="timeout")) from None
        except httpx.ConnectError as exc:
            raise Retryable(NetworkError(f"cannot connect to {host_of(url)}: {exc}",
                                         code="connect")) from None
        except httpx.TransportError as exc:
            raise Retryable(NetworkError(f"{type(exc).__name__} fetching {url}: {exc}",
                                         code="network")) from None
        except httpx.DecodingError as exc:
            raise FetchError(f"cannot decode the body of {url}: {exc}",
                             code="bad_encoding") from None
        except (httpx.InvalidURL, httpx.HTTPError) as exc:
            # A malformed link from a page (a space in the host, a bad port): its failure,
            # not the crawl's.
            raise FetchError(f"{type(exc).__name__} for {url}: {exc}", code="bad_url") from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise Retryable(
                HTTPStatusError(f"HTTP {status} {response.reason_phrase} for {url}",
                                status=status),
                retry_after(response.headers.get("retry-after")))
        if status >= 400:
            raise HTTPStatusError(f"HTTP {status} {response.reason_phrase} for {url}",
                                  status=status)
        return FetchedPage(input=url, url=url, status=status,
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
        except HTTPStatusError as exc:
            # 4xx: no rules, crawl freely. 5xx after retries: the host is down or refusing.
            host.given_up = host.given_up or exc.status >= 500
            host.use_robots(None)
        except FetchError:
            host.given_up = True
            host.use_robots(None)

    async def sitemaps(self, url: str) -> list[str]:
        """The Sitemap: lines of robots.txt on `url`'s host (fetching it if need be)."""
        host = self.gate.host(host_of(url))
        await self.robots(host, url)
        return list(host.robots.sitemaps) if host.robots is not None else []

    async def map(self, items: Iterable[T], url_of: Callable[[T], str],
                  fetch: Callable[[T], Awaitable[None]]) -> None:
        """Run `fetch(item)` for every item, through per-host queues: each host gets as
        many workers as it may have connections, so a slow host holds up nobody else."""
        queues: dict[str, deque[T]] = defaultdict(deque)
        for item in items:
            queues[host_of(url_of(item))].append(item)
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
