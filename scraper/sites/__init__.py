"""Site profiles: what the pipeline knows about one site, declared in one small module each.

A profile module sets module-level constants (see `cnevpost.py`); `REGISTRY` lists the
modules. Any site without a profile goes through `generic`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta, timezone
from types import ModuleType
from urllib.parse import urlparse

from extract.clean import CleanOptions
from scraper.sites import cnevpost, generic


@dataclass(frozen=True)
class SiteProfile:
    name: str
    domains: tuple[str, ...]
    feeds: tuple[str, ...]
    article_url: re.Pattern[str]
    clean: CleanOptions

    def owns(self, url: str) -> bool:
        host = (urlparse(url).hostname or "").lower().removeprefix("www.")
        return any(host == d or host.endswith("." + d) for d in self.domains)

    def is_article(self, url: str) -> bool:
        return bool(self.article_url.search(urlparse(url).path))


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
    )


REGISTRY: dict[str, SiteProfile] = {
    p.name: p for p in map(from_module, (cnevpost,))
}
GENERIC = from_module(generic)


def profile_for(url: str) -> SiteProfile:
    """The registered profile that owns this URL, else the generic one."""
    for profile in REGISTRY.values():
        if profile.owns(url):
            return profile
    return GENERIC
