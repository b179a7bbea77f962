"""Every registered site, parametrised over the registry (Fundus' parser tests): its fixture
pages, its URL filter, its selectors, and discovery and crawl against a copy of the site
served on 127.0.0.1. A site registered without a fixture or without URL examples fails."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import html as lxml_html

from scraper.app.cli import main as cli_main
from scraper.core.settings import Settings
from scraper.fetch.discover import Discoverer, Discovery
from scraper.fetch.fetcher import Fetcher
from scraper.fetch.state import State
from scraper.fetch.urls import url_key
from scraper.sites import GENERIC, REGISTRY, SiteProfile, profile_for
from tests.conftest import PAGES, html_of, load_expected
from tests.server import running

SITES = sorted(REGISTRY)

# Article paths in each site's shape ({n} makes many), and paths of the same site that are
# listings, feeds, tags, authors: never articles.
ARTICLE_SHAPES = {
    "cnevpost": "/2026/10/{n:02d}/nio-deliveries-update-{n}/",
    "carnewschina": "/2026/10/{n:02d}/byd-seal-06-launch-{n}/",
    "gasgoo": "/articles/ev/changan-plant-update-{n}-20458733119622184{n:02d}",
    "electrive": "/2026/10/{n:02d}/catl-cell-plant-{n}/",
    "electrek": "/2026/10/{n:02d}/rivian-r2-update-{n}/",
    "insideevs": "/news/7263{n:02d}/byd-factory-update-{n}/",
    "technode": "/2026/10/{n:02d}/zeekr-listing-{n}/",
    "yicai": "/news/toyota-plant-update-{n}",
}
MORE_ARTICLES = {
    "gasgoo": ["/new_energy/70039104.html", "/m/70034168.html",
               "/articles/news/2100179363541975041"],
    "insideevs": ["/features/725642/chinese-ev-makers-overseas-plants-map/",
                  "/reviews/712004/zeekr-001-review/"],
}
NOT_ARTICLES = {
    "cnevpost": ["/", "/page/2/", "/tag/nio/", "/tag/nio/page/3/", "/category/news/",
                 "/feed/", "/author/mia-zhou/", "/about-us/"],
    "carnewschina": ["/", "/page/2/", "/category/ev/", "/tag/byd/", "/feed/",
                     "/author/derek-lin/", "/contact/"],
    "gasgoo": ["/", "/articles/ev", "/articles/news", "/api/rss", "/rss", "/video",
               "/search", "/new_energy"],
    "electrive": ["/", "/page/2/", "/category/battery-tech/", "/tag/catl/", "/feed/",
                  "/newsletter/"],
    "electrek": ["/", "/page/2/", "/guides/rivian/", "/author/noahwhitfield/", "/feed/",
                 "/about/"],
    "insideevs": ["/", "/news/", "/news/make/byd/", "/news/category/business/",
                  "/rss/articles/all/", "/info/team/ilinca-moraru/", "/buyers-guide/"],
    "technode": ["/", "/tag/electric-vehicles/", "/tag/electric-vehicles/page/2/",
                 "/category/news-feed/", "/feed/", "/author/weichenxi/"],
    "yicai": ["/", "/news", "/news/", "/category/Auto", "/rss/news", "/opinion", "/about"],
}


def fixtures_of(name: str) -> list[Path]:
    return sorted((PAGES / name).glob("*.expected.json"))


def squash(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("name", SITES)
def test_each_site_has_a_fixture(name: str) -> None:
    pages = fixtures_of(name)
    assert pages, f"site {name} has no fixture page in fixtures/pages/{name}/"
    for page in pages:
        url = load_expected(page)["url"]
        assert profile_for(url) is REGISTRY[name]
        assert REGISTRY[name].is_article(url)


@pytest.mark.parametrize("name", SITES)
def test_article_urls(name: str) -> None:
    """The profile's URL filter, both ways: its articles, and its other pages."""
    profile = REGISTRY[name]
    articles = [ARTICLE_SHAPES[name].format(n=n) for n in (1, 2, 31)]
    for path in [*articles, *MORE_ARTICLES.get(name, [])]:
        assert profile.is_article(f"https://{profile.domains[0]}{path}"), path
    for path in NOT_ARTICLES[name]:
        assert not profile.is_article(f"https://{profile.domains[0]}{path}"), path


@pytest.mark.parametrize("name", SITES)
def test_profile_for_finds_the_site(name: str) -> None:
    profile = REGISTRY[name]
    path = ARTICLE_SHAPES[name].format(n=1)
    for domain in profile.domains:
        assert profile_for(f"https://{domain}{path}") is profile
        assert profile_for(f"https://WWW.{domain.upper()}{path}") is profile
        # A look-alike host is another site.
        assert profile_for(f"https://not{domain}{path}") is GENERIC
        assert profile_for(f"https://{domain}.example.org{path}") is GENERIC


