"""A small news site in CnEVPost's shape, served on a loopback address for the crawl tests.

WordPress-like: /robots.txt (a Disallow and a Sitemap line), /feed/ (RSS 2.0, the 10 newest
items, pubDate in UTC), the homepage and /page/N/ (10 articles a page, newest first), a
sitemap index with monthly sitemaps, and 24 articles at /YYYY/MM/DD/slug/ generated from a
template with varied EV facts (written for this project). Every answer carries an ETag and
Last-Modified and honours If-None-Match. Tests can change an article, queue faults for a
path, make every answer a given status, and read the request log.

As WordPress does, an article's sitemap `lastmod` (and Last-Modified) is the time it last
changed: its publication, or the moment an edit (`extra`) was first served, or a time a test
sets in `touched`. `recent_site` builds a larger site dated back from now, with Yoast-style
sitemaps of `per_sitemap` URLs each, for the revisit policy's tests and bench.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.server import running

# (company, city, units a year, year, counterpart, deal sentence or "")
FACTS = [
    ("Nio", "Hefei", 300000, 2027, "JAC",
     "Nio has completed the acquisition of two plants from JAC in Hefei."),
    ("XPeng", "Zhaoqing", 200000, 2026, "", ""),
    ("Li Auto", "Changzhou", 500000, 2027, "Lifan",
     "Li Auto bought Lifan in 2018 to obtain a licence to build cars."),
    ("BYD", "Szeged", 150000, 2026, "", ""),
    ("Zeekr", "Ningbo", 300000, 2027, "", ""),
    ("Leapmotor", "Jinhua", 200000, 2026, "Stellantis",
     "Stellantis bought a 21 percent stake in Leapmotor in 2023."),
    ("Xiaomi", "Beijing", 150000, 2026, "BAIC", ""),
    ("Geely", "Hangzhou", 250000, 2027, "", ""),
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
START = datetime(2026, 10, 1, 6, 30, tzinfo=UTC)
PER_PAGE = 10
DISALLOWED_DAY = "2026/11/03"


@dataclass(frozen=True)
class Story:
    path: str  # /YYYY/MM/DD/slug/
    published: datetime
    title: str
    paragraphs: tuple[str, ...]


def story(i: int, when: datetime | None = None) -> Story:
    """The i-th article, published at `when` (default: every other day from START)."""
    company, city, units, year, _, deal = FACTS[i % len(FACTS)]
    if when is None:
        when = START + timedelta(days=2 * i + (1 if i == 16 else 0), hours=i % 5)
    slug = f"{company.lower().replace(' ', '-')}-{city.lower()}-update-{i:02d}"
    title = f"{company} plans more output in {city}, report {i}"
    paragraphs = [
        f"{company} said on {DAYS[i % 7]} that its {city} plant will have an annual "
        f"capacity of {units + 10000 * i:,} vehicles when the new line starts in {year}.",
        f"The company delivered {2000 + 137 * i:,} vehicles last month, up {5 + i} percent "
        "from a year earlier, according to figures it published on its website.",
        "Analysts expect the extra output to shorten waiting times for buyers in the "
        "domestic market, where price competition has been fierce all year.",
    ]
    if deal:
        paragraphs.insert(1, deal)
    path = f"/{when:%Y/%m/%d}/{slug}/"
    return Story(path, when, title, tuple(paragraphs))


@dataclass
class Site:
    """The site's content and the faults to inject; shared with the handler thread."""

    stories: list[Story] = field(default_factory=lambda: [story(i) for i in range(24)])
    base: str = ""
    extra: dict[str, str] = field(default_factory=dict)  # path -> sentence appended
    faults: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    always: int | None = None  # answer everything with this status
    touched: dict[str, datetime] = field(default_factory=dict)  # path -> a later lastmod
    edited: dict[tuple[str, str], datetime] = field(default_factory=dict)  # first served
    per_sitemap: int = 0  # >0: sitemaps of this many URLs (post-sitemapN.xml), not monthly
    disallow: str = DISALLOWED_DAY  # the day robots.txt forbids
    latency: float = 0.0
    log: list[tuple[float, str, dict[str, str], int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def newest(self) -> list[Story]:
        return sorted(self.stories, key=lambda s: s.published, reverse=True)

    def requests(self, prefix: str = "/") -> list[tuple[float, str, dict[str, str], int]]:
        with self.lock:
            return [r for r in self.log if r[1].startswith(prefix)]

    def render(self, path: str) -> tuple[int, str, str, datetime] | None:
        """(status, content type, body, last modified) for a path, None for 404."""
        if path == "/robots.txt":
            return 200, "text/plain", (f"User-agent: *\nDisallow: /{self.disallow}/\n\n"
                                       f"Sitemap: {self.base}/sitemap_index.xml\n"), START
        if path == "/feed/":
            return 200, "application/rss+xml; charset=UTF-8", self.feed(), START
        if path == "/sitemap_index.xml":
            return 200, "application/xml", self.sitemap_index(), START
        if path.startswith("/post-sitemap-"):
            return 200, "application/xml", self.sitemap(path[14:21]), START
        if self.per_sitemap and path.startswith("/post-sitemap"):
            n = int(path.removeprefix("/post-sitemap").removesuffix(".xml") or 0)
            return 200, "application/xml", self.sitemap_part(n), START
        if path == "/" or path.startswith("/page/"):
            n = 1 if path == "/" else int(path.split("/")[2])
            items = self.newest()[(n - 1) * PER_PAGE:n * PER_PAGE]
            return (200, "text/html; charset=UTF-8", self.listing(items, n), START) \
                if items else None
        for s in self.stories:
            if s.path == path:
                return 200, "text/html; charset=UTF-8", self.article(s), self.lastmod(s)
        return None

    def lastmod(self, s: Story) -> datetime:
        """When the article last changed: published, edited (first served), or touched."""
        times = [s.published]
        if s.path in self.extra:
            edit = (s.path, self.extra[s.path])
            with self.lock:
                times.append(self.edited.setdefault(edit, datetime.now(UTC)))
        if s.path in self.touched:
            times.append(self.touched[s.path])
        return max(times)

    def feed(self) -> str:
        items = "".join(
            f"<item><title>{escape(s.title)}</title><link>{self.base}{s.path}</link>"
            f"<pubDate>{format_datetime(s.published, usegmt=True)}</pubDate>"
            f"<description>A short teaser.</description></item>"
            for s in self.newest()[:10])
        return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
                f"<title>Fixture EV news</title><link>{self.base}/</link>{items}"
                "</channel></rss>")

    def sitemap_index(self) -> str:
        months = sorted({f"{s.published:%Y-%m}" for s in self.stories})
        body = "".join(f"<sitemap><loc>{self.base}/post-sitemap-{m}.xml</loc>"
                       f"<lastmod>{m}-28T00:00:00+00:00</lastmod></sitemap>" for m in months)
        if self.per_sitemap:  # Yoast: numbered parts, each dated by its newest change
            body = "".join(f"<sitemap><loc>{self.base}/post-sitemap{n}.xml</loc><lastmod>"
                           f"{max(self.lastmod(s) for s in part).isoformat()}</lastmod>"
                           f"</sitemap>" for n, part in enumerate(self.parts(), 1))
        return ('<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns='
                f'"http://www.sitemaps.org/schemas/sitemap/0.9">{body}</sitemapindex>')

    def sitemap(self, month: str) -> str:
        return self.urlset([s for s in self.stories if f"{s.published:%Y-%m}" == month])

    def parts(self) -> list[list[Story]]:
        stories = self.newest()
        return [stories[i:i + self.per_sitemap]
                for i in range(0, len(stories), self.per_sitemap)]

    def sitemap_part(self, n: int) -> str:
        parts = self.parts()
        return self.urlset(parts[n - 1] if 1 <= n <= len(parts) else [])

    def urlset(self, stories: list[Story]) -> str:
        body = "".join(f"<url><loc>{self.base}{s.path}</loc>"
                       f"<lastmod>{self.lastmod(s).isoformat()}</lastmod></url>"
                       for s in stories)
        return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns='
                f'"http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>')

    def listing(self, items: list[Story], n: int) -> str:
        links = "".join(f'<article><h2><a href="{s.path}">{escape(s.title)}</a></h2>'
                        f"<p>A short teaser.</p></article>" for s in items)
        more = f'<a class="next" href="/page/{n + 1}/">Older posts</a>'
        return (f'<!doctype html><html><head><title>EV news, page {n}</title>'
                f'<link rel="alternate" type="application/rss+xml" href="/feed/"></head>'
                f'<body><nav><a href="/">Home</a> <a href="/about/">About</a> '
                f'<a href="https://elsewhere.example/2026/10/01/off-site-story/">Partner</a>'
                f"</nav>{links}{more}</body></html>")

    def article(self, s: Story) -> str:
        paragraphs = list(s.paragraphs)
        if s.path in self.extra:
            paragraphs.append(self.extra[s.path])
        body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
        return (f'<!doctype html><html><head><meta charset="utf-8">'
                f"<title>{escape(s.title)} - CnEVPost</title>"
                f'<link rel="canonical" href="{self.base}{s.path}">'
                f'<meta property="article:published_time" content="{s.published.isoformat()}">'
                f'<meta property="og:site_name" content="CnEVPost"></head><body>'
                f'<nav><a href="/">Home</a></nav><article><h1 class="entry-title">'
                f'{escape(s.title)}</h1><div class="entry-content">{body}'
                f'<div class="danpian-xiangguan-post"><a href="/">Related: more news</a></div>'
                f"</div></article></body></html>")


