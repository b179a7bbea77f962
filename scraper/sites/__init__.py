"""Site profiles: what the pipeline knows about one site, declared in one small module each.

A profile module sets module-level constants (see `cnevpost.py`); `REGISTRY` lists the
modules. Any site without a profile goes through `generic`.

Crawl fields (all optional): HOME, FEEDS, LISTINGS (listing pages to paginate), PAGE_URL
(how page N of a listing is spelled, "{listing}page/{n}/"), SITEMAPS, ROBOTS_SITEMAPS
(read sitemaps from robots.txt), FEED_AUTODISCOVERY (read `<link rel=alternate>` feeds
from listing pages).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import timedelta, timezone
from types import ModuleType
from urllib.parse import urljoin, urlparse, urlsplit

from extract.records import CleanOptions
from scraper.sites import (
    carnewschina,
    cnevpost,
    electrek,
    electrive,
    gasgoo,
    generic,
    insideevs,
    technode,
    yicai,
)


@dataclass(frozen=True)
class SiteProfile:
    name: str
    domains: tuple[str, ...]
    feeds: tuple[str, ...]
    article_url: re.Pattern[str]
    clean: CleanOptions
    # The crawl's discovery: where to start and how the site's pages are shaped.
    home: str = ""
    listings: tuple[str, ...] = ()
    page_url: str = ""
    sitemaps: tuple[str, ...] = ()
    robots_sitemaps: bool = True
    feed_autodiscovery: bool = False

    def owns(self, url: str) -> bool:
        parts = urlparse(url)
        host = (parts.hostname or "").lower().removeprefix("www.")
        # A domain may carry a port (a mirror or a test server on 127.0.0.1:8080).
        names = (host, f"{host}:{parts.port}") if parts.port else (host,)
        return any(name == d or name.endswith("." + d)
                   for d in self.domains for name in names)

    def is_article(self, url: str) -> bool:
        return bool(self.article_url.search(urlparse(url).path))

    def page(self, listing: str, n: int) -> str | None:
        """Page `n` of a listing, when the profile knows how pages are spelled."""
        if n == 1 or not self.page_url:
            return listing if n == 1 else None
        base = listing if listing.endswith("/") else listing + "/"
        return self.page_url.format(listing=base, n=n)

    def rebased(self, home: str) -> SiteProfile:
        """The same profile on another origin (a mirror, a staging copy, a test server):
        its URLs moved to `home`'s scheme and host, its domains that host."""
        origin = urlsplit(home)

        def move(url: str) -> str:
            parts = urlsplit(url)  # the query stays: some feeds are /api/rss?ClassId=7
            query = f"?{parts.query}" if parts.query else ""
            return urljoin(f"{origin.scheme}://{origin.netloc}/", parts.path + query)

        netloc = origin.netloc.lower().removeprefix("www.")
        return dataclasses.replace(
            self, home=move(self.home or "/"), domains=(netloc,),
            feeds=tuple(map(move, self.feeds)), listings=tuple(map(move, self.listings)),
            sitemaps=tuple(map(move, self.sitemaps)))

    def describe(self, verbosity: int = 0) -> list[str]:
        """The columns `python -m scraper sites` prints for this profile: its name (-q);
        its domains, the time zone of naive stamps, feeds, sitemaps ("robots.txt": those
        robots.txt lists) and listings; with -v (1) also its home and how a listing's
        page N is spelled ("rel=next": by the page's <link rel=next>)."""
        columns = [self.name]
        if verbosity >= 0:
            tz = self.clean.timezone
            sitemaps = [*self.sitemaps, *(["robots.txt"] if self.robots_sitemaps else [])]
            columns += [", ".join(self.domains), str(tz) if tz is not None else "",
                        ", ".join(self.feeds), ", ".join(sitemaps), ", ".join(self.listings)]
        if verbosity >= 1:
            columns += [self.home, self.page_url or ("rel=next" if self.listings else "")]
        return [c or "-" for c in columns]

    def for_url(self, url: str, sitemaps: bool = False) -> SiteProfile:
        """This profile crawling from one URL the user gave: a listing (a tag archive, a
        homepage) or any document that discovery will sniff (a feed, a sitemap).
        `sitemaps`: also read the sitemaps that the host's robots.txt lists."""
        domains = self.domains or (urlsplit(url).netloc.lower().removeprefix("www."),)
        return dataclasses.replace(self, domains=domains, feeds=(), sitemaps=(),
                                   listings=(url,), home=self.home or urljoin(url, "/"),
                                   robots_sitemaps=sitemaps)


def from_module(module: ModuleType) -> SiteProfile:
    tz = getattr(module, "TIMEZONE_HOURS", None)
    return SiteProfile(
        name=module.NAME,
        domains=tuple(getattr(module, "DOMAINS", ())),
        feeds=tuple(getattr(module, "FEEDS", ())),
        article_url=re.compile(getattr(module, "ARTICLE_URL", r".")),
        clean=CleanOptions(
            prune_selectors=tuple(getattr(module, "PRUNE", ())),
            title_selector=getattr(module, "TITLE", ""),
            timezone=timezone(timedelta(hours=tz)) if tz is not None else None,
            site_name=getattr(module, "SITE_NAME", ""),
        ),
        home=getattr(module, "HOME", ""),
        listings=tuple(getattr(module, "LISTINGS", ())),
        page_url=getattr(module, "PAGE_URL", ""),
        sitemaps=tuple(getattr(module, "SITEMAPS", ())),
        robots_sitemaps=getattr(module, "ROBOTS_SITEMAPS", True),
        feed_autodiscovery=getattr(module, "FEED_AUTODISCOVERY", False),
    )


REGISTRY: dict[str, SiteProfile] = {
    p.name: p for p in map(from_module, (cnevpost, carnewschina, gasgoo, electrive, electrek,
                                         insideevs, technode, yicai))
}
GENERIC = from_module(generic)


def profile_for(url: str) -> SiteProfile:
    """The registered profile that owns this URL, else the generic one."""
    for profile in REGISTRY.values():
        if profile.owns(url):
            return profile
    return GENERIC
