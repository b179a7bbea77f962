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

from scraper.core.errors import FetchError, HostGivenUp

# Added to a non-zero delay: the server stamps arrivals a little later or earlier than we
# stamp starts (scheduling, the pool), and a gap must never come out short. The first
# request on a host also opens its connection, so it arrives later than it started and
# the gap after it needs more room.
PACING_MARGIN = 0.0015
# How much of the pacing wait is left to the moment before sending (see Host.trace).
PACING_LEAD = 0.02
FRESH_MARGIN = 0.006
# No robots.txt Crawl-delay or Retry-After makes us wait longer than this per request.
MAX_DELAY = 120.0
ROBOTS_AGENT = "evnews-scraper"


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
    fresh: bool = True  # the next request is the first on a new connection
    cause: FetchError | None = None  # why it was given up, when robots.txt found out
    sem: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.sem = asyncio.Semaphore(self.concurrency)

    def started(self, now: float) -> None:
        """A request starts now: the next may start a delay (and a margin) later."""
        if self.delay > 0:
            self.next_at = now + self.delay + (FRESH_MARGIN if self.fresh else PACING_MARGIN)
        self.fresh = False

    async def trace(self, event: str, info: dict[str, object]) -> None:
        """httpx's documented `trace` request extension, told each step of a request: the
        pacing clock restarts when the request line has gone out, not when the slot
        opened, so that however long a busy loop held the request in between, the next
        one on this host reaches the server no sooner than the delay after it."""
        if event == "connection.connect_tcp.complete":
            self.fresh = True
        elif event.endswith("send_request_headers.started"):
            loop = asyncio.get_running_loop()
            # The slot let the request go up to LEAD early, so that building it and taking
            # a connection happen inside the delay; what is left is waited here.
            while (wait := self.next_at - loop.time()) > 0:
                await asyncio.sleep(wait)
        elif event.endswith("send_request_headers.complete"):
            # Counted from when the request line was written: the send may pause the task,
            # and a clock started before such a pause would let the next request come early.
            self.started(asyncio.get_running_loop().time())

    def given_up_error(self) -> HostGivenUp:
        """The failure of a request to a host given up, naming the cause when known."""
        if self.cause is not None:
            return HostGivenUp(f"{self.name} gave no answer, request not sent: "
                               f"{self.cause.message}", code=self.cause.code)
        return HostGivenUp(f"gave up on {self.name} after {self.strikes} errors/rate limits")

    def pause(self, seconds: float) -> None:
        """No request on this host for `seconds` from now (Retry-After, backoff)."""
        loop = asyncio.get_running_loop()
        self.next_at = max(self.next_at, loop.time() + min(seconds, MAX_DELAY))

    def strike(self, floor: float) -> None:
        """A 429/5xx or a connection failure: slow down for the rest of the run, and give
        up once the budget is spent."""
        self.strikes += 1
        self.fresh = True  # the connection may be gone: the next request opens one
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
            raise host.given_up_error()
        async with host.sem:
            # A loop, because a 429 on another request may push next_at while we sleep.
            lead = PACING_LEAD if host.delay > 0 else 0.0
            while (wait := host.next_at - lead - loop.time()) > 0:
                await asyncio.sleep(wait)
            if host.given_up:
                raise host.given_up_error()
            async with self.global_sem:
                # Paced in the slot, as Scrapy's downloader slot does; with a delay,
                # `Host.trace` waits the last LEAD seconds and restarts the clock when the
                # request line goes out.
                if host.delay <= 0:
                    host.started(loop.time())
                yield


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: base * 2**attempt, capped, times 0.5-1.0."""
    return float(min(cap, base * 2 ** attempt) * (0.5 + random.random() / 2))


def parse_robots(content: bytes) -> Protego:
    return Protego.parse(content.decode("utf-8", "replace"))
