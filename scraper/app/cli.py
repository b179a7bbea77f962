"""Command line: one argument builder for every command, a thin shell over `execute()`.

    python -m scraper URL_OR_PATH ...     one-off: the given inputs, no discovery
    python -m scraper crawl [SITE|URL]    the scheduled crawl: discover, then fetch
    python -m scraper sites               the registered site profiles

Exit codes: 0 every input succeeded; 1 some failed (see failures.csv) or the output folder
could not be written; 2 bad usage or settings; 3 another crawl holds the lock.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from scraper import __version__
from scraper.core.errors import RunError, UsageError
from scraper.core.settings import Settings, load_settings
from scraper.fetch.local import is_url
from scraper.fetch.urls import redact_text
from scraper.sites import GENERIC, REGISTRY, SiteProfile, profile_for

EXIT_OK, EXIT_FAILURES = 0, 1

DESCRIPTION = """\
Fetch EV-industry news articles (http(s) URLs, local HTML files, file:// URLs), strip the
page chrome, extract companies, deals and production capacities, and merge them into CSV
tables in the output folder (articles, companies, deals, capacities, failures).
"""
EPILOG = """\
other commands:
  python -m scraper sites   list the registered site profiles
  python -m scraper crawl   the scheduled crawl of news sites (crawl --help)

exit codes: 0 every input succeeded; 1 some inputs failed (see failures.csv);
2 bad usage; 3 (crawl) another crawl is running.
"""
CRAWL_DESCRIPTION = ("Discover new and changed articles on news sites, fetch them politely "
                     "and incrementally, and merge their facts into the tables.")
CRAWL_EPILOG = """\
A SITE is a registered profile (python -m scraper sites); a URL (a homepage, a listing,
a feed or a sitemap) crawls that site, with its profile when one is registered, else the
generic one. With no SITE or URL, every registered site is crawled.

exit codes: 0 every URL succeeded; 1 some failed (see failures.csv); 2 bad usage;
3 another crawl is running (it holds the lock beside the state file).
"""
# Flags that are settings, by their `dest`; None means "not given" (a lower layer wins).
SETTING_FLAGS = ("out_dir", "model", "quiet", "format", "excel", "crawl_delay",
                 "concurrency", "max_pages", "state_file")


def build_parser(command: str) -> argparse.ArgumentParser:
    """The parser of one command ("oneoff", "crawl" or "sites"): its own arguments, then
    the options every run shares."""
    if command == "sites":
        return argparse.ArgumentParser(
            prog="python -m scraper sites",
            description="List the registered site profiles: name, domains, feeds.")
    if command == "crawl":
        p = argparse.ArgumentParser(prog="python -m scraper crawl", epilog=CRAWL_EPILOG,
                                    description=CRAWL_DESCRIPTION,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("targets", nargs="*", metavar="SITE|URL",
                       help="a registered site name or a URL (default: every registered "
                            "site)")
        p.add_argument("--since", metavar="DATE",
                       help="skip articles published before DATE (2026-11-01 or ISO 8601)")
        p.add_argument("--max-articles", type=int, metavar="N",
                       help="fetch at most N articles, newest first")
        p.add_argument("--max-pages", type=int, metavar="N",
                       help="listing pages / sitemaps to read per listing (default: 5)")
        p.add_argument("--state", dest="state_file", metavar="FILE",
                       help="crawl state (default: DIR/state.sqlite)")
        p.add_argument("--base-url", metavar="URL",
                       help="crawl a SITE's copy at another origin (a mirror, a test server)")
    else:
        p = argparse.ArgumentParser(prog="python -m scraper", description=DESCRIPTION,
                                    epilog=EPILOG,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("inputs", nargs="*", metavar="URL_OR_PATH",
                       help="article URL, local HTML file or file:// URL")
        p.add_argument("-i", "--input-file", metavar="FILE",
                       help="read more inputs from FILE, one per line ('-': standard "
                            "input; blank lines and # comments are skipped)")
    run_options(p)
    if command == "oneoff":
        p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def run_options(p: argparse.ArgumentParser) -> None:
    """The options of every run: output, model, settings, politeness."""
    p.add_argument("--out", dest="out_dir", metavar="DIR",
                   help="output folder for the tables (default: output/)")
    p.add_argument("--model", metavar="NAME",
                   help="spaCy pipeline to use (default: en_core_web_sm; env SCRAPER_MODEL)")
    p.add_argument("--config", metavar="FILE",
                   help="TOML settings file (default: ./scraper.toml if present)")
    p.add_argument("--quiet", action="store_const", const=True, default=None,
                   help="print only errors")
    p.add_argument("--format", metavar="{csv,xlsx,jsonl}",
                   help="table format (default: csv)")
    p.add_argument("--excel", action="store_const", const=True, default=None,
                   help="write CSV with a UTF-8 byte-order mark, for Excel")
    p.add_argument("--delay", dest="crawl_delay", metavar="SECONDS",
                   help="per-host delay between requests (default: 1; robots.txt may "
                        "raise it)")
    p.add_argument("--concurrency", metavar="N",
                   help="requests in flight across all hosts (default: 16)")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args[:1] in (["crawl"], ["sites"]) else "oneoff"
    if command != "oneoff":
        args = args[1:]
    parser = build_parser(command)
    ns = parser.parse_args(args)
    if command == "sites":
        return list_sites()
    try:
        settings = load_settings(flags_of(ns), config_path=ns.config)
        if command == "crawl":
            return crawl(ns, settings)
        inputs = [*ns.inputs, *read_inputs(ns.input_file)]
        if not inputs:
            parser.error("give at least one URL_OR_PATH, or --input-file")
        return oneoff(inputs, settings)
    except RunError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code


def flags_of(ns: argparse.Namespace) -> dict[str, object]:
    """The settings given on the command line (None where a flag was not given)."""
    return {name: getattr(ns, name, None) for name in SETTING_FLAGS}


def list_sites() -> int:
    for profile in REGISTRY.values():
        print(f"{profile.name}\t{', '.join(profile.domains)}\t{', '.join(profile.feeds)}")
    return EXIT_OK


def read_inputs(path: str | None) -> list[str]:
    """The inputs listed in a file (or on standard input for "-"); a byte-order mark left
    by an editor is not part of the first input."""
    if path is None:
        return []
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--input-file {path}: {exc}") from None
    lines = (line.strip().lstrip("\ufeff") for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def reporter(settings: Settings, bar: object = None) -> Callable[[str], None]:
    """Lines on stderr: errors always, the rest unless --quiet (or a progress bar shows).
    Each is one line, whatever it quotes (a newline in a file name cannot forge another),
    and names no password of a URL."""
    def report(line: str) -> None:
        if line.startswith(("error:", "warning:")) or (not settings.quiet and not bar):
            line = redact_text(line).replace("\r", "\\r").replace("\n", "\\n")
            print(line, file=sys.stderr)
    return report


def oneoff(inputs: Sequence[str], settings: Settings) -> int:
    from scraper.app.run import execute  # loads spaCy: --help and sites need not

    summary = execute(settings, reporter(settings), None, inputs=inputs)
    if not settings.quiet:
        print(f"{summary.oneoff_line()} -> {settings.out_dir}/", file=sys.stderr)
    return EXIT_OK if summary.ok else EXIT_FAILURES


def crawl(ns: argparse.Namespace, settings: Settings) -> int:
    """Run one crawl under the state file's lock; the exit code says how it went."""
    from scraper.fetch.lock import CrawlLock

    since = parse_since(ns.since)
    if ns.max_articles is not None and ns.max_articles < 1:
        raise UsageError(f"--max-articles {ns.max_articles}: give a number of 1 or more")
    profiles = profiles_for(ns.targets, ns.base_url)
    from scraper.app.run import execute, refuse_bad_model

    refuse_bad_model(settings)
    with CrawlLock(settings.state_path.with_name(settings.state_path.name + ".lock")):
        bar = progress_bar(settings)
        summary = execute(settings, reporter(settings, bar), settings.state_path,
                          profiles=profiles, since=since, max_articles=ns.max_articles,
                          progress=bar)
    if not settings.quiet:
        print(f"{summary.crawl_line()} -> {settings.out_dir}/", file=sys.stderr)
    return EXIT_FAILURES if summary.failures else EXIT_OK


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
