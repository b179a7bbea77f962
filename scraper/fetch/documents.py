"""Discovery documents -> the links they hold, with the dates they give.

Pure functions over bytes: feeds (RSS/Atom through feedparser: `pubDate`, `updated`),
sitemaps (`<urlset>` with `lastmod` and `news:publication_date`, `<sitemapindex>`, gzip or
not) and HTML listing pages (`<a href>`, `<link rel=alternate>` feeds, `<link rel=next>`).
What a document is is sniffed from its bytes, so a URL given by the user can be any of them.
"""

from __future__ import annotations

import calendar
import gzip
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import feedparser
from lxml import etree
from lxml import html as lxml_html

from scraper.fetch.urls import absolute

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json",
              "application/rdf+xml")
ROOT_TAG = re.compile(rb"<(?:[\w-]+:)?(rss|feed|rdf|urlset|sitemapindex)\b", re.I)
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS_NS = "{http://www.google.com/schemas/sitemap-news/0.9}"


@dataclass(frozen=True)
class Link:
    """A URL a document points to, with the date it gives for it (None: no date) and the
    time it says the page last changed (a sitemap's `lastmod`, a feed entry's `updated`),
    which the revisit policy compares with the one recorded at the last fetch."""

    url: str
    published: datetime | None = None
    modified: datetime | None = None


@dataclass(frozen=True)
class Document:
    """What one discovery document holds."""

    kind: str  # feed | sitemap | sitemapindex | html
    links: tuple[Link, ...] = ()
    feeds: tuple[str, ...] = ()  # <link rel=alternate> feeds of an HTML page
    next_page: str | None = None  # <link rel=next> of an HTML page


def parse_date(text: str | None) -> datetime | None:
    """A sitemap/W3C date or datetime as aware UTC (a bare date is midnight UTC)."""
    if not text:
        return None
    text = text.strip().replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def sniff(content: bytes) -> str:
    """feed | sitemap | html, from the first kilobytes of the body."""
    match = ROOT_TAG.search(content[:4096])
    if not match:
        return "html"
    return "sitemap" if match[1].lower() in (b"urlset", b"sitemapindex") else "feed"


def read(content: bytes, base: str) -> Document:
    """Parse a discovery document of any kind."""
    if content[:2] == b"\x1f\x8b":  # a .xml.gz sitemap served as-is
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError):
            return Document("html")
    kind = sniff(content)
    if kind == "feed":
        return read_feed(content, base)
    if kind == "sitemap":
        return read_sitemap(content, base)
    return read_html(content, base)


def read_feed(content: bytes, base: str) -> Document:
    parsed = feedparser.parse(content)
    links = []
    for entry in parsed.entries:
        url = absolute(base, entry.get("link", ""))
        if url is None:
            continue
        # Only keys the entry really has: feedparser answers a missing `updated_parsed`
        # with `published_parsed` and a DeprecationWarning.
        keys = set(entry.keys())
        updated = struct_time_utc(entry["updated_parsed"] if "updated_parsed" in keys
                                  else None)
        published = struct_time_utc(entry["published_parsed"] if "published_parsed" in keys
                                    else None)
        links.append(Link(url, published or updated, updated))
    return Document("feed", tuple(links))


def struct_time_utc(stamp: time.struct_time | None) -> datetime | None:
    """feedparser's normalised UTC struct_time as an aware datetime (timegm reads it as UTC)."""
    return datetime.fromtimestamp(calendar.timegm(stamp), UTC) if stamp else None


def read_sitemap(content: bytes, base: str) -> Document:
    try:
        root = etree.fromstring(content, etree.XMLParser(recover=True, resolve_entities=False,
                                                         no_network=True))
    except etree.XMLSyntaxError:
        return Document("sitemap")
    if root is None:
        return Document("sitemap")
    index = etree.QName(root).localname == "sitemapindex"
    links = []
    for item in root:
        if not isinstance(item.tag, str):
            continue
        loc = item.findtext(f"{SITEMAP_NS}loc") or item.findtext("loc")
        url = absolute(base, loc or "")
        if url is None:
            continue
        lastmod = parse_date(item.findtext(f"{SITEMAP_NS}lastmod") or item.findtext("lastmod"))
        when = parse_date(item.findtext(f"{NEWS_NS}news/{NEWS_NS}publication_date")) or lastmod
        links.append(Link(url, when, lastmod))
    return Document("sitemapindex" if index else "sitemap", tuple(links))


def read_html(content: bytes, base: str) -> Document:
    try:
        tree = lxml_html.fromstring(content)
    except (etree.ParserError, ValueError):
        return Document("html")
    links, seen = [], set()
    for a in tree.iter("a"):
        url = absolute(base, a.get("href") or "")
        if url and url not in seen:
            seen.add(url)
            links.append(Link(url))
    feeds, next_page = [], None
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        href = absolute(base, link.get("href") or "")
        if href is None:
            continue
        if "alternate" in rel and (link.get("type") or "").lower() in FEED_TYPES:
            feeds.append(href)
        elif "next" in rel:
            next_page = href
    return Document("html", tuple(links), tuple(feeds), next_page)
