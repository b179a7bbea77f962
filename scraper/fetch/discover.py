"""Discover stage: a site profile -> candidate article URLs, with the dates that feeds,
sitemaps and URLs give, before any article is downloaded.

Every discovery document (feed, sitemap, listing page) is fetched conditionally; its last
body is kept in the state so that a 304 can be read again. Listing pagination goes on while
a page holds an article that is neither extracted already nor older than --since, up to
`max_pages` pages; a sitemap index is read newest child first, up to `max_pages` children.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from scraper.core.errors import InputError
from scraper.core.records import Failure, now_utc
from scraper.fetch import documents
from scraper.fetch.documents import Document, Link
from scraper.fetch.fetcher import Fetcher
from scraper.fetch.state import State, header_map
from scraper.fetch.urls import date_in_url, url_key
from scraper.sites import SiteProfile

Report = Callable[[str], None]


@dataclass(frozen=True)
class Candidate:
    """An article URL to fetch, with the best date discovery found for it."""

    key: str
    url: str
    profile: SiteProfile
    published: datetime | None
    dated: str  # where the date came from: feed | sitemap | url | "" (none)
    input: str = ""  # what the user gave, for a one-off input ("" for a discovered URL)
    modified: datetime | None = None  # the newest change time a feed or sitemap gave

    def older_than(self, since: datetime | None) -> bool:
        if since is None or self.published is None:
            return False
        if self.dated == "url":
            # A date read from the URL is a day, not an instant: it may be late in that day.
            return self.published + timedelta(days=1) <= since
        return self.published < since


@dataclass
class Discovery:
    """What discovery found across all profiles of one run."""

    candidates: dict[str, Candidate] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)


class Discoverer:
    """Discovery for one profile, writing into a shared `Discovery`."""

    def __init__(self, profile: SiteProfile, fetcher: Fetcher, state: State,
                 found: Discovery, since: datetime | None, max_pages: int,
                 report: Report) -> None:
        self.profile, self.fetcher, self.state, self.found = profile, fetcher, state, found
        self.since, self.max_pages, self.report = since, max_pages, report
        self.read: set[str] = set()  # documents read this run, by key

    async def run(self) -> None:
        """Feeds, sitemaps (the profile's and robots.txt's), then listing pages."""
        for url in self.profile.feeds:
            await self.read_any(url, "feed")
        sitemaps = list(self.profile.sitemaps)
        if self.profile.robots_sitemaps and self.profile.home:
            sitemaps += await self.fetcher.sitemaps(self.profile.home)
        for url in sitemaps:
            await self.read_any(url, "sitemap")
        for url in self.profile.listings:
            await self.paginate(url)

    async def fetch(self, url: str, kind: str, last_ok: bool = False) -> Document | None:
        """One discovery document, conditionally; a 304 is read from the stored body.
        `last_ok`: a 404/410 is the normal end of a listing, not a failure."""
        key = url_key(url)
        if key in self.read or not self.profile.owns(url):
            return None
        self.read.add(key)
        known = self.state.get(key)
        headers = known.conditional_headers() if known and known.body else None
        try:
            page = await self.fetcher.get(url, headers, allowed=self.profile.owns)
        except InputError as exc:
            if last_ok and getattr(exc, "status", None) in (404, 410):
                return None
            self.report(f"error: {url}: {exc.message}")
            self.found.failures.append(Failure(input=url, url=url, stage="discover",
                                               error=exc.code, message=exc.message,
                                               at=now_utc()))
            self.state.failed(key, url, kind, getattr(exc, "status", None), exc.code,
                              final=False)
            return None
        if page.status == 304 and known is not None and known.body is not None:
            self.state.not_modified(key)
            content = known.body
        else:
            self.state.answered(key, url, kind, page.status, header_map(page),
                                page.content)
            content = page.content
        return documents.read(content, page.url)

    async def read_any(self, url: str, kind: str, depth: int = 0,
                       last_ok: bool = False) -> Document | None:
        """Read a feed, a sitemap or a sitemap index (one level of children)."""
        doc = await self.fetch(url, kind, last_ok)
        if doc is None:
            return None
        if doc.kind == "sitemapindex" and depth == 0:
            for child in self.newest_children(doc.links):
                await self.read_any(child.url, "sitemap", depth + 1)
        elif doc.kind in ("feed", "sitemap"):
            for link in doc.links:
                self.add(link, doc.kind)
        return doc

    def newest_children(self, links: tuple[Link, ...]) -> list[Link]:
        fresh = [c for c in links if not (self.since and c.published and
                                          c.published < self.since)]
        fresh.sort(key=lambda c: c.published.timestamp() if c.published else 0, reverse=True)
        return fresh[:self.max_pages]

    async def paginate(self, start: str) -> None:
        """A listing, page after page, while its pages still hold new articles."""
        url: str | None = start
        for n in range(1, self.max_pages + 1):
            if url is None:
                return
            doc = await self.read_any(url, "listing", last_ok=n > 1)
            if doc is None or doc.kind != "html":
                return  # not found, or a feed/sitemap given as the start (read already)
            if self.profile.feed_autodiscovery:
                for feed in doc.feeds:
                    await self.read_any(feed, "feed")
            fresh = 0
            for link in doc.links:
                candidate = self.add(link, "")
                if candidate and not candidate.older_than(self.since) \
                        and not self.state.is_final(candidate.key):
                    fresh += 1
            if not fresh:
                return
            url = self.profile.page(start, n + 1) if self.profile.page_url else doc.next_page

    def add(self, link: Link, source: str) -> Candidate | None:
        """Keep `link` if it is one of the profile's articles; merge what we know of it."""
        if not (self.profile.owns(link.url) and self.profile.is_article(link.url)):
            return None
        key = url_key(link.url)
        published, dated = link.published, source if link.published else ""
        if published is None and (from_url := date_in_url(link.url)) is not None:
            published, dated = from_url, "url"
        old = self.found.candidates.get(key)
        modified = newest(old.modified if old else None, link.modified)
        if old is not None and (old.dated in ("feed", "sitemap") or not published):
            candidate = dataclasses.replace(old, modified=modified)
        else:
            candidate = Candidate(key, old.url if old else link.url, self.profile, published,
                                  dated, modified=modified)
        self.found.candidates[key] = candidate
        return candidate


def newest(*times: datetime | None) -> datetime | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None
