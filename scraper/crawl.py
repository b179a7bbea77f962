"""`python -m scraper crawl`: the scheduled crawl's command line, a thin shell over
`scraper.crawler.Crawl`.

Exit codes: 0 every URL succeeded; 1 some failed (see failures.csv); 2 bad usage; 3 another
crawl holds the lock (cron's next run simply tries again).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from scraper.errors import UsageError
from scraper.fetch import is_url
from scraper.lock import CrawlLock, LockedError
from scraper.settings import Settings, load_settings
from scraper.sites import GENERIC, REGISTRY, SiteProfile, profile_for
from scraper.state import State

if TYPE_CHECKING:  # the crawler imports spaCy: not needed to find the lock taken
    from scraper.crawler import CrawlSummary

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3

EPILOG = """\
A SITE is a registered profile (python -m scraper sites); a URL (a homepage, a listing,
a feed or a sitemap) crawls that site, with its profile when one is registered, else the
generic one. With no SITE or URL, every registered site is crawled.

exit codes: 0 every URL succeeded; 1 some failed (see failures.csv); 2 bad usage;
3 another crawl is running (it holds the lock beside the state file).
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m scraper crawl", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Discover new and changed articles on news sites, fetch them politely "
                    "and incrementally, and merge their facts into the tables.")
    p.add_argument("targets", nargs="*", metavar="SITE|URL",
                   help="a registered site name or a URL (default: every registered site)")
    p.add_argument("--since", metavar="DATE",
                   help="skip articles published before DATE (2026-11-01 or ISO 8601)")
    p.add_argument("--max-articles", type=int, metavar="N",
                   help="fetch at most N articles, newest first")
    p.add_argument("--max-pages", type=int, metavar="N",
                   help="listing pages / sitemaps to read per listing (default: 5)")
    p.add_argument("--out", dest="out_dir", metavar="DIR",
                   help="output folder for the tables (default: output/)")
    p.add_argument("--state", dest="state_file", metavar="FILE",
                   help="crawl state (default: DIR/state.sqlite)")
    p.add_argument("--delay", dest="crawl_delay", type=float, metavar="SECONDS",
                   help="per-host delay between requests (default: 1; robots.txt may raise it)")
    p.add_argument("--concurrency", type=int, metavar="N",
                   help="requests in flight across all hosts (default: 16)")
    p.add_argument("--base-url", metavar="URL",
                   help="crawl a SITE's copy at another origin (a mirror, a test server)")
    p.add_argument("--model", metavar="NAME", help="spaCy pipeline (default: en_core_web_sm)")
    p.add_argument("--config", metavar="FILE", help="TOML settings file")
    p.add_argument("--quiet", action="store_const", const=True, default=None,
                   help="print only errors")
    return p


def parse_since(text: str | None) -> datetime | None:
    """--since as an aware UTC datetime (a bare date is its midnight UTC)."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {text!r}: expected a date like 2026-11-01") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def profiles_for(targets: Sequence[str], base_url: str | None) -> list[SiteProfile]:
    """The profiles to crawl: registered names, or URLs with their site's profile."""
    if not targets:
        targets = list(REGISTRY)
    profiles = []
    for target in targets:
        if target in REGISTRY:
            profile = REGISTRY[target]
            profiles.append(profile.rebased(base_url) if base_url else profile)
        elif is_url(target):
            profile = profile_for(target)
            profiles.append(profile.for_url(target, sitemaps=profile is GENERIC))
        else:
            raise UsageError(f"{target!r} is neither a registered site "
                             f"({', '.join(REGISTRY)}) nor an http(s) URL")
    return profiles


def main(argv: Sequence[str]) -> int:
    """Run one crawl; the exit code says how it went."""
    args = parser().parse_args(argv)
    try:
        flags = {k: getattr(args, k) for k in ("out_dir", "state_file", "crawl_delay",
                                                "concurrency", "max_pages", "model", "quiet")}
        settings = load_settings(flags, config_path=args.config)
        since = parse_since(args.since)
        profiles = profiles_for(args.targets, args.base_url)
        with CrawlLock(settings.state_path.with_name(settings.state_path.name + ".lock")):
            summary = crawl(profiles, settings, since, args.max_articles)
    except LockedError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_LOCKED
    except UsageError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    if not settings.quiet:
        print(f"{summary.line()} -> {settings.out_dir}/", file=sys.stderr)
    return EXIT_FAILURES if summary.failures else EXIT_OK


def crawl(profiles: Sequence[SiteProfile], settings: Settings, since: datetime | None,
          max_articles: int | None) -> CrawlSummary:
    """Crawl, then run the end-of-run hook that every run shares."""
    from scraper.crawler import Crawl
    from scraper.run import RunSummary, finish

    def report(line: str) -> None:
        if line.startswith("error:") or (not settings.quiet and not bar):
            print(line, file=sys.stderr)

    bar = progress_bar(settings)
    with State(settings.state_path) as state:
        try:
            summary = asyncio.run(Crawl(profiles, settings, state, since, max_articles,
                                        report, bar).run())
        finally:
            if bar:
                bar(None)
    finish(settings, RunSummary(results=summary.results, failures=summary.failures,
                                seconds=summary.seconds))
    return summary


def progress_bar(settings: Settings) -> Callable[[int | None], None] | None:
    """A tqdm bar on a terminal (never under cron or --quiet): n > 0 sets the total,
    -1 advances it, None closes it."""
    if settings.quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar = tqdm(total=0, unit="page", file=sys.stderr, leave=False)

    def update(n: int | None) -> None:
        if n is None:
            bar.close()
        elif n >= 0:
            bar.reset(total=n)
        else:
            bar.update(1)

    return update