def test_unknown_sites_use_the_generic_profile() -> None:
    assert profile_for("https://news.example.org/2024/01/02/story/") is GENERIC
    assert profile_for("https://www.cnevpost.com/2024/01/02/story/") is REGISTRY["cnevpost"]


@pytest.mark.parametrize("name", SITES)
def test_selectors_fit_the_fixture(name: str) -> None:
    """The title selector finds the headline; every prune selector finds something on the
    site's pages (none is dead) and nothing of the story."""
    profile = REGISTRY[name]
    unused = set(profile.clean.prune_selectors)
    for path in fixtures_of(name):
        want = load_expected(path)
        tree = lxml_html.fromstring(html_of(path).read_bytes())
        if profile.clean.title_selector:
            found = tree.cssselect(profile.clean.title_selector)
            assert found and squash(found[0].text_content()) == want["title"]
        for selector in profile.clean.prune_selectors:
            for element in tree.cssselect(selector):
                unused.discard(selector)
                pruned = squash(element.text_content())
                assert not [s for s in want["must_keep"] if s in pruned], selector
    assert unused == set()


# A copy of a site on 127.0.0.1, built from its (rebased) profile: every feed, sitemap and
# listing it declares, each naming one article; robots.txt names a sitemap whatever the
# profile says, so that a profile that does not read it is seen not to.


@dataclass
class Copy:
    profile: SiteProfile
    documents: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # path?query
    found_in: dict[str, str] = field(default_factory=dict)  # article URL -> its source

    def serve(self, url: str, ctype: str, body: str) -> None:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        self.documents[target] = (ctype, body.encode("utf-8"))


def feed(base: str, links: list[str]) -> str:
    when = format_datetime(datetime(2026, 10, 2, 8, 30, tzinfo=UTC), usegmt=True)
    items = "".join(f"<item><title>Story</title><link>{link}</link><pubDate>{when}</pubDate>"
                    "</item>" for link in links)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Copy</title><link>{base}/</link>{items}</channel></rss>")


def sitemap(links: list[str]) -> str:
    body = "".join(f"<url><loc>{link}</loc><lastmod>2026-10-02</lastmod></url>"
                   for link in links)
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns='
            f'"http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>')


def listing(links: list[str], next_page: str | None) -> str:
    more = f'<link rel="next" href="{next_page}">' if next_page else ""
    cards = "".join(f'<h2><a href="{link}">A story</a></h2>' for link in links)
    return f"<!doctype html><html><head>{more}</head><body>{cards}</body></html>"


def build_copy(name: str, base: str, article: Callable[[str], str]) -> Copy:
    """`name`'s site at `base`; `article(source)` is the path of the article that the
    source ("feed0", "sitemap0", "robots", "listing0-1", ...) lists."""
    profile = REGISTRY[name].rebased(base)
    copy = Copy(profile)
    noise = [f"{base}{path}" for path in NOT_ARTICLES[name][:3]]
    offsite = "https://elsewhere.example" + ARTICLE_SHAPES[name].format(n=99)

    def place(source: str, sources_read: bool) -> str:
        url = base + article(source)
        if sources_read:
            copy.found_in[url] = source
        return url

    for i, url in enumerate(profile.feeds):
        copy.serve(url, "application/rss+xml", feed(base, [place(f"feed{i}", True), *noise,
                                                           offsite]))
    for i, url in enumerate(profile.sitemaps):
        copy.serve(url, "application/xml", sitemap([place(f"sitemap{i}", True), offsite]))
    copy.serve(f"{base}/robots.txt", "text/plain",
               f"User-agent: *\nDisallow: /private/\n\nSitemap: {base}/robots-sitemap.xml\n")
    copy.serve(f"{base}/robots-sitemap.xml", "application/xml",
               sitemap([place("robots", profile.robots_sitemaps), offsite]))
    for i, start in enumerate(profile.listings):
        second = profile.page(start, 2) or start + ("&" if "?" in start else "?") + "p=2"
        rel_next = None if profile.page_url else second
        copy.serve(start, "text/html; charset=utf-8",
                   listing([place(f"listing{i}-1", True), *noise, offsite], rel_next))
        copy.serve(second, "text/html; charset=utf-8",
                   listing([place(f"listing{i}-2", True)], None))
    return copy


