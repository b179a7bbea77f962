"""Per-host politeness for the crawl: pacing, slow-down, giving up, and robots.txt.

A `Host` is one host[:port]. At most `host_concurrency` requests run on it at once, and
request starts are spaced by its delay (the setting, raised by robots.txt's Crawl-delay and
by 429/5xx answers). A `Gate` adds the global limit across hosts.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from protego import Protego

from scraper.errors import FetchError

# Added to a non-zero delay: the server stamps arrivals a little later or earlier than we
# stamp starts (connection set-up, scheduling), and a gap must never come out short.
PACING_MARGIN = 0.0015
FRESH_MARGIN = 0.006
# How much of the pacing wait is left to the moment before sending (see Host.trace).
PACING_LEAD = 0.02
# No robots.txt Crawl-delay or Retry-After makes us wait longer than this per request.
MAX_DELAY = 120.0
ROBOTS_AGENT = "evnews-scraper"


class HostGivenUp(FetchError):
    code = "host_given_up"


class RobotsDisallowed(FetchError):
    code = "robots_disallowed"


@dataclass
class Host:
    """What the crawl knows about one host during one run."""

    name: str
    delay: float
    concurrency: int
    budget: int
    next_at: float = 0.0
    strikes: int = 0  # 429/5xx/connection failures, the budget's count
    given_up: bool = False
    robots: Protego | None = None
    robots_ready: asyncio.Event = field(default_factory=asyncio.Event)
    robots_started: bool = False
    fresh: bool = False  # the next request is the first on a new connection
    sem: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.sem = asyncio.Semaphore(self.concurrency)

    async def trace(self, event: str, info: dict[str, object]) -> None:
        """httpcore's trace hook, run just before the request line goes out. The last bit
        of the pacing wait happens here, after httpx has built the request and taken the
        connection, and the next start is counted from here: neither a slow connect nor a
        busy loop can make two arrivals closer than the delay, or the crawl slower."""
        if event == "connection.connect_tcp.complete":
            self.fresh = True
        elif event == "http11.send_request_headers.started":
            loop = asyncio.get_running_loop()
            while (wait := self.next_at - loop.time()) > 0:
                await asyncio.sleep(wait)
            # A server stamps the first request of a new connection later (it accepts the
            # connection first): the gap after it needs more room than the others.
            margin = FRESH_MARGIN if self.fresh else PACING_MARGIN
            self.fresh = False
            self.next_at = loop.time() + self.delay + margin

    def pause(self, seconds: float) -> None:
        """No request on this host for `seconds` from now (Retry-After, backoff)."""
        loop = asyncio.get_running_loop()
        self.next_at = max(self.next_at, loop.time() + min(seconds, MAX_DELAY))

    def strike(self, floor: float) -> None:
        """A 429/5xx or a connection failure: slow down for the rest of the run, and give
        up once the budget is spent."""
        self.strikes += 1
        self.delay = min(max(self.delay * 2, floor), MAX_DELAY)
        if self.strikes >= self.budget:
            self.given_up = True

    def allows(self, url: str) -> bool:
        return self.robots is None or self.robots.can_fetch(url, ROBOTS_AGENT)

    def use_robots(self, rules: Protego | None) -> None:
        """Adopt robots.txt rules (None: there are none) and their Crawl-delay."""
        self.robots = rules
        if rules is not None:
            crawl_delay = rules.crawl_delay(ROBOTS_AGENT)
            if crawl_delay:
                self.delay = max(self.delay, min(float(crawl_delay), MAX_DELAY))
        self.robots_ready.set()


class Gate:
    """The hosts of one run and the global concurrency limit across them."""

    def __init__(self, delay: float, host_concurrency: int, concurrency: int,
                 budget: int) -> None:
        self.delay, self.host_concurrency, self.budget = delay, host_concurrency, budget
        self.hosts: dict[str, Host] = {}
        self.global_sem = asyncio.Semaphore(concurrency)

    def host(self, name: str) -> Host:
        if name not in self.hosts:
            self.hosts[name] = Host(name, self.delay, self.host_concurrency, self.budget)
        return self.hosts[name]

    @asynccontextmanager
    async def slot(self, host: Host) -> AsyncIterator[None]:
        """Hold one of the host's connections, started no sooner than its pacing allows."""
        loop = asyncio.get_running_loop()
        if host.given_up:  # do not wait out a long pause only to give up afterwards
            raise HostGivenUp(f"gave up on {host.name} after {host.strikes} "
                              "errors/rate limits")
        async with host.sem:
            # A loop, because a 429 on another request may push next_at while we sleep.
            # With a delay, the last LEAD seconds are waited in `Host.trace`.
            lead = PACING_LEAD if host.delay > 0 else 0.0
            while (wait := host.next_at - lead - loop.time()) > 0:
                await asyncio.sleep(wait)
            if host.given_up:
                raise HostGivenUp(f"gave up on {host.name} after {host.strikes} "
                                  "errors/rate limits")
            async with self.global_sem:
                yield


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: base * 2**attempt, capped, times 0.5-1.0."""
    return min(cap, base * 2 ** attempt) * (0.5 + random.random() / 2)


def parse_robots(content: bytes) -> Protego:
    return Protego.parse(content.decode("utf-8", "replace"))
