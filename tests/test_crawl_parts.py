"""The crawl's parts on their own: URL keys, discovery documents, Retry-After, politeness
bookkeeping, and the fetcher's decoded-size cap against the shared test server."""

from __future__ import annotations

import asyncio
import gzip
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import urlsplit

import pytest

from scraper.core.errors import TooLargeError
from scraper.core.settings import Settings
from scraper.fetch import documents
from scraper.fetch.fetcher import Fetcher, retry_after
from scraper.fetch.politeness import Host, backoff, parse_robots
from scraper.fetch.urls import date_in_url, url_key
from scraper.sites import GENERIC, REGISTRY
from tests.server import Served


@pytest.mark.parametrize(("a", "b"), [
    ("HTTPS://WWW.CnEVPost.com/2026/01/02/x/", "https://cnevpost.com/2026/01/02/x"),
    ("https://cnevpost.com/2026/01/02/x/?utm_source=feed&utm_medium=rss#comments",
     "https://cnevpost.com/2026/01/02/x"),
    ("https://cnevpost.com/2026/01/02/x?fbclid=abc", "https://cnevpost.com/2026/01/02/x/"),
])
def test_url_variants_share_one_key(a: str, b: str) -> None:
    assert url_key(a) == url_key(b)


def test_url_keys_keep_what_matters() -> None:
    assert url_key("https://a.example/p?id=1") != url_key("https://a.example/p?id=2")
    assert url_key("http://127.0.0.1:8080/x/") == "http://127.0.0.1:8080/x"
    assert date_in_url("https://cnevpost.com/2026/11/03/a/") == datetime(2026, 11, 3,
                                                                        tzinfo=UTC)
    assert date_in_url("https://cnevpost.com/2026/13/03/a/") is None


def test_feed_items_keep_their_dates() -> None:
    rss = (b'<?xml version="1.0"?><rss version="2.0"><channel><item><link>/2026/11/03/a/'
           b"</link><pubDate>Tue, 03 Nov 2026 08:30:00 +0800</pubDate></item><item>"
           b"<link>https://x.example/b/</link></item></channel></rss>")
    doc = documents.read(rss, "https://x.example/feed/")
    assert doc.kind == "feed"
    assert doc.links[0] == documents.Link("https://x.example/2026/11/03/a/",
                                          datetime(2026, 11, 3, 0, 30, tzinfo=UTC))
    assert doc.links[1].published is None


def test_atom_feed_is_a_feed() -> None:
    atom = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry>'
            b'<link href="https://x.example/story-one/"/><updated>2026-11-02T10:00:00Z'
            b"</updated></entry></feed>")
    doc = documents.read(atom, "https://x.example/")
    assert doc.kind == "feed" and doc.links[0].url == "https://x.example/story-one/"
    assert doc.links[0].published == datetime(2026, 11, 2, 10, tzinfo=UTC)


def test_news_sitemap_gzipped_and_index() -> None:
    news = gzip.compress(
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news='
        b'"http://www.google.com/schemas/sitemap-news/0.9"><url><loc>https://x.example/a/'
        b"</loc><lastmod>2026-11-05</lastmod><news:news><news:publication_date>"
        b"2026-11-01T09:00:00+08:00</news:publication_date></news:news></url></urlset>")
    doc = documents.read(news, "https://x.example/")
    assert doc.kind == "sitemap"
    # The publication date wins over lastmod, and comes back in UTC.
    assert doc.links[0].published == datetime(2026, 11, 1, 1, tzinfo=UTC)
    index = documents.read(
        b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap>'
        b"<loc>/s1.xml</loc><lastmod>2026-10-31</lastmod></sitemap></sitemapindex>",
        "https://x.example/robots.txt")
    assert index.kind == "sitemapindex" and index.links[0].url == "https://x.example/s1.xml"


def test_listing_links_feeds_and_next() -> None:
    page = (b'<html><head><link rel="alternate" type="application/rss+xml" href="/feed/">'
            b'<link rel="next" href="/page/2/"></head><body><a href="/a/#c">A</a>'
            b'<a href="mailto:x@y">m</a><a href="/a/">again</a></body></html>')
    doc = documents.read(page, "https://x.example/")
    assert doc.kind == "html"
    assert [link.url for link in doc.links] == ["https://x.example/a/"]
    assert doc.feeds == ("https://x.example/feed/",)
    assert doc.next_page == "https://x.example/page/2/"