@contextmanager
def serve_copy(name: str, article: Callable[[str], str],
               pages: dict[str, bytes] | None = None) -> Iterator[Copy]:
    """Serve `name`'s copy (and `pages`, path -> HTML) on a free port of 127.0.0.1."""
    holder: list[Copy] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            found = holder[0].documents.get(self.path)
            if found is None and pages and self.path in pages:
                found = ("text/html; charset=utf-8", pages[self.path])
            status, (ctype, body) = (200, found) if found else (404, ("text/html", b"gone"))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with running(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as base:
        holder.append(build_copy(name, base, article))
        yield holder[0]


async def discover(profile: SiteProfile, state: State) -> tuple[Discovery, list[str]]:
    found, lines = Discovery(), []
    async with Fetcher(Settings(crawl_delay=0.0, retries=0), state) as fetcher:
        await Discoverer(profile, fetcher, state, found, None, 5, lines.append).run()
    return found, lines


@pytest.mark.parametrize("name", SITES)
def test_discovery_on_a_copy_of_the_site(name: str, tmp_path: Path) -> None:
    """The profile, moved to a copy of its site, finds the articles of every feed, sitemap
    and listing page it declares (page 2 spelled its way), and nothing else: not the
    listings, tags and off-site links beside them, nor what it does not read."""
    shape = ARTICLE_SHAPES[name]
    sources: list[str] = []

    def article(source: str) -> str:
        sources.append(source)
        return shape.format(n=len(sources))

    with serve_copy(name, article) as copy, State(tmp_path / "state.sqlite") as state:
        found, lines = asyncio.run(discover(copy.profile, state))
    assert lines == [] and found.failures == []
    assert sorted(found.candidates) == sorted(url_key(url) for url in copy.found_in)
    assert all(c.profile is copy.profile for c in found.candidates.values())
    declared = {"feed": bool(copy.profile.feeds), "sitemap": bool(copy.profile.sitemaps),
                "robots": copy.profile.robots_sitemaps,
                "listing": bool(copy.profile.listings)}
    read = {source.rstrip("0123456789-") for source in copy.found_in.values()}
    assert read == {kind for kind, used in declared.items() if used}


# --- the scheduled crawl with no SITE: every registered site, each on its own copy -------

FAST = "crawl_delay = 0.0\nbackoff = 0.05\nmax_backoff = 0.2\nretries = 1\n"


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_crawl_without_a_site_crawls_every_registered_site(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`crawl` with no SITE or URL runs every registered profile in one run: here each one
    moved to a copy of its site whose feeds, sitemaps and listings name its fixture page.
    Every page is cleaned with its own site's selectors (both ways) in one summary."""
    want = {name: load_expected(fixtures_of(name)[0]) for name in SITES}
    with ExitStack() as stack:
        for name in SITES:
            path = urlsplit(want[name]["url"]).path
            page = html_of(fixtures_of(name)[0]).read_bytes()
            copy = stack.enter_context(serve_copy(name, lambda _s, p=path: p, {path: page}))
            monkeypatch.setitem(REGISTRY, name, copy.profile)
        config = tmp_path / "fast.toml"
        config.write_text(FAST)
        code = cli_main(["crawl", "--out", str(tmp_path / "out"), "--config", str(config)])
    assert code == 0
    articles = {row["url"]: row for row in read_rows(tmp_path / "out" / "articles.csv")}
    assert sorted(articles) == sorted(w["url"] for w in want.values())
    for name, expected in want.items():
        row = articles[expected["url"]]
        assert (row["title"], row["published"]) == (expected["title"], expected["published"])
        text = squash(row["text"])
        assert [s for s in expected["must_keep"] if s not in text] == [], name
        assert [s for s in expected["must_not_contain"] if s in text] == [], name
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert summary.startswith(f"crawl: {len(SITES)} discovered (0 too old), "
                              f"{len(SITES)} fetched, 0 not modified, 0 failed, ")


def test_base_url_moves_one_site_only(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Not every registered site at once onto one origin, nor a URL's site."""
    for targets in ([], ["cnevpost", "electrek"], ["https://cnevpost.com/feed/"]):
        code = cli_main(["crawl", *targets, "--base-url", "http://127.0.0.1:9/",
                         "--out", str(tmp_path)])
        assert code == 2, targets
        assert "error: --base-url moves" in capsys.readouterr().err, targets
    assert not (tmp_path / "state.sqlite").exists()


def test_sites_lists_what_each_site_supports(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["sites"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == list(REGISTRY)
    for line, profile in zip(lines, REGISTRY.values(), strict=True):
        name, domains, tz, feeds, sitemaps, listings = line.split("\t")
        assert domains == ", ".join(profile.domains)
        assert tz == (str(profile.clean.timezone) if profile.clean.timezone else "-")
        assert feeds == (", ".join(profile.feeds) or "-")
        assert ("robots.txt" in sitemaps) == profile.robots_sitemaps
        assert listings == (", ".join(profile.listings) or "-")
    gasgoo = next(line for line in lines if line.startswith("gasgoo\t")).split("\t")
    assert gasgoo[2] == "UTC" and "api/rss?ClassId=7" in gasgoo[3]
    assert cli_main(["sites", "-q"]) == 0
    assert capsys.readouterr().out.split() == list(REGISTRY)
    assert cli_main(["sites", "-v"]) == 0
    verbose = capsys.readouterr().out.splitlines()
    assert verbose[0].split("\t")[6:] == ["https://cnevpost.com/", "{listing}page/{n}/"]