def recent_site(count: int, spacing: timedelta = timedelta(hours=6),
                per_sitemap: int = 1000) -> Site:
    """`count` articles, the newest an hour old and each `spacing` older than the last,
    listed in sitemaps of `per_sitemap` URLs; robots.txt forbids no article's day."""
    now = datetime.now(UTC).replace(microsecond=0)
    stories = [story(i, now - timedelta(hours=1) - i * spacing) for i in range(count)]
    return Site(stories=stories, per_sitemap=per_sitemap, disallow="1999/01/01")


def make_handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            with site.lock:
                site.log.append((time.monotonic(), self.path, dict(self.headers.items()),
                                 status))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            if site.latency:
                time.sleep(site.latency)
            with site.lock:
                queued = site.faults.get(self.path)
                fault = queued.pop(0) if queued else None
            if site.always is not None:
                fault = (site.always, {})
            if fault is not None:
                self.reply(fault[0], b"<html><body>busy</body></html>",
                           {"Content-Type": "text/html", **fault[1]})
                return
            found = site.render(self.path)
            if found is None:
                self.reply(404, b"<html><body>not found</body></html>",
                           {"Content-Type": "text/html"})
                return
            status, ctype, text, modified = found
            body = text.encode("utf-8")
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            headers = {"Content-Type": ctype, "ETag": etag,
                       "Last-Modified": format_datetime(modified, usegmt=True)}
            if self.headers.get("If-None-Match") == etag:
                self.reply(304, b"", headers)
            else:
                self.reply(status, body, headers)

    return Handler


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-answer (a killed crawl) is expected, not news."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def serve_site(host: str = "127.0.0.1", site: Site | None = None) -> Iterator[Site]:
    """Serve a fixture site on `host` (any 127.0.0.0/8 address), on a free port."""
    site = site or Site()
    server = SiteServer((host, 0), make_handler(site))
    with running(server) as base:
        site.base = base
        yield site


if __name__ == "__main__":  # serve it by hand: python -m tests.crawlsite
    with serve_site() as s:
        print(s.base, flush=True)
        threading.Event().wait()