def test_retry_after_seconds_and_http_date() -> None:
    assert retry_after("2") == 2.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after(later) or 0) <= 31
    assert retry_after("soon") is None and retry_after(None) is None


def test_backoff_grows_with_jitter_and_a_cap() -> None:
    for attempt in range(6):
        wait = backoff(attempt, 1.0, 10.0)
        assert min(10.0, 2 ** attempt) / 2 <= wait <= min(10.0, 2 ** attempt)


def test_a_host_is_slowed_then_given_up() -> None:
    async def go() -> Host:
        host = Host("h", delay=0.0, concurrency=1, budget=3)
        host.strike(0.5)
        assert host.delay == 0.5 and not host.given_up
        host.strike(0.5)
        assert host.delay == 1.0
        host.strike(0.5)
        return host

    assert asyncio.run(go()).given_up


def test_robots_crawl_delay_raises_the_host_delay() -> None:
    async def go() -> Host:
        host = Host("h", delay=1.0, concurrency=1, budget=3)
        host.use_robots(parse_robots(b"User-agent: *\nCrawl-delay: 5\nDisallow: /private/\n"))
        return host

    host = asyncio.run(go())
    assert host.delay == 5.0
    assert not host.allows("https://h/private/x") and host.allows("https://h/2026/01/02/x/")


def test_profiles_declare_their_discovery() -> None:
    cnevpost = REGISTRY["cnevpost"]
    assert cnevpost.feeds == ("https://cnevpost.com/feed/",)
    assert cnevpost.page("https://cnevpost.com/tag/nio/", 3) == \
        "https://cnevpost.com/tag/nio/page/3/"
    moved = cnevpost.rebased("http://127.0.0.1:8080/")
    assert moved.feeds == ("http://127.0.0.1:8080/feed/",)
    site = GENERIC.for_url("https://news.example/feed.xml", sitemaps=True)
    assert site.domains == ("news.example",) and site.home == "https://news.example/"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_profile_declares_its_discovery_on_its_domains(name: str) -> None:
    """Each site has somewhere to discover from, all of it inside its fence; page N of a
    listing is spelled on the site; moved to another origin (--base-url), its documents
    keep their paths and queries (Gasgoo's feeds are /api/rss?ClassId=N) and its fence
    is that origin alone."""
    profile = REGISTRY[name]
    sources = (*profile.feeds, *profile.sitemaps, *profile.listings)
    assert sources or profile.robots_sitemaps
    for url in (*sources, profile.home):
        assert url.startswith("https://") and profile.owns(url), url
    assert not profile.owns("https://elsewhere.example/2026/01/02/x/")
    for start in profile.listings:
        third = profile.page(start, 3)
        assert profile.page(start, 1) == start
        assert (third is not None and third != start and profile.owns(third)) \
            if profile.page_url else third is None
    moved = profile.rebased("http://127.0.0.1:8080/")
    for old, new in zip(sources, (*moved.feeds, *moved.sitemaps, *moved.listings),
                        strict=True):
        was, now = urlsplit(old), urlsplit(new)
        assert (now.scheme, now.netloc, now.path, now.query) == \
            ("http", "127.0.0.1:8080", was.path, was.query)
        assert moved.owns(new) and not profile.owns(new)
    assert moved.home == "http://127.0.0.1:8080" + urlsplit(profile.home).path
    assert not moved.owns("http://127.0.0.1:9090/2026/01/02/x/")


def test_fetcher_caps_decoded_bytes(http_server: Served) -> None:
    async def go(path: str) -> None:
        settings = Settings(max_bytes=1_000_000, crawl_delay=0.0, retries=0)
        async with Fetcher(settings) as fetcher:
            await fetcher.get(http_server.base + path)

    with pytest.raises(TooLargeError):
        asyncio.run(go("/gzip-bomb"))
    with pytest.raises(TooLargeError):
        asyncio.run(go("/big"))


def test_the_run_loop_refuses_a_body_that_is_not_html(http_server: Served,
                                                     tmp_path) -> None:
    """The loop every command uses checks what the fetcher brought: a PDF is a not_html
    row, never a page handed to the cleaner."""
    from scraper.app.run import execute

    lines: list[str] = []
    settings = Settings(out_dir=tmp_path, crawl_delay=0.0, retries=0)
    summary = execute(settings, lines.append, None, inputs=[http_server.base + "/pdf"])
    assert [(f.stage, f.error) for f in summary.failures] == [("fetch", "not_html")]
    assert summary.results == [] and "PDF" in summary.failures[0].message
